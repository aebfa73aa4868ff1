import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ConnectionState } from '../common/enums';
import { DateTimeScalar } from '../common/scalars';
import { effectiveState, type StateFields } from './effectiveState';
import type { ConnectionRow } from '../../database/entities';
import { policyFromColumns } from '../../engine';
import type { RequestContext } from '../common/context';
import { validPage } from '../common/paging';
import { Flow, Step } from '../flow/flow.type';
import type { ConnectionWithCounts } from './connectionReads';
import { Connection, ConnectionTestResult, RateLimit } from './connection.type';
import { CreateConnectionInput, SetConcurrencyInput, UpdateConnectionInput } from './connection.input';

/** A borrower reads its queue owner's policy: the owner's is the one in force. */
async function policyRow(c: Connection, ctx: RequestContext): Promise<ConnectionRow> {
  if (c.row.borrowFromId === null) return c.row;
  return (await ctx.loaders.connection.load(c.row.queueOwnerId)) ?? c.row;
}

/** Its own state, or its queue owner's when the owner is not ONLINE (effectiveState.ts); the owner through the loader. */
async function stateOf(c: Connection, ctx: RequestContext): Promise<StateFields> {
  if (c.row.queueOwnerId === c.id) return c.row;
  return effectiveState(c.row, await ctx.loaders.connection.load(c.row.queueOwnerId));
}

/**
 * A connection read with its queue's numbers (connectionReads.ts): the
 * request's loaders get both, so its fields (the policy of a borrower's
 * owner in the same list, queueSize, inFlight) read nothing more.
 */
function primed(ctx: RequestContext, { row, counts }: ConnectionWithCounts): Connection {
  ctx.loaders.connection.prime(row.id, row);
  ctx.loaders.queueCounts.prime(row.queueOwnerId, counts);
  return Connection.from(row);
}

async function loadConnection(ctx: RequestContext, id: string): Promise<Connection> {
  const row = await ctx.loaders.connection.load(id);
  if (!row) throw new Error(`connection ${id} vanished while being read`);
  return Connection.from(row);
}

@Resolver(() => Connection)
export class ConnectionResolver {
  @Query(() => [Connection], { description: 'Oldest first; `after` is the last id of the previous page; without `first`, all of them.' })
  async connections(
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => ID, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection[]> {
    const page = validPage('connection', first, after);
    return (await ctx.services.connections.list(page)).map((found) => primed(ctx, found));
  }

  @Query(() => Connection, { nullable: true })
  async connection(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Connection> {
    return primed(ctx, await ctx.services.connections.get(id));
  }

  @Authorized('MANAGE')
  @Mutation(() => Connection)
  async createConnection(@Arg('input') input: CreateConnectionInput, @Ctx() ctx: RequestContext): Promise<Connection> {
    return Connection.from(await ctx.services.connections.create(input));
  }

  @Authorized('MANAGE')
  @Mutation(() => Connection)
  async updateConnection(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: UpdateConnectionInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection> {
    return Connection.from(await ctx.services.connections.update(id, input));
  }

  @Authorized('MANAGE')
  @Mutation(() => Boolean, { description: 'CONFLICT while any step uses it or any connection borrows from it.' })
  deleteConnection(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.connections.delete(id);
  }

  @Authorized('MANAGE')
  @Mutation(() => ConnectionTestResult, { description: "Calls the connector's ping with the stored credentials." })
  testConnection(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ConnectionTestResult> {
    return ctx.services.connections.test(id);
  }

  @Authorized('MANAGE')
  @Mutation(() => Connection)
  async setConcurrency(@Arg('input') input: SetConcurrencyInput, @Ctx() ctx: RequestContext): Promise<Connection> {
    return Connection.from(
      await ctx.services.connections.setConcurrency({
        connectionId: input.connectionId,
        level: input.level ?? null,
        autoRecoverRateLimitErrors: input.autoRecoverRateLimitErrors,
        rateLimit: input.rateLimit ?? null,
      }),
    );
  }

  @Authorized('MANAGE')
  @Mutation(() => Connection, { description: 'Makes `connectionId` share the queue and concurrency of `fromConnectionId` (null: stop borrowing).' })
  async borrowConcurrency(
    @Arg('connectionId', () => ID) connectionId: string,
    @Arg('fromConnectionId', () => ID, { nullable: true }) fromConnectionId: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection> {
    return Connection.from(await ctx.services.connections.borrow(connectionId, fromConnectionId ?? null));
  }

  @Authorized('MANAGE')
  @Mutation(() => Connection, {
    description:
      'Holds the connection (its queue owner: the whole queue): calls running now\nfinish, nothing new of it starts, its messages keep their place. `reason`\nshows as stateReason.',
  })
  async pauseConnection(
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection> {
    return Connection.from(await ctx.services.connectionStates.pause(id, reason ?? null));
  }

  @Authorized('MANAGE')
  @Mutation(() => Connection, { description: 'Ends a pause; for an OFFLINE connection, probes it now.' })
  async resumeConnection(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Connection> {
    return Connection.from(await ctx.services.connectionStates.resume(id));
  }

  @FieldResolver(() => ConnectionState)
  async state(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<ConnectionState> {
    return (await stateOf(c, ctx)).state as ConnectionState;
  }

  @FieldResolver(() => DateTimeScalar)
  async stateChangedAt(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<Date> {
    return (await stateOf(c, ctx)).stateChangedAt;
  }

  @FieldResolver(() => String, { nullable: true })
  async stateReason(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<string | null> {
    return (await stateOf(c, ctx)).stateReason;
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true })
  async nextProbeAt(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<Date | null> {
    return (await stateOf(c, ctx)).nextProbeAt;
  }

  @FieldResolver(() => Int, { nullable: true })
  async concurrencyLevel(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<number | null> {
    const { mode } = policyFromColumns(await policyRow(c, ctx));
    return mode.kind === 'burst' ? null : mode.kind === 'fixed' ? mode.level : mode.levelInUse;
  }

  @FieldResolver(() => Boolean)
  async autoRecoverRateLimitErrors(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<boolean> {
    return (await policyRow(c, ctx)).autoRecover;
  }

  @FieldResolver(() => Int, { nullable: true })
  async targetConcurrencyLevel(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<number | null> {
    const { mode } = policyFromColumns(await policyRow(c, ctx));
    return mode.kind === 'autoRecover' ? mode.target : null;
  }

  @FieldResolver(() => RateLimit, { nullable: true })
  async rateLimit(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<RateLimit | null> {
    return policyFromColumns(await policyRow(c, ctx)).rateLimit;
  }

  @FieldResolver(() => Connection, { nullable: true })
  async borrowConcurrencyFrom(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<Connection | null> {
    return c.row.borrowFromId === null ? null : loadConnection(ctx, c.row.borrowFromId);
  }

  @FieldResolver(() => [Connection])
  async borrowers(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<Connection[]> {
    return (await ctx.loaders.borrowers.load(c.id)).map(Connection.from);
  }

  @FieldResolver(() => Connection)
  async queueOwner(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<Connection> {
    return c.row.queueOwnerId === c.id ? c : loadConnection(ctx, c.row.queueOwnerId);
  }

  @FieldResolver(() => Int)
  async queueSize(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<number> {
    return (await ctx.loaders.queueCounts.load(c.row.queueOwnerId)).queueSize;
  }

  @FieldResolver(() => Int)
  async inFlight(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<number> {
    return (await ctx.loaders.queueCounts.load(c.row.queueOwnerId)).inFlight;
  }

  @FieldResolver(() => [Step])
  async steps(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<Step[]> {
    return (await ctx.loaders.stepsOfConnection.load(c.id)).map(Step.from);
  }

  @FieldResolver(() => [Flow], { description: 'Flows with at least one step on this connection.' })
  async flows(@Root() c: Connection, @Ctx() ctx: RequestContext): Promise<Flow[]> {
    return (await ctx.loaders.flowsOfConnection.load(c.id)).map(Flow.from);
  }
}
