import { ApiShareLimit, DEFAULT_API_SHARE, type ApiShareOptions } from '../../../src/engine/limit/apiShare';

const options: ApiShareOptions = { targetMs: 25, windowMs: 100, minSamples: 10, quietMs: 2000, floor: 8, backoffRatio: 0.5, increase: 4, stallMs: 50 };

/** Ten requests ending from `start` to `start` + 100 ms (one window), each taking `latencyMs`, with `inFlight` engine calls; the budget after them. */
function window(limit: ApiShareLimit, start: number, latencyMs: number, inFlight: number): number | null {
  let budget: number | null = null;
  for (let i = 0; i < 10; i++) budget = limit.sample(start + (i * 100) / 9, latencyMs, inFlight);
  return budget;
}

describe('API share', () => {
  it('leaves the engine unbounded while API requests are fast', () => {
    const limit = new ApiShareLimit(options);
    expect(window(limit, 0, 5, 1000)).toBeNull();
    expect(window(limit, 100, 20, 1000)).toBeNull();
    expect(limit.budget(200)).toBeNull();
  });

  it('halves the calls in flight when a window is slow, then halves the budget down to the floor', () => {
    const limit = new ApiShareLimit(options);
    const budgets: (number | null)[] = [];
    let inFlight = 1000;
    for (let w = 0; w < 9; w++) {
      const budget = window(limit, w * 100, 200, inFlight);
      budgets.push(budget);
      inFlight = budget ?? inFlight;
    }
    expect(budgets).toEqual([500, 250, 125, 62, 31, 15, 8, 8, 8]);
  });

  it('decides on the p90 of a window: one slow request in ten is no trend', () => {
    const limit = new ApiShareLimit(options);
    for (let i = 0; i < 9; i++) limit.sample(i * 10, 5, 1000);
    expect(limit.sample(100, 5000, 1000)).toBeNull();
    // Two in ten are.
    for (let i = 0; i < 8; i++) limit.sample(110 + i * 10, 5, 1000);
    limit.sample(190, 5000, 1000);
    expect(limit.sample(210, 5000, 1000)).toBe(500);
    expect(limit.lastWindow).toEqual({ p90Ms: 5000, samples: 10, budget: 500 });
  });

  it('decides once a window is over', () => {
    const limit = new ApiShareLimit(options);
    // Ten slow samples within 50 ms: the window is not over yet.
    for (let i = 0; i < 10; i++) expect(limit.sample(i * 5, 300, 100)).toBeNull();
    expect(limit.sample(100, 300, 100)).toBe(50);
  });

  it('never bounds the engine for a light API, however slow its requests (fewer than minSamples a window)', () => {
    const limit = new ApiShareLimit(options);
    // 80 requests/s, each slow behind the engine: a job polled in a loop.
    for (let t = 0; t < 5000; t += 12.5) expect(limit.sample(t, 300, 1000)).toBeNull();
  });

  it('decides on a window that samples arriving in clumps closed late', () => {
    const limit = new ApiShareLimit(options);
    // The event loop was busy: 30 answers at once, then the next ones 150 ms later.
    for (let i = 0; i < 30; i++) limit.sample(0, 300, 400);
    expect(limit.sample(150, 300, 400)).toBe(200);
  });

  it('never drops below the floor, whatever is in flight', () => {
    const limit = new ApiShareLimit(options);
    expect(window(limit, 0, 200, 3)).toBe(8);
    expect(window(limit, 100, 200, 8)).toBe(8);
  });

  it('grows additively while fast windows find the engine using at least half its budget', () => {
    const limit = new ApiShareLimit(options);
    window(limit, 0, 200, 40); // 20
    expect(window(limit, 100, 10, 20)).toBe(24);
    expect(window(limit, 200, 10, 24)).toBe(28);
    expect(window(limit, 300, 25, 14)).toBe(32); // at the target is fast enough; 14 is half of 28
  });

  it('does not grow a budget the engine does not press against', () => {
    const limit = new ApiShareLimit(options);
    window(limit, 0, 200, 40); // 20
    expect(window(limit, 100, 10, 9)).toBe(20);
    expect(window(limit, 200, 10, 0)).toBe(20);
  });

  it('lets the engine run unbounded again once the API has been light for quietMs', () => {
    const limit = new ApiShareLimit(options);
    expect(window(limit, 0, 200, 100)).toBe(50);
    // From 100 on, a request every 200 ms: no busy window.
    for (let t = 300; t < 2100; t += 200) expect(limit.sample(t, 300, 50)).toBe(50);
    expect(limit.sample(2100, 300, 50)).toBeNull();
  });

  it('lets the engine run unbounded again once the API has been quiet for quietMs', () => {
    const limit = new ApiShareLimit(options);
    expect(window(limit, 0, 200, 100)).toBe(50);
    // The last sample was at 100.
    expect(limit.budget(2099)).toBe(50);
    expect(limit.budget(2100)).toBeNull();
    expect(limit.lastWindow).toBeNull();
    // A new load starts from what is in flight then.
    expect(window(limit, 5000, 200, 600)).toBe(300);
  });

  it('forgets a half-filled window when the API goes quiet', () => {
    const limit = new ApiShareLimit(options);
    for (let i = 1; i <= 9; i++) limit.sample(i * 10, 300, 100);
    // 9 slow samples, then quiet: the next fast samples start a new window.
    for (let i = 1; i <= 10; i++) expect(limit.sample(3000 + i * 10, 5, 100)).toBeNull();
  });

  it('has defaults that back off from a burst to the floor within a second', () => {
    const limit = new ApiShareLimit(DEFAULT_API_SHARE);
    let inFlight = 1000;
    let t = 0;
    while (inFlight > DEFAULT_API_SHARE.floor) {
      for (let i = 0; i < DEFAULT_API_SHARE.minSamples; i++) {
        t += DEFAULT_API_SHARE.windowMs / DEFAULT_API_SHARE.minSamples;
        inFlight = limit.sample(t, 1000, inFlight) ?? inFlight;
      }
    }
    expect(t).toBeLessThanOrEqual(1000);
  });

  describe('requests still waiting (stalled)', () => {
    it('cuts the budget before any slow request has ended, once a window', () => {
      const limit = new ApiShareLimit(options);
      expect(limit.stalled(0, 40, 20, 600)).toBeNull(); // waiting, but not long enough
      expect(limit.stalled(10, 80, 5, 600)).toBeNull(); // long enough, but too few: a light API
      expect(limit.stalled(20, 80, 20, 600)).toBe(300); // behind: a slow window, from the calls in flight
      expect(limit.stalled(60, 120, 20, 300)).toBe(300); // the same window
      expect(limit.stalled(120, 160, 20, 300)).toBe(150); // the next one
    });

    it('is forgotten, like any cut, once the API has been quiet', () => {
      const limit = new ApiShareLimit(options);
      limit.stalled(0, 80, 20, 600);
      expect(limit.budget(options.quietMs + 1)).toBeNull();
    });
  });
});

