/**
 * The Subscription type: queueSize and jobUpdated, fed by LiveUpdates.
 * Each subscriber gets the state at once on subscribing, then an event only
 * when something it shows changed, at most one per connection per 100 ms.
 */
import { Arg, Ctx, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { JobRow } from '../../database/entities';
import type { RequestContext } from '../common/context';
import { isWellFormedId, notFound } from '../common/errors';
import { QueueStats } from '../connection/connection.type';
import { Job } from '../job/job.type';
import { EventStream } from './eventStream';
import type { LiveUpdates, QueueSnapshot } from './liveUpdates';

const FINAL_STATUSES = new Set(['COMPLETED', 'FAILED', 'CANCELED']);

function live(ctx: RequestContext): LiveUpdates {
  if (!ctx.services.live) throw new Error('subscriptions are served by API processes only');
  return ctx.services.live;
}

async function queueStream(ctx: RequestContext, requested: string[] | null | undefined): Promise<EventStream<QueueSnapshot>> {
  const hub = live(ctx);
  // Without the argument: every connection, those created later included.
  const ids = requested == null ? null : [...new Set(requested)];
  const bad = ids?.find((id) => !isWellFormedId(id));
  if (bad !== undefined) throw notFound('connection', bad);
  const initial = await hub.queueSnapshots(ids);
  const missing = ids?.find((id) => !initial.some((s) => s.connectionId === id));
  if (missing !== undefined) throw notFound('connection', missing);

  const shown = new Map<string, string>();
  const unwatch: (() => void)[] = [];
  const stream = new EventStream<QueueSnapshot>(() => unwatch.forEach((u) => u()));
  const emit = (snapshot: QueueSnapshot, always = false): void => {
    // Every field but `at`: a pause or resume with equal numbers is an event too.
    const key = `${snapshot.queueSize}/${snapshot.inFlight}/${snapshot.concurrencyLevel}/${snapshot.queueOwnerId}/${snapshot.state}`;
    if (!always && shown.get(snapshot.connectionId) === key) return;
    shown.set(snapshot.connectionId, key);
    stream.push(snapshot);
  };
  for (const snapshot of initial) emit(snapshot, true);
  if (ids === null) unwatch.push(hub.watchAllQueues((s) => emit(s)));
  else for (const id of ids) unwatch.push(hub.watchQueue(id, (s) => emit(s)));
  return stream;
}

async function jobStream(ctx: RequestContext, jobId: string): Promise<EventStream<JobRow>> {
  const hub = live(ctx);
  const initial = await ctx.services.jobs.get(jobId);
  let shown = '';
  const unwatch: (() => void)[] = [];
  const stream = new EventStream<JobRow>(() => unwatch.forEach((u) => u()));
  const emit = (job: JobRow): void => {
    const key = `${job.status}/${job.recordsExported}/${job.recordsSucceeded}/${job.recordsFailed}/${job.openErrorCount}`;
    if (key === shown) return;
    shown = key;
    stream.push(job);
    // The final state is the last event: the subscription completes.
    if (FINAL_STATUSES.has(job.status)) stream.end();
  };
  unwatch.push(hub.watchJob(initial.id, emit));
  emit(initial);
  return stream;
}

@Resolver()
export class SubscriptionResolver {
  @Subscription(() => QueueStats, {
    description:
      'A QueueStats for each connection (all connections when the argument is omitted) at once on subscribing, then whenever its queueSize, inFlight, concurrencyLevel or state changes, at most every 100 ms per connection, and always once after the queue drains.',
    subscribe: ({ args, context }) => queueStream(context as RequestContext, args.connectionIds as string[] | null),
  })
  queueSize(
    @Root() snapshot: QueueSnapshot,
    @Arg('connectionIds', () => [ID], { nullable: true }) _connectionIds: string[] | null,
  ): QueueStats {
    return Object.assign(new QueueStats(), snapshot);
  }

  @Subscription(() => Job, {
    description: "The job's state on subscribing, then on every change of status or counts (coalesced, at most every 100 ms).",
    subscribe: ({ args, context }) => jobStream(context as RequestContext, args.jobId as string),
  })
  jobUpdated(@Root() job: JobRow, @Arg('jobId', () => ID) _jobId: string, @Ctx() _ctx: RequestContext): Job {
    return Job.from(job);
  }
}
