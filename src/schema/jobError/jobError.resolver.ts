import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { JsonRecord } from '../../connectors/sdk';
import type { RequestContext, Viewer } from '../common/context';
import { badUserInput, unauthenticated } from '../common/errors';
import { JSONScalar } from '../common/scalars';
import { Step } from '../flow/flow.type';
import { Job } from '../job/job.type';
import { JobErrorFilter } from './jobError.input';
import type { RetrySelection } from './jobError.service';
import { JobError } from './jobError.type';

const RETRY_DESCRIPTION = `
Sends the records of OPEN errors again, each from the step where it failed,
through that step's connection queue (behind what is queued there) and on
through the steps after it; each job is RUNNING again until its retried
records are done; the errors become RETRIED. An error of a source step
retries its page, and the export carries on from there. Exactly one of
\`ids\` and \`filter\` (a filter means its OPEN errors). \`record\`, allowed with
exactly one id, replaces the record that is sent. A retry carries the same
Idempotency-Key as the first attempt unless \`record\` was given.
BAD_USER_INPUT for an error that is not OPEN; CONFLICT for one whose step no
longer exists. Returns the errors retried: all of them, however many the
filter matched (at most 1,000 ids).
`.trim();

function viewerOf(ctx: RequestContext): Viewer {
  if (!ctx.viewer) throw unauthenticated();
  return ctx.viewer;
}

@Resolver(() => JobError)
export class JobErrorResolver {
  @Query(() => [JobError], { description: 'Newest first; `after` is the last id of the previous page.' })
  async jobErrors(
    @Arg('filter', () => JobErrorFilter, { nullable: true }) filter: JobErrorFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number,
    @Arg('after', () => ID, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<JobError[]> {
    return (await ctx.services.jobErrors.list(filter, first, after)).map(JobError.from);
  }

  @Authorized('MANAGE')
  @Mutation(() => [JobError], { description: RETRY_DESCRIPTION })
  async retryJobErrors(
    @Arg('ids', () => [ID], { nullable: true }) ids: string[] | null,
    @Arg('filter', () => JobErrorFilter, { nullable: true }) filter: JobErrorFilter | null,
    @Arg('record', () => JSONScalar, { nullable: true }) record: unknown,
    @Ctx() ctx: RequestContext,
  ): Promise<JobError[]> {
    const viewer = viewerOf(ctx);
    // An argument left out arrives as undefined, one given as null as null: both are "not given".
    const givenIds = ids ?? null;
    const givenFilter = filter ?? null;
    if ((givenIds === null) === (givenFilter === null)) throw badUserInput('give exactly one of ids and filter');
    const replacement = record === null || record === undefined ? null : (record as JsonRecord);
    if (givenFilter !== null && replacement !== null) throw badUserInput('record replaces the record of one error: give it with one id, not a filter');
    const selection: RetrySelection = givenIds !== null ? { ids: givenIds, record: replacement } : { filter: givenFilter as JobErrorFilter };
    const rows = await ctx.services.jobErrors.retry(selection, viewer.tokenName);
    return rows.map(JobError.from);
  }

  @Authorized('MANAGE')
  @Mutation(() => [JobError], { description: 'Marks OPEN errors RESOLVED (handled outside). BAD_USER_INPUT for one that is not OPEN.' })
  async resolveJobErrors(@Arg('ids', () => [ID]) ids: string[], @Ctx() ctx: RequestContext): Promise<JobError[]> {
    return (await ctx.services.jobErrors.resolve(ids, viewerOf(ctx).tokenName)).map(JobError.from);
  }

  @FieldResolver(() => Job)
  async job(@Root() error: JobError, @Ctx() ctx: RequestContext): Promise<Job> {
    const row = await ctx.loaders.job.load(error.jobId);
    if (!row) throw new Error(`job ${error.jobId} vanished while being read`);
    return Job.from(row);
  }

  @FieldResolver(() => Step, { nullable: true })
  async step(@Root() error: JobError, @Ctx() ctx: RequestContext): Promise<Step | null> {
    if (error.stepId === null) return null;
    const row = await ctx.loaders.step.load(error.stepId);
    return row ? Step.from(row) : null;
  }

  @FieldResolver(() => JobError, { nullable: true, description: 'The error whose retry this one is, if any.' })
  async retryOf(@Root() error: JobError, @Ctx() ctx: RequestContext): Promise<JobError | null> {
    if (error.retryOfId === null) return null;
    const row = await ctx.loaders.jobError.load(error.retryOfId);
    return row ? JobError.from(row) : null;
  }
}
