import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../common/context';
import { validPage } from '../common/paging';
import { JobStatus } from '../common/enums';
import { Connection } from '../connection/connection.type';
import { Job, ReplaceConnectionPayload } from '../job/job.type';
import { CreateFlowInput, StepInput, UpdateFlowInput, UpdateStepInput } from './flow.input';
import { Flow, Step } from './flow.type';

@Resolver(() => Flow)
export class FlowResolver {
  @Query(() => [Flow], { description: 'Oldest first; paged like connections.' })
  async flows(
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => ID, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Flow[]> {
    return (await ctx.services.flows.list(validPage('flow', first, after))).map(Flow.from);
  }

  @Query(() => Flow, { nullable: true })
  async flow(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Flow> {
    // Read with its steps and their connections, which its fields then find in the loaders.
    const { flow, steps } = await ctx.services.flows.getWithSteps(id);
    ctx.loaders.stepsOfFlow.prime(flow.id, steps.map((s) => s.step));
    for (const { connection } of steps) ctx.loaders.connection.prime(connection.id, connection);
    return Flow.from(flow);
  }

  @Authorized('MANAGE')
  @Mutation(() => Flow)
  async createFlow(@Arg('input') input: CreateFlowInput, @Ctx() ctx: RequestContext): Promise<Flow> {
    return Flow.from(await ctx.services.flows.create(input.name, input.steps ?? []));
  }

  @Authorized('MANAGE')
  @Mutation(() => Flow)
  async updateFlow(@Arg('id', () => ID) id: string, @Arg('input') input: UpdateFlowInput, @Ctx() ctx: RequestContext): Promise<Flow> {
    return Flow.from(await ctx.services.flows.update(id, input.name));
  }

  @Authorized('MANAGE')
  @Mutation(() => Boolean)
  deleteFlow(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.flows.delete(id);
  }

  @Authorized('MANAGE')
  @Mutation(() => Step, { description: 'Inserts at `position` (default: at the end).' })
  async addStep(
    @Arg('flowId', () => ID) flowId: string,
    @Arg('input') input: StepInput,
    @Arg('position', () => Int, { nullable: true }) position: number | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Step> {
    return Step.from(await ctx.services.flows.addStep(flowId, input, position));
  }

  @Authorized('MANAGE')
  @Mutation(() => Step)
  async updateStep(@Arg('id', () => ID) id: string, @Arg('input') input: UpdateStepInput, @Ctx() ctx: RequestContext): Promise<Step> {
    return Step.from(await ctx.services.flows.updateStep(id, input));
  }

  @Authorized('MANAGE')
  @Mutation(() => Boolean)
  removeStep(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.flows.removeStep(id);
  }

  @Authorized('MANAGE')
  @Mutation(() => ReplaceConnectionPayload, {
    description: 'Points every step of the flow that uses `connectionId` at `newConnectionId` and cancels every queued or running job of that flow.',
  })
  async replaceConnection(
    @Arg('flowId', () => ID) flowId: string,
    @Arg('connectionId', () => ID) connectionId: string,
    @Arg('newConnectionId', () => ID) newConnectionId: string,
    @Ctx() ctx: RequestContext,
  ): Promise<ReplaceConnectionPayload> {
    const result = await ctx.services.flows.replaceConnection(flowId, connectionId, newConnectionId);
    return Object.assign(new ReplaceConnectionPayload(), {
      flow: Flow.from(result.flow),
      replacedSteps: result.replacedSteps.map(Step.from),
      canceledJobs: result.canceledJobs.map(Job.from),
    });
  }

  @FieldResolver(() => [Step], { description: 'Steps in order.' })
  async steps(@Root() flow: Flow, @Ctx() ctx: RequestContext): Promise<Step[]> {
    return (await ctx.loaders.stepsOfFlow.load(flow.id)).map(Step.from);
  }

  @FieldResolver(() => [Connection], { description: 'Distinct connections used by the steps, in step order.' })
  async connections(@Root() flow: Flow, @Ctx() ctx: RequestContext): Promise<Connection[]> {
    const ids = [...new Set((await ctx.loaders.stepsOfFlow.load(flow.id)).map((s) => s.connectionId))];
    const rows = await ctx.loaders.connection.loadMany(ids);
    return rows.flatMap((r) => (r && !(r instanceof Error) ? [Connection.from(r)] : []));
  }

  @FieldResolver(() => [Job])
  async jobs(
    @Root() flow: Flow,
    @Arg('status', () => JobStatus, { nullable: true }) status: JobStatus | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number,
    @Ctx() ctx: RequestContext,
  ): Promise<Job[]> {
    return (await ctx.services.jobs.list({ flowId: flow.id, status, first })).map(Job.from);
  }

  @FieldResolver(() => Int, { description: 'OPEN errors of all its jobs.' })
  openErrorCount(@Root() flow: Flow, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.loaders.openErrorsOfFlow.load(flow.id);
  }
}

@Resolver(() => Step)
export class StepResolver {
  @FieldResolver(() => Flow)
  async flow(@Root() step: Step, @Ctx() ctx: RequestContext): Promise<Flow> {
    const row = await ctx.loaders.flow.load(step.flowId);
    if (!row) throw new Error(`flow ${step.flowId} vanished while being read`);
    return Flow.from(row);
  }

  @FieldResolver(() => Connection)
  async connection(@Root() step: Step, @Ctx() ctx: RequestContext): Promise<Connection> {
    const row = await ctx.loaders.connection.load(step.connectionId);
    if (!row) throw new Error(`connection ${step.connectionId} vanished while being read`);
    return Connection.from(row);
  }
}
