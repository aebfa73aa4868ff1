/**
 * The queue engine of one process: a dispatcher per queue owner with work,
 * woken by NOTIFY (polling as the fallback), leases kept alive by a heartbeat,
 * expired leases of dead processes put back, outcomes group-committed.
 *
 * Lifecycle: created → running (start) → draining (stop: no new claims,
 * running calls get the grace period) → stopped (what is left is aborted and
 * released to the queue, attempt refunded, for another process or the next
 * start).
 */
import { randomUUID } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import type { CredentialCipher } from '../auth/credentialCipher';
import type { ConnectorRegistry } from '../connectors/registry';
import type { Logger } from '../logger';
import { CompletionBatch } from './completionBatch';
import { QueueDispatcher } from './dispatcher';
import type { EngineMetrics } from './engineMetrics';
import { ApiShareLimit, DEFAULT_API_SHARE, type ApiShareOptions } from './limit/apiShare';

/** The API's requests not answered yet (src/http/requestsInProgress.ts). */
export interface WaitingApiRequests {
  readonly count: number;
  oldestWaitMs(now: number): number;
}
import { JobPlans } from './jobPlans';
import { Notifications } from './notifications';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retryPolicy';
import { runMessage } from './runMessage';
import { QUEUE_CHANNEL, START_CHANNEL } from './sql/enqueueMessages';
import { EngineRegistration } from './engineRegistration';
import { messageStartedFor } from './startOnEnqueue';
import { CANCEL_CHANNEL } from './sql/cancelChannel';
import { extendLeases, requeueExpired } from './sql/leases';
import { queuesWithWork } from './sql/queuesWithWork';
import { RecentCancels } from './recentCancels';
import { queuedPerOwner } from './sql/queueTally';
import { recordRateLimits, type RateLimitSample } from './sql/recordRateLimits';
import { SuccessReports } from './successReports';
import { OperatorLog } from './operatorLog';
import type { Outcome, RateLimitedCall } from './outcome';
import type { ClaimedMessage } from './message';

export interface EngineOptions {
  databaseUrl: string;
  connectors: ConnectorRegistry;
  cipher: CredentialCipher;
  logger: Logger;
  metrics: EngineMetrics;
  /** How long a claimed message belongs to this process without a heartbeat. */
  leaseMs: number;
  /** How often to look for work that no NOTIFY announced. */
  pollMs?: number;
  /** The most messages of one queue this process runs at once. */
  maxInFlightPerQueue?: number;
  retry?: RetryPolicy;
  poolSize?: number;
  /** The API's share of this process (limit/apiShare.ts); tests make it react faster. */
  apiShare?: ApiShareOptions;
}

type Phase = 'created' | 'running' | 'draining' | 'stopped';

const RELEASE_TIMEOUT_MS = 5000;
/** How often the budget is looked at without a sample: how soon an idle API gives the engine its full speed back. */
const API_SHARE_CHECK_MS = 250;

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
  private readonly ownBackends = new Set<number>();
  /** Successes of queues below their auto-recovery target, until they are reported. */
  private readonly successReports = new SuccessReports();
  private successReportTimer: NodeJS.Timeout | null = null;
  private readonly canceledJobs = new RecentCancels();
  /** The API's share (ROLE=all): bounds the calls in flight across all queues while API requests are slow. */
  private readonly apiShare: ApiShareLimit;
  private budget: number | null = null;
  private waitingApiRequests: WaitingApiRequests | null = null;
  /** Dispatchers that found no room in the budget: woken when room comes back. */
  private readonly heldByBudget = new Set<string>();
  private heldWakeScheduled = false;
  private levelAdjustments: Promise<void> = Promise.resolve();
  private reportingSuccesses = false;
  /** Rate limits per queue owner waiting for the recording in flight to end (recordRateLimit). */
  private readonly unrecordedRateLimits = new Map<string, { calls: RateLimitedCall[]; recorded: (() => void)[] }>();
  private readonly recordingRateLimits = new Set<string>();
  private readonly operatorLog: OperatorLog;
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
    this.apiShare = new ApiShareLimit(options.apiShare);
    // Our own commits' NOTIFYs come back to us; the dispatchers concerned were
    // already woken directly, and a second wake is a claim that finds nothing.
    // The backend's pid came with the connection (BackendKeyData), so no query
    // is needed: one here would race the pool handing the client to its caller.
    this.pool.on('connect', (client) => {
      const pid = (client as unknown as { processID: number | null }).processID;
      if (pid !== null) this.ownBackends.add(pid);
    });
    this.plans = new JobPlans(this.pool, options.cipher);
    this.operatorLog = new OperatorLog(this.pool, options.logger, options.metrics);
    this.completions = new CompletionBatch(this.pool, options.logger, (result, outcomes) => {
      for (const o of outcomes) options.metrics.record(o);
      this.log(this.operatorLog.committed(outcomes, result.finishedJobs, (jobId) => this.plans.plan(jobId)));
      // Their slots count until their dispatchers drop them, after this.
      this.wakeHeldSoon();
      for (const jobId of result.finishedJobs) this.plans.forget(jobId);
      // Follow-ups may have gone to any queue here: wake those with work.
      for (const owner of result.busyOwners) this.dispatcherFor(owner)?.wake();
      // The committed outcomes freed their slots: a dispatcher holding reservations may start them now.
      for (const owner of new Set(outcomes.map((o) => o.message.queueOwnerId))) this.dispatchers.get(owner)?.outcomesCommitted();
      this.adjustLevels(outcomes);
      // A retry waits out its backoff in the queue: wake its queue when that is over, not at the next poll.
      for (const o of outcomes) {
        if (o.kind === 'retry') setTimeout(() => this.dispatcherFor(o.message.queueOwnerId)?.wake(), o.delayMs + 5).unref();
      }
    }, () => this.callsInFlight() > this.completions.size);
    this.notifications = new Notifications(
      options.databaseUrl,
      [QUEUE_CHANNEL, START_CHANNEL, CANCEL_CHANNEL],
      (channel, payload, senderPid) => {
        if (channel === QUEUE_CHANNEL) {
          if (!this.ownBackends.has(senderPid)) this.dispatcherFor(payload)?.wake();
        } else if (channel === START_CHANNEL) {
          const message = messageStartedFor(this.registration.engineId, payload);
          if (message) this.startedOnEnqueue(message);
        } else if (channel === CANCEL_CHANNEL) {
          this.canceledJobs.remember(payload);
          for (const d of this.dispatchers.values()) d.abort('canceled', payload);
        }
      },
      options.logger,
      () => this.registration.listenLost(),
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
    every(Math.max(100, Math.min(5000, Math.floor(this.options.leaseMs / 2))), () => requeueExpired(this.pool), 'requeueing expired leases');
    every(API_SHARE_CHECK_MS, async () => this.budgetIs(this.apiShare.budget(performance.now())), 'checking the API share');
    every(this.options.apiShare?.windowMs ?? DEFAULT_API_SHARE.windowMs, async () => this.checkWaitingApiRequests(), 'checking waiting API requests');
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
        leaseMs: options.leaseMs,
        maxInFlight: options.maxInFlightPerQueue ?? 200,
        logger: options.logger,
        run: (message, controller) =>
          runMessage(
            { plans: this.plans, connectors: options.connectors, retry: options.retry ?? DEFAULT_RETRY_POLICY, logger: options.logger },
            message,
            controller,
          ),
        complete: (outcome) => this.completions.add(outcome),
        beforeRelease: (outcome) => {
          const owner = outcome.message.queueOwnerId;
          if (outcome.kind === 'retry' && outcome.rateLimited) return this.recordRateLimit(owner, outcome.rateLimited);
          if (outcome.kind === 'done' && outcome.slowDownMs) return this.recordSample(owner, { slowDownMs: outcome.slowDownMs, successes: 0 });
          return Promise.resolve();
        },
        onStarted: (message) => options.metrics.started(message),
        isCanceled: (jobId) => this.canceledJobs.has(jobId),
        budgetRoom: () => this.budgetRoomFor(ownerId),
      });
      this.dispatchers.set(ownerId, dispatcher);
    }
    return dispatcher;
  }

  /**
   * Feeds auto-recovery with the successes of queues below their target,
   * after the outcomes' commit, so completions never wait for it. (Rate
   * limits are recorded before their slot is released: see beforeRelease.)
   */
  private adjustLevels(outcomes: Outcome[]): void {
    const now = performance.now();
    for (const o of outcomes) {
      if (o.kind === 'done' && o.errors.length === 0) this.successReports.succeeded(o.message.queueOwnerId, now);
    }
    this.reportDueSuccesses();
  }

  /**
   * Reports the successes that are due (successReports.ts), one report in
   * flight per process: those that fall due meanwhile go in the next.
   */
  private reportDueSuccesses(): void {
    if (this.reportingSuccesses || this.phase === 'stopped') return;
    this.reportingSuccesses = true;
    this.levelAdjustments = (async () => {
      try {
        for (let due = this.successReports.takeDue(performance.now()); due.length > 0; due = this.successReports.takeDue(performance.now())) {
          for (const [owner, successes] of due) await this.recordSample(owner, { successes });
        }
      } finally {
        this.reportingSuccesses = false;
      }
      const inMs = this.successReports.nextDueIn(performance.now());
      if (inMs !== null && this.successReportTimer === null) {
        this.successReportTimer = setTimeout(() => {
          this.successReportTimer = null;
          this.reportDueSuccesses();
        }, inMs + 1);
        this.successReportTimer.unref();
      }
    })();
  }

  /**
   * Records a rate limit before its slot is released. Those of one queue
   * that come while the last are being recorded go together in the next
   * transaction: one at a time, the 429s of the calls running when a queue
   * paused took ~3–5 ms each under the row's lock, 70+ ms for the 17 of a
   * level-25 start, and the pause often ended before the headroom they
   * measure was stored (`npm run bench -- hiddenConcurrency`).
   */
  private recordRateLimit(owner: string, call: RateLimitedCall): Promise<void> {
    let waiting = this.unrecordedRateLimits.get(owner);
    if (!waiting) {
      waiting = { calls: [], recorded: [] };
      this.unrecordedRateLimits.set(owner, waiting);
    }
    waiting.calls.push(call);
    const recorded = new Promise<void>((resolve) => waiting.recorded.push(resolve));
    if (!this.recordingRateLimits.has(owner)) void this.recordWaitingRateLimits(owner);
    return recorded;
  }

  private async recordWaitingRateLimits(owner: string): Promise<void> {
    this.recordingRateLimits.add(owner);
    try {
      for (let w = this.unrecordedRateLimits.get(owner); w; w = this.unrecordedRateLimits.get(owner)) {
        this.unrecordedRateLimits.delete(owner);
        try {
          await this.recordSample(owner, { rateLimited: w.calls, successes: 0 });
        } finally {
          for (const resolve of w.recorded) resolve();
        }
      }
    } finally {
      this.recordingRateLimits.delete(owner);
    }
  }

  /** Applies one sample to a queue's auto-recovery state. Never rejects. */
  private recordSample(owner: string, sample: RateLimitSample): Promise<void> {
    const run = async (): Promise<void> => {
      let client: PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        this.options.logger.warn({ err: error, queueOwnerId: owner }, 'recording rate limits failed');
        return;
      }
      try {
        await client.query('BEGIN');
        const { change, successesBeforeChange } = await recordRateLimits(client, owner, sample);
        await client.query('COMMIT');
        this.successReports.recorded(owner, successesBeforeChange);
        if (change) {
          this.options.metrics.levelChanged(owner, change.reason);
          this.log(this.operatorLog.levelChanged(owner, change));
          this.dispatchers.get(owner)?.wake();
        }
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        this.options.logger.warn({ err: error, queueOwnerId: owner }, 'recording rate limits failed');
      } finally {
        client.release();
      }
    };
    // A rate limit is urgent: every moment before its pause is recorded, the
    // queue's other slots may start calls into the same limit. It does not
    // queue behind success reports (the row lock keeps the two apart).
    return run();
  }

  /** Keeps a log line that is still reading names until it is written (stop waits for it). */
  private log(line: Promise<void>): void {
    const tracked = line.catch((error: unknown) => this.options.logger.warn({ err: error }, 'writing a log line failed'));
    this.logging.add(tracked);
    void tracked.finally(() => this.logging.delete(tracked));
  }

  /**
   * One GraphQL request over HTTP took `durationMs` (ROLE=all: the API and
   * this engine share the process, the machine and the database).
   */
  apiRequestServed(durationMs: number): void {
    if (this.phase !== 'running') return;
    this.budgetIs(this.apiShare.sample(performance.now(), durationMs, this.callsInFlight()));
  }

  /** The API's requests not answered yet: looked at every API share window, so that a backlog cuts the budget before its requests end. */
  watchApiRequests(waiting: WaitingApiRequests): void {
    this.waitingApiRequests = waiting;
  }

  private checkWaitingApiRequests(): void {
    const waiting = this.waitingApiRequests;
    if (waiting === null || this.phase !== 'running') return;
    const now = performance.now();
    this.budgetIs(this.apiShare.stalled(now, waiting.oldestWaitMs(now), waiting.count, this.callsInFlight()));
  }

  /** The engine's budget of calls in flight across all queues; null: no bound (the API is idle or fast). */
  apiShareBudget(): number | null {
    return this.budget;
  }

  private callsInFlight(): number {
    let n = 0;
    for (const d of this.dispatchers.values()) n += d.inFlight;
    return n;
  }

  private budgetRoomFor(ownerId: string): number {
    if (this.budget === null) return Infinity;
    const room = this.budget - this.callsInFlight();
    if (room <= 0) this.heldByBudget.add(ownerId);
    return room;
  }

  private budgetIs(budget: number | null): void {
    const before = this.budget;
    if (budget === before) return;
    this.budget = budget;
    const window = this.apiShare.lastWindow;
    this.options.logger.debug(
      { from: before, to: budget, apiP90Ms: window?.p90Ms, apiSamples: window?.samples, inFlight: this.callsInFlight() },
      `API share: engine budget ${before ?? 'unbounded'} → ${budget ?? 'unbounded'}`,
    );
    if (budget === null || (before !== null && budget > before)) this.wakeHeld();
  }

  /** After a completion batch: the slots it freed are room for the dispatchers held back, once their dispatchers drop them. */
  private wakeHeldSoon(): void {
    if (this.heldByBudget.size === 0 || this.heldWakeScheduled) return;
    this.heldWakeScheduled = true;
    setImmediate(() => {
      this.heldWakeScheduled = false;
      this.wakeHeld();
    });
  }

  private wakeHeld(): void {
    const held = [...this.heldByBudget];
    this.heldByBudget.clear();
    for (const owner of held) this.dispatcherFor(owner)?.wake();
  }

  private async poll(): Promise<void> {
    if (this.phase !== 'running') return;
    for (const owner of await queuesWithWork(this.pool)) this.dispatcherFor(owner)?.wake();
    for (const d of this.dispatchers.values()) if (d.holdsReservations) d.wake();
  }

  private async heartbeat(): Promise<void> {
    const leased = [...this.dispatchers.values()].flatMap((d) => d.leased());
    await extendLeases(this.pool, leased, this.options.leaseMs);
  }

  /** Messages waiting, per queue owner, across all processes (for /metrics). */
  async queuedByOwner(): Promise<Map<string, number>> {
    if (this.phase === 'stopped') return new Map();
    return queuedPerOwner(this.pool);
  }

  /** Messages of this process running now, per queue owner. */
  inFlight(): Map<string, number> {
    return new Map([...this.dispatchers].map(([owner, d]) => [owner, d.inFlight]));
  }

  /**
   * Stops claiming, lets running calls finish for up to `graceMs`, then aborts
   * the rest (they go back to their queue) and waits for every outcome to commit.
   */
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
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.successReportTimer) clearTimeout(this.successReportTimer);
    await this.levelAdjustments;
    await Promise.all([...this.logging]);
    await this.notifications.stop();
    await this.pool.end();
    this.phase = 'stopped';
  }
}
