/**
 * Auto-recovery of rate-limit errors: the level in use and the queue's pause,
 * as a pure function of what calls report. No clock, no I/O: the caller
 * passes the samples and stores the state (sql/recordRateLimits.ts).
 *
 * - A rate limit drops the level in use to 1 (as integrator.io does) and
 *   pauses the whole queue for the API's Retry-After, or, without one, for an
 *   exponential backoff with jitter: 1 s, 2 s, 4 s … up to 30 s for rate
 *   limits in a row with no success between them.
 * - Successes bring the level back like TCP's slow start and congestion
 *   avoidance: it doubles every round (a round is as many successes as the
 *   level) up to half the level that drew the last rate limit, then grows by
 *   one per round, up to the target. From 1 to 25 with no limit in the way
 *   that is 1, 2, 4, … up to the threshold, then +1: a few dozen rounds, under
 *   a second against a 20 ms API; against a hidden limit it climbs back to
 *   just under the limit quickly and probes above it one step at a time.
 */

export interface RecoveryState {
  levelInUse: number;
  target: number;
  slowStartThreshold: number | null;
  /** Successes since the level last changed. */
  successes: number;
  /** Rate limits in a row without a success between them. */
  rateLimitedInARow: number;
}

export const FIRST_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 30000;

export function afterRateLimit(
  state: RecoveryState,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): { state: RecoveryState; pauseMs: number } {
  const inARow = state.rateLimitedInARow + 1;
  const ceiling = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (inARow - 1));
  const pauseMs = retryAfterMs ?? Math.round(ceiling / 2 + (random() * ceiling) / 2);
  return {
    state: {
      ...state,
      levelInUse: 1,
      slowStartThreshold: Math.max(1, Math.floor(state.levelInUse / 2)),
      successes: 0,
      rateLimitedInARow: inARow,
    },
    pauseMs,
  };
}

export function afterSuccesses(state: RecoveryState, count: number): RecoveryState {
  let { levelInUse, successes } = state;
  successes += count;
  const threshold = state.slowStartThreshold ?? state.target;
  while (levelInUse < state.target && successes >= levelInUse) {
    successes -= levelInUse;
    levelInUse = levelInUse < threshold ? Math.min(levelInUse * 2, threshold) : levelInUse + 1;
  }
  if (levelInUse >= state.target) {
    levelInUse = state.target;
    successes = 0;
  }
  return { ...state, levelInUse, successes, rateLimitedInARow: count > 0 ? 0 : state.rateLimitedInARow };
}
