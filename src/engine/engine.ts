/**
 * The queue engine of one process: a dispatcher per queue owner with work,
 * woken by NOTIFY (polling as the fallback), leases kept alive by a heartbeat,
 * expired leases of dead processes put back, outcomes group-committed.
 *
 * Beside it, each in its own module: where NOTIFYs go
 * (notificationRouting.ts), what calls say about rate limits
 * (rateLimitRecording.ts), and the API's share of the process
 * (apiShareBudget.ts). Its SQL goes through the store (store.ts).
 *
 * Lifecycle: created → running (start) → draining (stop: no new claims,
 * running calls get the grace period) → stopped (what is left is aborted and
 * released to the queue, attempt refunded, for another process or the next
 * start).
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { API_SHARE_CHECK_MS, ApiShareBudget, type WaitingApiRequests } from './apiShareBudget';
import { CompletionBatch } from './completionBatch';
import { ConnectionHealth } from './connectionHealth';
import { QueueDispatcher } from './dispatcher';
import { EngineRegistration } from './engineRegistration';
import { JobPlans } from './jobPlans';
import type { ClaimedMessage } from './message';
import { ENGINE_LISTENS, NotificationRouting } from './notificationRouting';
import { Notifications } from './notifications';
import { RateLimitRecording } from './rateLimitRecording';
import { RecentCancels } from './recentCancels';
import { DEFAULT_RETRY_POLICY } from './retryPolicy';
import { runMessage } from './runMessage';
import type { EngineOptions } from './engineOptions';
import { messageStartedFor } from './startOnEnqueue';
import * as store from './store';
import { OperatorLog } from './operatorLog';

export type { WaitingApiRequests } from './apiShareBudget';
export type { EngineOptions } from './engineOptions';

type Phase = 'created' | 'running' | 'draining' | 'stopped';

const RELEASE_TIMEOUT_MS = 5000;

export class QueueEngine {
  private phase: Phase = 'created';
  private readonly dispatchers = new Map<string, QueueDispatcher>();
  private readonly pool: Pool;
  private readonly plans: JobPlans;
  private readonly completions: CompletionBatch;
  private readonly notifications: Notifications;
  /** Lets enqueues start messages for this engine (startOnEnqueue.ts). */
  private readonly registration: EngineRegistration;
  private timers: NodeJS.Timeout[] = [];
  private readonly canceledJobs = new RecentCancels();
  private readonly rateLimits: RateLimitRecording;
  /** The API's share (ROLE=all): bounds the calls in flight across all queues while API requests are slow. */
  private readonly apiShare: ApiShareBudget;
  private readonly operatorLog: OperatorLog;
  /** The outage detector and the probes of OFFLINE connections. */
  private readonly health: ConnectionHealth;
  /** Log lines still reading names: written before the pool closes. */
  private readonly logging = new Set<Promise<void>>();

  constructor(private readonly options: EngineOptions) {
    this.pool = new Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      application_name: 'sluice-engine',
      // The engine's commits need not wait for the WAL flush: a commit that a
      // PostgreSQL crash loses is a claim or an outcome not recorded, and the
      // message simply runs again (delivery is at-least-once, with the same
      // idempotency key). Never corruption, never a lost record; and it takes
      // an fsync off every claim and every completion batch.
      options: '-c synchronous_commit=off',
    });
    this.pool.on('error', (error) => options.logger.warn({ err: error }, 'engine pool connection error'));
    this.apiShare = new ApiShareBudget(options.apiShare, {
      logger: options.logger,
      callsInFlight: () => this.callsInFlight(),
      wake: (owner) => this.dispatcherFor(owner)?.wake(),
      running: () => this.phase === 'running',
    });
    this.rateLimits = new RateLimitRecording({
      pool: this.pool,
      logger: options.logger,
      metrics: options.metrics,
      levelChanged: (owner) => this.dispatchers.get(owner)?.wake(),
      logLevelChange: (owner, change) => this.log(this.operatorLog.levelChanged(owner, change)),
      stopped: () => this.phase === 'stopped',
    });
    const routing = new NotificationRouting(this.pool, {
      queueMayHaveWork: (owner) => this.dispatcherFor(owner)?.wake(),
      stateChanged: (owner) => this.dispatcherFor(owner)?.notified(),
      started: (payload) => {
        const message = messageStartedFor(this.registration.engineId, payload);
        if (message) this.startedOnEnqueue(message);
      },
      jobCanceled: (jobId) => {
        this.canceledJobs.remember(jobId);
        for (const d of this.dispatchers.values()) d.jobCanceled(jobId);
      },
    });
    this.plans = new JobPlans(this.pool, options.cipher);
    this.operatorLog = new OperatorLog(this.pool, options.logger, options.metrics);
    const retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.health = new ConnectionHealth(
      {
        offlineAfterFailedCalls: options.offlineAfterFailedCalls ?? 5,
        maxProbeBackoffMs: options.probeMaxBackoffMs ?? 120000,
        maxAttempts: retry.maxAttempts,
        leaseMs: options.leaseMs,
      },
      {
        pool: this.pool,
        plans: this.plans,
        connectors: options.connectors,
        logger: options.logger,
        startProbe: (message) => this.dispatcherFor(message.queueOwnerId)?.startProbe(message) ?? false,
        wake: (owner) => this.dispatcherFor(owner)?.wake(),
        backOnline: (owner) => void this.rateLimits.backOnline(owner),
        stateChanged: (connectionId, to, reason, detail) => {
          options.connectionStateChanges?.inc({ connection: connectionId, to, reason });
          this.log(this.operatorLog.stateChanged(connectionId, to, reason, detail));
        },
        running: () => this.phase === 'running',
      },
    );
    this.completions = new CompletionBatch(this.pool, options.logger, (result, outcomes) => {
      for (const o of outcomes) options.metrics.record(o);
      this.log(this.operatorLog.committed(outcomes, result.finishedJobs, (jobId) => this.plans.plan(jobId)));
      // Their slots count until their dispatchers drop them, after this.
      this.apiShare.slotsFreedSoon();
      for (const jobId of result.finishedJobs) this.plans.forget(jobId);
      // Follow-ups may have gone to any queue here: wake those with work.
      for (const owner of result.busyOwners) this.dispatcherFor(owner)?.wake();
      this.rateLimits.committed(outcomes);
      // A retry waits out its backoff in the queue: wake its queue when that is over, not at the next poll.
      for (const o of outcomes) {
        if (o.kind === 'retry') setTimeout(() => this.dispatcherFor(o.message.queueOwnerId)?.wake(), o.delayMs + 5).unref();
      }
    }, () => this.callsInFlight() > this.completions.size);
    this.notifications = new Notifications(options.databaseUrl, [...ENGINE_LISTENS], routing.route, options.logger, () =>
      this.registration.listenLost(),
    );
    this.registration = new EngineRegistration(this.pool, this.notifications, randomUUID(), options.leaseMs, options.logger);
  }

  async start(): Promise<void> {
    if (this.phase !== 'created') throw new Error(`the engine is ${this.phase}`);
    this.phase = 'running';
    await this.notifications.start();
    await this.registration.start();
    const pollMs = this.options.pollMs ?? 1000;
    const every = (ms: number, task: () => Promise<unknown>, what: string): void => {
      const timer = setInterval(() => {
        task().catch((error: unknown) => this.options.logger.warn({ err: error }, `${what} failed`));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(pollMs, () => this.poll(), 'polling for work');
    every(Math.max(100, Math.floor(this.options.leaseMs / 3)), () => this.heartbeat(), 'lease heartbeat');
    every(Math.max(100, Math.min(5000, Math.floor(this.options.leaseMs / 2))), () => store.requeueExpired(this.pool), 'requeueing expired leases');
    every(API_SHARE_CHECK_MS, async () => this.apiShare.check(), 'checking the API share');
    every(this.apiShare.windowMs, async () => this.apiShare.checkWaitingRequests(), 'checking waiting API requests');
    this.health.start();
    await this.poll();
  }

  /** A message an enqueue started for this engine: a stopping engine gives it back to its queue. */
  private startedOnEnqueue(message: ClaimedMessage): void {
    const dispatcher = this.phase === 'running' ? this.dispatcherFor(message.queueOwnerId) : this.dispatchers.get(message.queueOwnerId);
    if (dispatcher) dispatcher.startedOnEnqueue(message);
    else if (this.phase === 'draining') void this.completions.add({ kind: 'release', message });
  }

  private dispatcherFor(ownerId: string): QueueDispatcher | undefined {
    if (this.phase !== 'running') return undefined;
    let dispatcher = this.dispatchers.get(ownerId);
    if (!dispatcher) {
      const { options } = this;
      dispatcher = new QueueDispatcher(ownerId, {
        pool: this.pool,
        engineId: this.registration.engineId,
        leaseMs: options.leaseMs,
        maxInFlight: options.maxInFlightPerQueue ?? 200,
        logger: options.logger,
        run: (message, controller) =>
          runMessage(
            { plans: this.plans, connectors: options.connectors, retry: options.retry ?? DEFAULT_RETRY_POLICY, logger: options.logger },
            message,
            controller,
          ),
        complete: (outcome, successor) => this.completions.add(outcome, successor),
        beforeRelease: async (called) => {
          const outcome = await this.health.beforeRelease(called);
          const owner = outcome.message.queueOwnerId;
          if (outcome.kind === 'retry' && outcome.rateLimited) await this.rateLimits.rateLimited(owner, outcome.rateLimited);
          if (outcome.kind === 'done' && outcome.slowDownMs) await this.rateLimits.slowDown(owner, outcome.slowDownMs);
          return outcome;
        },
        onStarted: (message) => options.metrics.started(message),
        isCanceled: (jobId) => this.canceledJobs.has(jobId),
        budgetRoom: () => this.apiShare.roomFor(ownerId),
      });
      this.dispatchers.set(ownerId, dispatcher);
    }
    return dispatcher;
  }

  /**
   * One GraphQL request over HTTP took `durationMs` (ROLE=all: the API and
   * this engine share the process, the machine and the database).
   */
  apiRequestServed(durationMs: number): void {
    this.apiShare.requestServed(durationMs);
  }

  /** The API's requests not answered yet: looked at every API share window, so that a backlog cuts the budget before its requests end. */
  watchApiRequests(waiting: WaitingApiRequests): void {
    this.apiShare.watch(waiting);
  }

  /** The engine's budget of calls in flight across all queues; null: no bound (the API is idle or fast). */
  apiShareBudget(): number | null {
    return this.apiShare.current;
  }

  private callsInFlight(): number {
    let n = 0;
    for (const d of this.dispatchers.values()) n += d.inFlight;
    return n;
  }

  private async poll(): Promise<void> {
    if (this.phase !== 'running') return;
    for (const owner of await store.queuesWithWork(this.pool)) this.dispatcherFor(owner)?.wake();
    for (const d of this.dispatchers.values()) if (d.holdsPrefetch) d.wake();
  }

  private async heartbeat(): Promise<void> {
    const leased = [...this.dispatchers.values()].flatMap((d) => d.leased());
    await Promise.all([store.extendLeases(this.pool, leased, this.options.leaseMs), this.health.heartbeat()]);
  }

  /** Messages waiting, per queue owner, across all processes (for /metrics). */
  async queuedByOwner(): Promise<Map<string, number>> {
    if (this.phase === 'stopped') return new Map();
    return store.queuedPerOwner(this.pool);
  }

  /** Messages of this process running now, per queue owner. */
  inFlight(): Map<string, number> {
    return new Map([...this.dispatchers].map(([owner, d]) => [owner, d.inFlight]));
  }

  /**
   * Stops claiming, lets running calls finish for up to `graceMs`, then aborts
   * the rest (they go back to their queue) and waits for every outcome to commit.
   */
  /** Keeps a log line that is still reading names until it is written (stop waits for it). */
  private log(line: Promise<void>): void {
    const tracked = line.catch((error: unknown) => this.options.logger.warn({ err: error }, 'writing a log line failed'));
    this.logging.add(tracked);
    void tracked.finally(() => this.logging.delete(tracked));
  }

  async stop(graceMs: number): Promise<void> {
    if (this.phase !== 'running') return;
    this.phase = 'draining';
    // First, so that no enqueue starts anything more for this engine.
    await this.registration.stop();
    for (const d of this.dispatchers.values()) d.stop();
    const drained = Promise.all([...this.dispatchers.values()].map((d) => d.idle()));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace'>((resolve) => (timer = setTimeout(() => resolve('grace'), graceMs)));
    if ((await Promise.race([drained, graceOver])) === 'grace') {
      this.options.logger.warn({ graceMs }, 'grace period over: releasing running messages');
      for (const d of this.dispatchers.values()) d.abort('shutdown');
      // If even the releases cannot commit (the database is gone), stop anyway:
      // their leases expire and the messages run again elsewhere (at-least-once).
      await Promise.race([drained, new Promise((r) => setTimeout(r, RELEASE_TIMEOUT_MS))]);
    }
    clearTimeout(timer);
    await this.health.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.rateLimits.stop();
    await Promise.all([...this.logging]);
    await this.notifications.stop();
    await this.pool.end();
    this.phase = 'stopped';
  }
}
