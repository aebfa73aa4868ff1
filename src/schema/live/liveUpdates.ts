/**
 * The live numbers behind the subscriptions, shared by every subscriber in
 * this process. PostgreSQL tells every process what changed (NOTIFY
 * sluice_queue with a queue owner, sluice_job with a job id, sent by whichever
 * process made the change); this hub reads the new numbers once per 100 ms at
 * most, however many subscribers watch, and hands each subscriber what changed.
 *
 * A claim sends no NOTIFY (it would serialize every claim on PostgreSQL's
 * notify lock), so watched queues are also re-read every REFRESH_MS; that
 * poll is also the fallback while the LISTEN connection is down.
 */
import type { DataSource } from 'typeorm';
import { JOB_CHANNEL, Notifications, QUEUE_CHANNEL, START_CHANNEL } from '../../engine';
import type { Logger } from '../../logger';
import { JobRow, type ConnectionStateName } from '../../database/entities';

/** At least this many ms from one read's events to the next read: at most one event per connection per this many ms. */
export const COALESCE_MS = 100;
const REFRESH_MS = 500;

export interface QueueSnapshot {
  connectionId: string;
  queueOwnerId: string;
  queueSize: number;
  inFlight: number;
  concurrencyLevel: number | null;
  /** Its own state, or its queue owner's when the owner is not ONLINE (as connection/effectiveState.ts). */
  state: ConnectionStateName;
  at: Date;
}

type QueueListener = (snapshot: QueueSnapshot) => void;
type JobListener = (job: JobRow) => void;

export class LiveUpdates {
  private readonly queueListeners = new Map<string, Set<QueueListener>>();
  /** Subscribers to every connection, including those created after they subscribed. */
  private readonly allQueuesListeners = new Set<QueueListener>();
  private readonly jobListeners = new Map<string, Set<JobListener>>();
  private readonly dirtyJobs = new Set<string>();
  private queuesDirty = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private lastFlush = 0;
  private flushing = false;
  private stopped = false;
  private refreshTimer: NodeJS.Timeout | null = null;
  private readonly notifications: Notifications;

  constructor(
    private readonly db: DataSource,
    databaseUrl: string,
    private readonly logger: Logger,
  ) {
    this.notifications = new Notifications(
      databaseUrl,
      // sluice_start: a message an enqueue started at once (its queue's inFlight changed, and no sluice_queue said so).
      [QUEUE_CHANNEL, START_CHANNEL, JOB_CHANNEL],
      (channel, payload) => {
        if (channel === JOB_CHANNEL && this.jobListeners.has(payload)) this.dirtyJobs.add(payload);
        else if (channel === QUEUE_CHANNEL || channel === START_CHANNEL) this.queuesDirty = this.watchingQueues();
        else return;
        this.scheduleFlush();
      },
      logger,
    );
  }

  async start(): Promise<void> {
    await this.notifications.start();
    this.refreshTimer = setInterval(() => {
      if (!this.watchingQueues() && this.jobListeners.size === 0) return;
      this.queuesDirty = this.watchingQueues();
      for (const id of this.jobListeners.keys()) this.dirtyJobs.add(id);
      this.scheduleFlush();
    }, REFRESH_MS);
    this.refreshTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.notifications.stop();
  }

  private watchingQueues(): boolean {
    return this.queueListeners.size > 0 || this.allQueuesListeners.size > 0;
  }

  /** Every connection's snapshots, those of connections created later included. */
  watchAllQueues(listener: QueueListener): () => void {
    this.allQueuesListeners.add(listener);
    return () => void this.allQueuesListeners.delete(listener);
  }

  watchQueue(connectionId: string, listener: QueueListener): () => void {
    return this.add(this.queueListeners, connectionId, listener);
  }

  watchJob(jobId: string, listener: JobListener): () => void {
    return this.add(this.jobListeners, jobId, listener);
  }

  /** The numbers of these connections' queues now (null: of every connection). */
  async queueSnapshots(connectionIds: string[] | null): Promise<QueueSnapshot[]> {
    if (connectionIds !== null && connectionIds.length === 0) return [];
    // Counts per queue owner, then one row per connection: borrowers report their owner's queue.
    // A change of state NOTIFYs sluice_queue (src/engine/sql/connectionStateChanges.ts), so it is read here with the numbers.
    type SnapshotRow = { id: string; owner: string; level: number | null; state: ConnectionStateName; queued: string; running: string; at: Date };
    const rows: SnapshotRow[] = await this.db.query(
      `WITH watched AS (SELECT id, queue_owner_id, state FROM connection WHERE $1::uuid[] IS NULL OR id = ANY($1::uuid[])),
            counts AS (  -- the tally (src/engine/sql/queueTally.ts), not a count over the queue
              SELECT t.queue_owner_id, sum(t.queued) AS queued, sum(t.running) AS running
                FROM queue_tally t
               WHERE t.queue_owner_id IN (SELECT queue_owner_id FROM watched)
               GROUP BY t.queue_owner_id)
       SELECT w.id, w.queue_owner_id AS owner, o.concurrency_level AS level,
              CASE WHEN o.state <> 'ONLINE' THEN o.state ELSE w.state END AS state,
              coalesce(c.queued, 0) AS queued, coalesce(c.running, 0) AS running, clock_timestamp() AS at
         FROM watched w
         JOIN connection o ON o.id = w.queue_owner_id
         LEFT JOIN counts c ON c.queue_owner_id = w.queue_owner_id`,
      [connectionIds],
    );
    return rows.map((r) => ({
      connectionId: r.id,
      queueOwnerId: r.owner,
      queueSize: Number(r.queued),
      inFlight: Number(r.running),
      concurrencyLevel: r.level,
      state: r.state,
      at: r.at,
    }));
  }

  private add<L>(map: Map<string, Set<L>>, key: string, listener: L): () => void {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) map.delete(key);
    };
  }

  private scheduleFlush(): void {
    // One flush at a time, the next COALESCE_MS after the previous one has
    // delivered: timing from when a read started let two events of a
    // connection arrive less than 100 ms apart (a read that waited for a pool
    // connection delivered late, the next on time; test/live/queueSize.test.ts
    // saw an average gap of 99.6 ms), and overlapping reads could deliver an
    // older snapshot after a newer one. What changes meanwhile stays dirty
    // and is flushed once this one is done.
    if (this.flushTimer || this.flushing || this.stopped) return;
    const wait = Math.max(0, this.lastFlush + COALESCE_MS - Date.now());
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flushing = true;
      this.flush()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'reading live updates failed'))
        .finally(() => {
          this.flushing = false;
          this.lastFlush = Date.now();
          if (this.queuesDirty || this.dirtyJobs.size > 0) this.scheduleFlush();
        });
    }, wait);
  }

  private async flush(): Promise<void> {
    if (this.queuesDirty) {
      this.queuesDirty = false;
      const ids = this.allQueuesListeners.size > 0 ? null : [...this.queueListeners.keys()];
      for (const snapshot of await this.queueSnapshots(ids)) {
        for (const listener of this.queueListeners.get(snapshot.connectionId) ?? []) listener(snapshot);
        for (const listener of this.allQueuesListeners) listener(snapshot);
      }
    }
    if (this.dirtyJobs.size > 0) {
      const ids = [...this.dirtyJobs];
      this.dirtyJobs.clear();
      const jobs = await this.db.getRepository(JobRow).findByIds(ids);
      for (const job of jobs) for (const listener of this.jobListeners.get(job.id) ?? []) listener(job);
    }
  }
}
