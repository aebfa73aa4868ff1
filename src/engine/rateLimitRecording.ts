/**
 * The engine's share of auto-recovery and rate limits: what calls say about
 * a queue's API (a rate limit with its Retry-After, a success that says the
 * limit is used up, plain successes below the target) recorded in the queue
 * owner's stored state (store.recordRateLimits), one transaction per sample.
 *
 * Rate limits are recorded before their slot is released (the dispatcher's
 * beforeRelease); successes after their outcomes' commit, batched by
 * successReports.ts, so completions never wait for them.
 */
import type { Pool, PoolClient } from 'pg';
import type { Logger } from '../logger';
import type { EngineMetrics } from './engineMetrics';
import type { Outcome, RateLimitedCall } from './outcome';
import { recordRateLimits, type LevelChange, type RateLimitSample } from './store';
import { SuccessReports } from './successReports';

export interface RateLimitRecordingDeps {
  pool: Pool;
  logger: Logger;
  metrics: EngineMetrics;
  /** The level in use or the pause of this queue changed: its dispatcher claims again under it. */
  levelChanged(ownerId: string): void;
  /** Writes the operator's line for a change of the level in use (operatorLog.ts names the connection). */
  logLevelChange(ownerId: string, change: LevelChange): void;
  /** The engine has stopped: no more reports. */
  stopped(): boolean;
}

export class RateLimitRecording {
  /** Successes of queues below their auto-recovery target, until they are reported. */
  private readonly successReports = new SuccessReports();
  private successReportTimer: NodeJS.Timeout | null = null;
  private levelAdjustments: Promise<void> = Promise.resolve();
  private reportingSuccesses = false;
  /** Rate limits per queue owner waiting for the recording in flight to end (rateLimited). */
  private readonly unrecordedRateLimits = new Map<string, { calls: RateLimitedCall[]; recorded: (() => void)[] }>();
  private readonly recordingRateLimits = new Set<string>();

  constructor(private readonly deps: RateLimitRecordingDeps) {}

  /**
   * Feeds auto-recovery with the successes of queues below their target,
   * after the outcomes' commit, so completions never wait for it. (Rate
   * limits are recorded before their slot is released: see rateLimited.)
   */
  committed(outcomes: readonly Outcome[]): void {
    const now = performance.now();
    for (const o of outcomes) {
      if (o.kind === 'done' && o.errors.length === 0) this.successReports.succeeded(o.message.queueOwnerId, now);
    }
    this.reportDueSuccesses();
  }

  /**
   * Records a rate limit before its slot is released. Those of one queue
   * that come while the last are being recorded go together in the next
   * transaction: one at a time, the 429s of the calls running when a queue
   * paused took ~3–5 ms each under the row's lock, 70+ ms for the 17 of a
   * level-25 start, and the pause often ended before the headroom they
   * measure was stored (`npm run bench -- hiddenConcurrency`).
   */
  rateLimited(owner: string, call: RateLimitedCall): Promise<void> {
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

  /** A successful call said the API's limit is used up for `slowDownMs`: the queue pauses. */
  slowDown(owner: string, slowDownMs: number): Promise<void> {
    return this.recordSample(owner, { slowDownMs, successes: 0 });
  }

  /** The queue's connection is back ONLINE after an outage: with auto-recovery, its level starts over from 1. */
  backOnline(owner: string): Promise<void> {
    return this.recordSample(owner, { backOnline: true, successes: 0 });
  }

  /** Stops reporting successes and waits for the report in flight. */
  async stop(): Promise<void> {
    if (this.successReportTimer) clearTimeout(this.successReportTimer);
    await this.levelAdjustments;
  }

  /**
   * Reports the successes that are due (successReports.ts), one report in
   * flight per process: those that fall due meanwhile go in the next.
   */
  private reportDueSuccesses(): void {
    if (this.reportingSuccesses || this.deps.stopped()) return;
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

  /**
   * Applies one sample to a queue's auto-recovery state. Never rejects. A
   * rate limit is urgent: every moment before its pause is recorded, the
   * queue's other slots may start calls into the same limit. So it does not
   * queue behind success reports (the row lock keeps the two apart).
   */
  private async recordSample(owner: string, sample: RateLimitSample): Promise<void> {
    const { pool, logger, metrics } = this.deps;
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      logger.warn({ err: error, queueOwnerId: owner }, 'recording rate limits failed');
      return;
    }
    try {
      await client.query('BEGIN');
      const { change, successesBeforeChange } = await recordRateLimits(client, owner, sample);
      await client.query('COMMIT');
      this.successReports.recorded(owner, successesBeforeChange);
      if (change) {
        metrics.levelChanged(owner, change.reason);
        this.deps.logLevelChange(owner, change);
        this.deps.levelChanged(owner);
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      logger.warn({ err: error, queueOwnerId: owner }, 'recording rate limits failed');
    } finally {
      client.release();
    }
  }
}
