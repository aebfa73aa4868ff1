/** The served GraphQL schema, built from the feature folders' resolvers. */
import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { authChecker } from '../auth/authChecker';
import { DateTimeScalar } from './common/scalars';
import { ConnectionResolver } from './connection/connection.resolver';
import { QueueStats } from './connection/connection.type';
import { ConnectorResolver } from './connector/connector.resolver';
import { FlowResolver, StepResolver } from './flow/flow.resolver';
import { JobErrorResolver, JobResolver } from './job/job.resolver';
import { TokenResolver } from './token/token.resolver';

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
    ],
    // Streamed by the queueSize subscription; listed so that clients see it before that lands.
    orphanedTypes: [QueueStats],
    authChecker,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: false,
  });
}
