import {
  afterOutage,
  afterRateLimit,
  afterRateLimitInPause,
  afterSuccesses,
  FIRST_BACKOFF_MS,
  FIRST_PROBE_WAIT_ROUNDS,
  initialRecovery,
  successesBeforeChange,
  MAX_PROBE_WAIT_ROUNDS,
  PROBE_BACKOFF_MS,
  type RecoveryState,
} from '../../../src/engine/limit/recovery';

/** One round at the current level: as many successes as the level. */
const round = (s: RecoveryState): RecoveryState => afterSuccesses(s, s.levelInUse);

describe('auto-recovery', () => {
  it('halves the level on a rate limit and remembers the level below it as the ceiling', () => {
    const { state } = afterRateLimit(initialRecovery(20, 25), null, () => 0);
    expect(state).toMatchObject({ levelInUse: 10, ceiling: 19, successes: 0, rateLimitedInARow: 1, probeStep: 1 });
  });

  it("pauses for the API's Retry-After when it gave one", () => {
    expect(afterRateLimit(initialRecovery(8, 25), 2500).pauseMs).toBe(2500);
  });

  it('backs off exponentially with jitter, capped at 30 s, for rate limits in a row', () => {
    let state = initialRecovery(8, 25);
    const pauses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const next = afterRateLimit(state, null, () => 1);
      pauses.push(next.pauseMs);
      state = next.state;
    }
    expect(pauses).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000]);
    expect(afterRateLimit(initialRecovery(8, 25), null, () => 0).pauseMs).toBe(50); // jitter: half to whole
  });

  it('climbs back to the target within a few rounds when nothing limits it', () => {
    let state: RecoveryState = { ...initialRecovery(1, 25) };
    let rounds = 0;
    while (state.levelInUse < 25) {
      state = round(state);
      rounds++;
    }
    expect(rounds).toBe(5); // 2, 4, 8, 16, 25
  });

  it('doubles up to the ceiling, waits there, then probes ever further while probes hold', () => {
    let state = afterRateLimit(initialRecovery(5, 25), null).state; // hit at 5: level 2, ceiling 4
    expect(state).toMatchObject({ levelInUse: 2, ceiling: 4 });
    state = round(state);
    expect(state.levelInUse).toBe(4);
    for (let i = 0; i < FIRST_PROBE_WAIT_ROUNDS - 1; i++) state = round(state);
    expect(state.levelInUse).toBe(4);
    state = round(state);
    expect(state.levelInUse).toBe(5); // the first probe: +1
    const levels: number[] = [];
    while (state.levelInUse < 25) {
      state = round(state);
      if (levels[levels.length - 1] !== state.levelInUse) levels.push(state.levelInUse);
    }
    expect(levels).toEqual([5, 7, 11, 19, 25]);
  });

  it('falls back to the ceiling when a probe draws a rate limit, and waits twice as long before the next, up to a cap', () => {
    let state = afterRateLimit(initialRecovery(5, 25), null).state;
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      while (state.levelInUse <= (state.ceiling ?? 0)) state = round(state); // up to the probe
      state = afterRateLimit(state, null).state; // the probe fails
      expect(state).toMatchObject({ levelInUse: 4, ceiling: 4 });
      waits.push(state.probeWaitRounds);
    }
    expect(waits).toEqual([16, 32, 64, 128, 256, 512, 512, 512, 512]);
    expect(MAX_PROBE_WAIT_ROUNDS).toBe(512);
  });

  it('never goes past the target, and a success ends a run of rate limits', () => {
    const state = afterSuccesses({ ...initialRecovery(24, 25), rateLimitedInARow: 3 }, 1000);
    expect(state).toMatchObject({ levelInUse: 25, successes: 0, rateLimitedInARow: 0 });
  });

  it("counts a probe's round from the probe's start, not with successes of calls started at the ceiling", () => {
    let state = afterRateLimit(initialRecovery(5, 25), null).state; // level 2, ceiling 4
    state = round(state); // 4
    for (let i = 0; i < FIRST_PROBE_WAIT_ROUNDS - 1; i++) state = round(state);
    // The batch that ends the wait is big enough for the next round too: it starts the probe, no more.
    state = afterSuccesses(state, 4 + 5);
    expect(state).toMatchObject({ levelInUse: 5, ceiling: 4, successes: 0 });
    // So a rate limit now is the probe's: back to the ceiling, not half of it.
    expect(afterRateLimit(state, null).state).toMatchObject({ levelInUse: 4, ceiling: 4 });
  });

  it("pauses a failed probe for a shorter backoff than a first rate limit's", () => {
    let state = afterRateLimit(initialRecovery(5, 25), null).state;
    while (state.levelInUse <= (state.ceiling ?? 0)) state = round(state);
    expect(afterRateLimit(state, null, () => 1).pauseMs).toBe(PROBE_BACKOFF_MS);
    expect(afterRateLimit(state, null, () => 0).pauseMs).toBe(PROBE_BACKOFF_MS / 2);
    expect(PROBE_BACKOFF_MS).toBeLessThan(FIRST_BACKOFF_MS);
  });

  it('takes each rate limit answered during the pause as one call too many: at level L, R of them leave the ceiling at L − R', () => {
    let state = afterRateLimit(initialRecovery(25, 25), null).state; // the first: level 12, ceiling 24
    for (let i = 1; i < 21; i++) state = afterRateLimitInPause(state); // 20 more of the 25 in flight
    expect(state).toMatchObject({ levelInUse: 4, ceiling: 4, headroom: 4, rateLimitedInARow: 1 });
    for (let i = 0; i < 10; i++) state = afterRateLimitInPause(state);
    expect(state).toMatchObject({ levelInUse: 1, ceiling: 1 }); // never below 1
  });

  it('keeps the ceiling a failed probe falls back to while its pause brings only the calls it had above the ceiling', () => {
    let state = afterRateLimit(initialRecovery(5, 25), null).state; // level 2, ceiling 4
    state = { ...state, levelInUse: 6, probeStep: 2 }; // a probe two above the ceiling
    state = afterRateLimit(state, null).state; // the probe's first 429: back to 4, headroom 5
    state = afterRateLimitInPause(state); // its second: headroom 4
    expect(state).toMatchObject({ levelInUse: 4, ceiling: 4, headroom: 4 });
    state = afterRateLimitInPause(state); // a third: the API takes fewer than the ceiling now
    expect(state).toMatchObject({ levelInUse: 3, ceiling: 3 });
  });

  it('leaves a level already below the lowered ceiling where it is', () => {
    const state = afterRateLimitInPause({ ...initialRecovery(2, 25), ceiling: 10, headroom: 10 });
    expect(state).toMatchObject({ levelInUse: 2, ceiling: 9 });
  });

  it('changes nothing on a rate limit in a pause that no rate limit started', () => {
    const state = { ...initialRecovery(8, 25), ceiling: 10 };
    expect(afterRateLimitInPause(state)).toEqual(state);
  });

  it('says how many successes it takes to change the level or the ceiling: one fewer changes neither', () => {
    const states: RecoveryState[] = [];
    let state = afterRateLimit(initialRecovery(5, 25), null).state; // level 2, ceiling 4
    const levels = new Set<number>();
    for (let i = 0; i < 200; i++) {
      levels.add(state.levelInUse);
      states.push(state);
      state = afterSuccesses(state, 3); // through the wait at the ceiling, the probes, the new ceilings
    }
    expect([...levels]).toEqual([2, 4, 5, 7, 11, 19, 25]);
    for (const s of states) {
      const n = successesBeforeChange(s);
      if (n === null) continue;
      const before = afterSuccesses(s, n - 1);
      const after = afterSuccesses(s, n);
      expect([before.levelInUse, before.ceiling, before.rateLimitedInARow]).toEqual([s.levelInUse, s.ceiling, s.rateLimitedInARow]);
      expect([after.levelInUse, after.ceiling, after.rateLimitedInARow]).not.toEqual([s.levelInUse, s.ceiling, s.rateLimitedInARow]);
    }
    expect(successesBeforeChange(initialRecovery(25, 25))).toBeNull();
  });

  it('holds a probe for the calls running at the ceiling when it started plus two rounds at its own level', () => {
    let state = afterRateLimit(initialRecovery(5, 25), null).state; // level 2, ceiling 4
    while (state.levelInUse <= (state.ceiling ?? 0)) state = round(state);
    expect(state).toMatchObject({ levelInUse: 5, ceiling: 4, successes: 0 });
    expect(afterSuccesses(state, 4 + 2 * 5 - 1)).toMatchObject({ levelInUse: 5, ceiling: 4 }); // not yet
    expect(afterSuccesses(state, 4 + 2 * 5)).toMatchObject({ levelInUse: 5, ceiling: 5 }); // held
    expect(successesBeforeChange(state)).toBe(14);
  });

  it('takes a rate limit above the headroom of the last one for a failed probe, even after the probe seemed to hold', () => {
    let state = afterRateLimit(initialRecovery(5, 25), null).state; // level 2, ceiling 4, headroom 4
    while (state.levelInUse <= (state.ceiling ?? 0)) state = round(state);
    state = afterSuccesses(state, 4 + 2 * 5); // the probe at 5 "held" by luck: ceiling 5
    expect(state).toMatchObject({ levelInUse: 5, ceiling: 5, headroom: 4 });
    const { state: after, pauseMs } = afterRateLimit(state, null, () => 1);
    expect(after).toMatchObject({ levelInUse: 4, ceiling: 4 }); // not halved
    expect(pauseMs).toBe(PROBE_BACKOFF_MS);
  });

  it('takes one success to end a run of rate limits', () => {
    const state = afterRateLimit(initialRecovery(8, 25), null).state;
    expect(successesBeforeChange(state)).toBe(1);
    expect(successesBeforeChange(afterSuccesses(state, 1))).toBe(3); // then the rest of the round at 4
  });

  it('starts over at 1 after an outage and doubles every round back to the target, with no ceiling from before', () => {
    let state = afterRateLimit(initialRecovery(20, 25), null).state; // a ceiling of 19 from a rate limit
    state = afterOutage(state);
    expect(state).toMatchObject({ levelInUse: 1, ceiling: null, successes: 0, rateLimitedInARow: 0, headroom: null });
    const levels = [state.levelInUse];
    while (state.levelInUse < 25) {
      state = round(state);
      levels.push(state.levelInUse);
    }
    expect(levels).toEqual([1, 2, 4, 8, 16, 25]);
  });
});
