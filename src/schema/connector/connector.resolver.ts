import { Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../common/context';
import type { StepKind } from '../common/enums';
import { Connector } from './connector.type';

@Resolver(() => Connector)
export class ConnectorResolver {
  @Query(() => [Connector])
  connectors(@Ctx() ctx: RequestContext): Connector[] {
    const registry = ctx.services.connectors;
    return registry.list().map((c) =>
      Object.assign(new Connector(), {
        type: c.type,
        displayName: c.displayName,
        version: c.version,
        supportedStepKinds: registry.supportedStepKinds(c) as StepKind[],
        configSchema: c.configSchema,
        credentialsSchema: c.credentialsSchema,
      }),
    );
  }
}
