/**
 * Auto-recovery of rate-limit errors: the level in use and the queue's pause,
 * as a pure function of what calls report. No clock, no I/O: the caller
 * passes the samples and stores the state (sql/recordRateLimits.ts).
 *
 * A rate limit at level L halves the level in use (the contract allows a
 * multiplicative factor; dropping to 1 as integrator.io does cost most of the
 * throughput against a hidden concurrency limit in `npm run bench --
 * hiddenConcurrency`) and remembers L − 1 as the highest level known to work
 * (the ceiling); a probe above the ceiling that draws one falls back to the
 * ceiling. Either way the whole queue pauses for the API's Retry-After or,
 * without one, an exponential backoff with jitter (100 ms, 200 ms, … 30 s for
 * rate limits in a row with no success between them; 200 ms at first cost a
 * third of the start against a hidden limit). A failed probe's backoff
 * starts at 20 ms instead: it went one step past a level known to
 * work, so only the probe's own call was over the limit, and a pause as long
 * as a first rate limit's was the largest single loss of goodput against a
 * hidden concurrency limit (`npm run bench -- hiddenConcurrency`).
 *
 * The calls already in flight when a rate limit paused the queue answer too,
 * during the pause or just after it. Each of them that draws a rate limit is
 * one more call the API did not take beside the others: the *headroom*, the
 * level in use at the first rate limit minus the rate limits of its pause,
 * is how many calls the API took at once, and the ceiling and the level in
 * use drop to it, without a further backoff. Against a hidden limit of 4 at
 * level 25 this reaches 4 in one or two pauses (the 25 requests reach the
 * API over a few tens of ms, so it admits more than 4 of them in the first),
 * where halving alone went 25 → 12 → 6 → 3 with a pause and a burst of 429s
 * at each step (`npm run bench -- hiddenConcurrency`). After a failed probe
 * from a ceiling C to C + k, k − 1 more rate limits are expected and leave
 * the ceiling at C.
 *
 * A probe's round counts from the probe's start: successes left over from
 * the round before, or reported in the same batch, came from calls started
 * at the ceiling and say nothing about the level above it (counted, they
 * "confirmed" probes that had not been tried, and the next rate limit then
 * halved the level instead of falling back to the ceiling). And a probe's
 * round is longer (roundLength): the first successes after it starts are
 * those of the calls already running at the ceiling, and against a hidden
 * limit a probe's own call sometimes gets through (it lands while a slot is
 * between two calls); counted as the round, those "confirmed" a probe one
 * above the limit, and the next rate limit halved the level. Should one
 * still be confirmed so, a rate limit at a level above the last headroom is
 * taken for a failed probe: back to that headroom, with a probe's short pause.
 *
 * Successes count in rounds (a round is as many successes as the level in
 * use). Below the ceiling the level doubles every round (slow start). At the
 * ceiling it stays for `probeWaitRounds` rounds, then probes above it by
 * `probeStep`. A probe that holds for a round becomes the new ceiling, and the
 * next probe goes twice as far after a short wait: from 4 back to 25 once a
 * limit lifts is 5, 7, 11, 19, 25, about a second at 20 ms a call. A probe
 * that draws a rate limit doubles the wait before the next one (up to 512
 * rounds, ~10 s at level 4 and 20 ms), so against a hidden limit the queue
 * spends ever less time above it.
 */

export interface RecoveryState {
  levelInUse: number;
  target: number;
  /** The highest level known to work since the last rate limit; null: none hit yet. */
  ceiling: number | null;
  /** Successes in the current round. */
  successes: number;
  /** Rate limits in a row without a success between them. */
  rateLimitedInARow: number;
  /** Rounds completed at the ceiling since the last probe. */
  roundsAtCeiling: number;
  /** Rounds to wait at the ceiling before probing above it. */
  probeWaitRounds: number;
  /** How far above the ceiling the next probe goes. */
  probeStep: number;
  /** The calls the API took at once, as the rate limits of the last pause tell it; null: no pause to read. */
  headroom: number | null;
}

export const FIRST_BACKOFF_MS = 100;
export const PROBE_BACKOFF_MS = 20;
export const MAX_BACKOFF_MS = 30000;
export const FIRST_PROBE_WAIT_ROUNDS = 8;
export const MAX_PROBE_WAIT_ROUNDS = 512;

export function initialRecovery(levelInUse: number, target: number): RecoveryState {
  return {
    levelInUse,
    target,
    ceiling: null,
    successes: 0,
    rateLimitedInARow: 0,
    roundsAtCeiling: 0,
    probeWaitRounds: FIRST_PROBE_WAIT_ROUNDS,
    probeStep: 1,
    headroom: null,
  };
}

export function afterRateLimit(
  state: RecoveryState,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): { state: RecoveryState; pauseMs: number } {
  const inARow = state.rateLimitedInARow + 1;
  // Above the ceiling, or above what the API took at once at the last rate
  // limit (a probe that held by luck: see roundLength), the level was a
  // probe, and this is its failure.
  const knownGood = Math.min(state.ceiling ?? Infinity, state.headroom ?? Infinity);
  const probing = state.levelInUse > knownGood;
  const backoff = Math.min(MAX_BACKOFF_MS, (probing ? PROBE_BACKOFF_MS : FIRST_BACKOFF_MS) * 2 ** (inARow - 1));
  const pauseMs = retryAfterMs ?? Math.round(backoff / 2 + (random() * backoff) / 2);
  return {
    state: {
      ...state,
      // A failed probe falls back to the ceiling it probed from (known to
      // work); any other rate limit halves the level.
      levelInUse: probing ? knownGood : Math.max(1, Math.floor(state.levelInUse / 2)),
      ceiling: probing ? knownGood : Math.max(1, state.levelInUse - 1),
      successes: 0,
      rateLimitedInARow: inARow,
      roundsAtCeiling: 0,
      probeWaitRounds: probing ? Math.min(MAX_PROBE_WAIT_ROUNDS, state.probeWaitRounds * 2) : state.probeWaitRounds,
      probeStep: 1,
      headroom: Math.max(1, state.levelInUse - 1),
    },
    pauseMs,
  };
}

/**
 * The queue's application was away (its connection went OFFLINE) and
 * answered a probe: what it takes at once now is unknown, so the level in
 * use starts over at 1 and doubles every round (slow start, no ceiling) back
 * to the target, rather than sending the full level at a recovering API.
 */
export function afterOutage(state: RecoveryState): RecoveryState {
  return { ...state, levelInUse: 1, ceiling: null, successes: 0, rateLimitedInARow: 0, roundsAtCeiling: 0, probeStep: 1, headroom: null };
}

/**
 * Successes in a round: the level in use; for a probe, two rounds at its
 * level besides the calls running at the ceiling when it started (see
 * above), so that its extra slot has been tried a few times: at a level one
 * above a hidden limit, that slot's call gets through now and then (it lands
 * while another slot is between two calls), and one round was too few.
 */
function roundLength(s: RecoveryState): number {
  return s.ceiling !== null && s.levelInUse > s.ceiling ? 2 * s.levelInUse + s.ceiling : s.levelInUse;
}

/**
 * A rate limit answered to a call that started before the pause of the last
 * one (see above). Without a headroom (no rate limit started that pause: the
 * application asked for it, ctx.slowDown) it changes nothing.
 */
export function afterRateLimitInPause(state: RecoveryState): RecoveryState {
  if (state.headroom === null) return state;
  const headroom = Math.max(1, state.headroom - 1);
  const ceiling = Math.min(state.ceiling ?? headroom, headroom);
  return { ...state, headroom, ceiling, levelInUse: Math.min(state.levelInUse, ceiling) };
}

export function afterSuccesses(state: RecoveryState, count: number): RecoveryState {
  const s = { ...state, successes: state.successes + count };
  if (count > 0) s.rateLimitedInARow = 0;
  while (s.levelInUse < s.target && s.successes >= roundLength(s)) {
    s.successes -= roundLength(s); // a round is over
    if (s.ceiling === null || s.levelInUse < s.ceiling) {
      s.levelInUse = Math.min(s.levelInUse * 2, s.ceiling ?? s.target, s.target);
      continue;
    }
    if (s.levelInUse > s.ceiling) {
      // A probe held for a round: it is the new ceiling, and the next goes further, sooner.
      s.ceiling = s.levelInUse;
      s.probeStep *= 2;
      s.probeWaitRounds = FIRST_PROBE_WAIT_ROUNDS;
      s.roundsAtCeiling = 0;
    }
    s.roundsAtCeiling++;
    if (s.roundsAtCeiling >= s.probeWaitRounds) {
      s.levelInUse = Math.min(s.target, s.ceiling + s.probeStep);
      s.roundsAtCeiling = 0;
      s.successes = 0; // the probe's round starts now
      break;
    }
  }
  if (s.levelInUse >= s.target) {
    s.levelInUse = s.target;
    s.successes = 0;
  }
  return s;
}

/**
 * How many more successes it takes to change the level in use, the ceiling
 * or the run of rate limits; null: none will (the level is at its target). Fewer change only
 * the counts, so the engine reports successes in batches of this size
 * (successReports.ts) instead of one transaction per call or two.
 */
export function successesBeforeChange(s: RecoveryState): number | null {
  if (s.levelInUse >= s.target) return null;
  // The first success ends a run of rate limits: the next one's backoff starts small again.
  if (s.rateLimitedInARow > 0) return 1;
  const restOfRound = Math.max(1, roundLength(s) - s.successes);
  // Below the ceiling a round doubles the level; a probe's round makes it the ceiling.
  if (s.ceiling === null || s.levelInUse !== s.ceiling) return restOfRound;
  return Math.max(0, s.probeWaitRounds - s.roundsAtCeiling - 1) * s.levelInUse + restOfRound;
}
