/** The served GraphQL schema, built from the feature folders' resolvers. */
import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { authChecker } from '../auth/authChecker';
import { DateTimeScalar } from './common/scalars';
import { ConnectionResolver } from './connection/connection.resolver';
import { ConnectorResolver } from './connector/connector.resolver';
import { FlowResolver, StepResolver } from './flow/flow.resolver';
import { JobResolver } from './job/job.resolver';
import { JobErrorResolver } from './jobError/jobError.resolver';
import { TokenResolver } from './token/token.resolver';
import { SubscriptionResolver } from './live/subscription.resolver';

export function buildSluiceSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [
      TokenResolver,
      ConnectorResolver,
      ConnectionResolver,
      FlowResolver,
      StepResolver,
      JobResolver,
      JobErrorResolver,
      SubscriptionResolver,
    ],
    authChecker,
    // type-graphql insists on a PubSub once there is a subscription, but every
    // subscription here brings its own `subscribe` (fed by PostgreSQL through
    // LiveUpdates), so this one is never asked for anything.
    pubSub: {
      publish: () => {
        throw new Error('Sluice publishes through PostgreSQL NOTIFY, not type-graphql PubSub');
      },
      subscribe: () => {
        throw new Error('Sluice subscriptions bring their own subscribe function');
      },
    },
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: false,
  });
}
