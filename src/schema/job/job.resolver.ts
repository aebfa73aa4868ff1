import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../common/context';
import { JobErrorState, JobStatus } from '../common/enums';
import { validFirst } from './job.service';
import { Flow } from '../flow/flow.type';
import { Job, JobError } from './job.type';

@Resolver(() => Job)
export class JobResolver {
  @Query(() => Job, { nullable: true })
  async job(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Job> {
    return Job.from(await ctx.services.jobs.get(id));
  }

  @Query(() => [Job])
  async jobs(
    @Arg('flowId', () => ID, { nullable: true }) flowId: string | null,
    @Arg('status', () => JobStatus, { nullable: true }) status: JobStatus | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number,
    @Ctx() ctx: RequestContext,
  ): Promise<Job[]> {
    return (await ctx.services.jobs.list({ flowId, status, first })).map(Job.from);
  }

  @Authorized('MANAGE')
  @Mutation(() => Job, { description: "Starts a job; its messages join the connections' queues behind those already there." })
  async runFlow(@Arg('flowId', () => ID) flowId: string, @Ctx() ctx: RequestContext): Promise<Job> {
    return Job.from(await ctx.services.jobs.run(flowId));
  }

  @Authorized('MANAGE')
  @Mutation(() => Job, { description: 'Cancels a queued or running job: its queued messages are dropped, running ones aborted.' })
  async cancelJob(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Job> {
    return Job.from(await ctx.services.jobs.cancel(id));
  }

  @FieldResolver(() => Flow)
  async flow(@Root() job: Job, @Ctx() ctx: RequestContext): Promise<Flow> {
    const row = await ctx.loaders.flow.load(job.flowId);
    if (!row) throw new Error(`flow ${job.flowId} vanished while being read`);
    return Flow.from(row);
  }

  @FieldResolver(() => [JobError], { description: 'In occurrence order; `state` narrows them.' })
  async errors(
    @Root() job: Job,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number,
    @Arg('state', () => JobErrorState, { nullable: true }) state: JobErrorState | null,
    @Ctx() ctx: RequestContext,
  ): Promise<JobError[]> {
    const rows = await ctx.loaders.errorsOfJob(state, validFirst(first, 50)).load(job.id);
    return rows.map(JobError.from);
  }
}
