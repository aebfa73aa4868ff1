import { afterRateLimit, afterSuccesses, FIRST_BACKOFF_MS, MAX_BACKOFF_MS, type RecoveryState } from '../../../src/engine/limit/recovery';

const at = (levelInUse: number, extra: Partial<RecoveryState> = {}): RecoveryState => ({
  levelInUse,
  target: 25,
  slowStartThreshold: null,
  successes: 0,
  rateLimitedInARow: 0,
  ...extra,
});

describe('auto-recovery', () => {
  it('drops to 1 on a rate limit and remembers half the level as the threshold', () => {
    const { state } = afterRateLimit(at(20), null, () => 0);
    expect(state).toMatchObject({ levelInUse: 1, slowStartThreshold: 10, successes: 0, rateLimitedInARow: 1 });
  });

  it("pauses for the API's Retry-After when it gave one", () => {
    expect(afterRateLimit(at(8), 2500).pauseMs).toBe(2500);
  });

  it('backs off exponentially with jitter, capped, for rate limits in a row', () => {
    let state = at(8);
    const pauses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const next = afterRateLimit(state, null, () => 1);
      pauses.push(next.pauseMs);
      state = next.state;
    }
    expect(pauses).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    // Jitter keeps it within [half, whole] of the ceiling.
    expect(afterRateLimit(at(8), null, () => 0).pauseMs).toBe(FIRST_BACKOFF_MS / 2);
    expect(MAX_BACKOFF_MS).toBe(30000);
  });

  it('doubles per round up to the threshold, then climbs one per round, to the target', () => {
    let state = at(1, { slowStartThreshold: 8 });
    const levels: number[] = [];
    while (state.levelInUse < 25) {
      state = afterSuccesses(state, state.levelInUse); // one round: as many successes as the level
      levels.push(state.levelInUse);
    }
    expect(levels.slice(0, 5)).toEqual([2, 4, 8, 9, 10]);
    expect(levels[levels.length - 1]).toBe(25);
    expect(levels.length).toBe(3 + 17);
  });

  it('never goes past the target, and a success ends a run of rate limits', () => {
    const state = afterSuccesses(at(24, { rateLimitedInARow: 3 }), 1000);
    expect(state).toMatchObject({ levelInUse: 25, successes: 0, rateLimitedInARow: 0 });
  });

  it('counts successes across samples within a round', () => {
    let state = at(4, { slowStartThreshold: 2 });
    state = afterSuccesses(state, 3);
    expect(state.levelInUse).toBe(4);
    state = afterSuccesses(state, 1);
    expect(state.levelInUse).toBe(5);
  });
});
