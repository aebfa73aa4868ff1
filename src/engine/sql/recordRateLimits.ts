/**
 * recordRateLimits: applies what one batch of outcomes says about a queue
 * owner's rate limit (rate limits with their Retry-After, successes) to its
 * stored auto-recovery state: the level in use, the pause, the thresholds.
 *
 * Locks: the owner's connection row FOR NO KEY UPDATE for the
 * read-compute-write, so that processes reporting at once for the same queue
 * apply their samples one after the other (never both from the same old
 * state). NO KEY: inserts of messages (whose foreign key takes KEY SHARE on
 * the row) are not held up. A queue without auto-recovery is left alone.
 */
import { afterOutage, afterRateLimit, afterRateLimitInPause, afterSuccesses, successesBeforeChange, type RecoveryState } from '../limit/recovery';
import type { RateLimitedCall } from '../outcome';
import { notifyStateChanged } from './connectionStateChanges';
import { notifyQueues } from './enqueueMessages';
import type { Queryable } from './queryable';

export interface RateLimitSample {
  /** Rate limits, in the order they came (several when they came while the last ones were being recorded); undefined: none. */
  rateLimited?: readonly RateLimitedCall[];
  /** A successful call said the application's limit is used up for this long: pause, nothing more. */
  slowDownMs?: number;
  /** The queue's connection is back ONLINE after an outage: the level starts over (limit/recovery.ts afterOutage). */
  backOnline?: boolean;
  successes: number;
}

export interface LevelChange {
  from: number;
  to: number;
  pauseMs: number | null;
  reason: 'rate-limited' | 'recovering' | 'limit-exhausted' | 'back-online';
}

export interface RecordedRateLimits {
  change: LevelChange | null;
  /**
   * Auto-recovery is on and the level in use is below the target: this many
   * more successes may change the level or the ceiling. Null: successes do
   * not matter.
   */
  successesBeforeChange: number | null;
}

/** Runs inside the caller's transaction (the row lock lasts until its end). */
export async function recordRateLimits(tx: Queryable, ownerId: string, sample: RateLimitSample): Promise<RecordedRateLimits> {
  const now = performance.now();
  const { rows } = await tx.query<RecoveryColumns & { paused_now: boolean; started_before_pause: boolean[] }>(
    // started_before_pause, per rate limit: its call started ($2, ms ago,
    // measured here, so it is the same clock's difference on both sides)
    // before the rate limit that began the last pause.
    `SELECT auto_recover, concurrency_level, target_concurrency_level, known_good_level, recovery_successes, rate_limited_count,
            rounds_at_ceiling, probe_wait_rounds, probe_step, rate_limit_headroom,
            coalesce(paused_until > clock_timestamp(), false) AS paused_now,
            ARRAY(SELECT coalesce(clock_timestamp() - ago * interval '1 millisecond' < rate_limit_paused_at, false)
                    FROM unnest($2::int[]) WITH ORDINALITY AS a(ago, n) ORDER BY n) AS started_before_pause
       FROM connection WHERE id = $1 FOR NO KEY UPDATE`,
    [ownerId, (sample.rateLimited ?? []).map((call) => Math.ceil(now - call.callStartedAt))],
  );
  const row = rows[0];
  if (row && sample.slowDownMs !== undefined) {
    // Whatever the policy: waiting for a reset the API announced costs nothing
    // and spares a 429. Such a pause says nothing of how many calls the API
    // takes at once: no headroom is read from the 429s that come during it.
    await tx.query(
      `UPDATE connection
          SET paused_until = greatest(coalesce(paused_until, clock_timestamp()), clock_timestamp() + $2::int * interval '1 millisecond'),
              rate_limit_headroom = NULL
        WHERE id = $1`,
      [ownerId, Math.round(sample.slowDownMs)],
    );
    const level = row.concurrency_level ?? 0;
    const recovery = recoveryOf(row);
    return {
      change: { from: level, to: level, pauseMs: sample.slowDownMs, reason: 'limit-exhausted' },
      successesBeforeChange: recovery ? successesBeforeChange(recovery) : null,
    };
  }
  let state = row ? recoveryOf(row) : null;
  if (!row || !state) return { change: null, successesBeforeChange: null };
  const from = state.levelInUse;
  let pauseMs: number | null = null;
  // Calls that were already running when the queue paused answer 429 too:
  // they belong to the rate limit that paused it, not to a new one, and must
  // not halve the level again nor double the backoff; each says the API took
  // one call fewer at once than were running (limit/recovery.ts).
  if (sample.rateLimited) {
    for (const [i, call] of sample.rateLimited.entries()) {
      // After a rate limit that begins a pause here, the rest of the batch
      // were calls already running: they belong to it.
      if (row.paused_now || row.started_before_pause[i] || pauseMs !== null) {
        state = afterRateLimitInPause(state);
      } else {
        ({ state, pauseMs } = afterRateLimit(state, call.retryAfterMs));
      }
    }
  } else if (sample.backOnline) {
    state = afterOutage(state);
  } else {
    state = afterSuccesses(state, sample.successes);
  }
  await tx.query(
    `UPDATE connection
        SET concurrency_level = $2, known_good_level = $3, recovery_successes = $4, rate_limited_count = $5,
            rounds_at_ceiling = $7, probe_wait_rounds = $8, probe_step = $9, rate_limit_headroom = $10,
            rate_limit_paused_at = CASE WHEN $6::int IS NULL THEN rate_limit_paused_at ELSE clock_timestamp() END,
            paused_until = CASE WHEN $6::int IS NULL THEN paused_until
                                ELSE greatest(coalesce(paused_until, clock_timestamp()), clock_timestamp() + $6::int * interval '1 millisecond') END
      WHERE id = $1`,
    [ownerId, state.levelInUse, state.ceiling, state.successes, state.rateLimitedInARow, pauseMs, state.roundsAtCeiling, state.probeWaitRounds, state.probeStep, state.headroom],
  );
  const needed = successesBeforeChange(state);
  if (state.levelInUse === from && pauseMs === null) return { change: null, successesBeforeChange: needed };
  // Subscribers see the level in use; other processes' dispatchers re-claim
  // under it, and a pause or a lower level stops their hand-ons until then.
  if (pauseMs !== null || state.levelInUse < from) await notifyStateChanged(tx, [ownerId]);
  else await notifyQueues(tx, [ownerId]);
  return {
    change: { from, to: state.levelInUse, pauseMs, reason: sample.rateLimited ? 'rate-limited' : sample.backOnline ? 'back-online' : 'recovering' },
    successesBeforeChange: needed,
  };
}

interface RecoveryColumns {
  auto_recover: boolean;
  concurrency_level: number | null;
  target_concurrency_level: number | null;
  known_good_level: number | null;
  recovery_successes: number;
  rate_limited_count: number;
  rounds_at_ceiling: number;
  probe_wait_rounds: number;
  probe_step: number;
  rate_limit_headroom: number | null;
}

/** The stored auto-recovery state; null: the queue has no auto-recovery. */
function recoveryOf(row: RecoveryColumns): RecoveryState | null {
  if (!row.auto_recover || row.concurrency_level === null || row.target_concurrency_level === null) return null;
  return {
    levelInUse: row.concurrency_level,
    target: row.target_concurrency_level,
    ceiling: row.known_good_level,
    successes: row.recovery_successes,
    rateLimitedInARow: row.rate_limited_count,
    roundsAtCeiling: row.rounds_at_ceiling,
    probeWaitRounds: row.probe_wait_rounds,
    probeStep: row.probe_step,
    headroom: row.rate_limit_headroom,
  };
}
