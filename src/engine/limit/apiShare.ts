/**
 * The API's share of a process that runs both the API and the engine
 * (ROLE=all): how many calls the engine may have in flight, across all its
 * queues, so that GraphQL requests stay fast. A pure algorithm in the manner
 * of Netflix concurrency-limits' AIMDLimit: it takes samples (an API
 * request's duration, with the engine's calls in flight when it ended) and
 * returns a number; no timers, no I/O, the clock is the `now` of each call.
 * The engine enforces it (engine.ts: each dispatcher's room).
 *
 * Samples gather into windows of `windowMs`. A window with fewer than
 * `minSamples` samples is a light API (a dashboard polling, a script): it
 * decides nothing and is dropped. A busy window's p90 decides:
 * - above `targetMs`: the budget drops to `backoffRatio` of itself (the
 *   first time, of the calls in flight then), never below `floor`: the engine
 *   slows down but never stops;
 * - at or below it: the budget grows by `increase`, but only while the
 *   engine uses at least half of it (AIMDLimit's rule: a budget that nothing
 *   presses against says nothing about whether more would hurt the API).
 * No busy window for `quietMs`: the API is idle or light, the budget is gone
 * (unbounded), and the engine runs at full speed again.
 *
 * Requests still unanswered count too (`stalled`): when at least
 * `minSamples` of them wait and the oldest has waited over `stallMs`, the
 * API is behind now, before any of them ends and reports its duration. At
 * the start of a load against a burst the first durations arrived a second
 * late, and the backlog of that second was the load's worst p99.
 *
 * The signal is the request's duration as the server sees it (request to
 * response finished), not the event loop's delay: under `npm run bench --
 * apiLoad` the server process used 49–62 % of one core, so its event loop
 * was rarely late; the API's requests waited for PostgreSQL, whose backends
 * the engine's claims and commits kept busy, and only the requests'
 * durations show that wait.
 */

export interface ApiShareOptions {
  /** A window's p90 above this is too slow: back off. Well under the p99 of 100 ms, which counts the client's side too. */
  targetMs: number;
  /** How long a window lasts. */
  windowMs: number;
  /** The fewest samples in a window for the API to count as busy. */
  minSamples: number;
  /** No busy window for this long: the API is idle (or light) and the engine is unbounded again. */
  quietMs: number;
  /** The lowest budget: the engine never stops. */
  floor: number;
  /** What is kept of the budget after a slow window. */
  backoffRatio: number;
  /** What a fast window adds to the budget. */
  increase: number;
  /** Unanswered requests waiting longer than this (at least `minSamples` of them) count as a slow window. */
  stallMs: number;
}

/**
 * Chosen with `BENCH_APILOAD_SECONDS=15 npm run bench -- apiLoad` (250
 * requests/s against a burst flow) on a 2-vCPU VM.
 * - targetMs 25: p90 server side; the client's p99 adds the tail and the time
 *   a request waits before the server reads it. At this target the load's
 *   p99 was 47–150 ms in each second once the budget had settled (8–36).
 * - windowMs 100 / minSamples 5: busy means 50 requests/s or more; the load
 *   puts ~25 in a window, so the budget moves ten times a second. With
 *   "10 samples, however long they take", `npm run bench -- burst`'s own
 *   job poll (one query at a time, every 100 ms, each slow behind the burst)
 *   cut the engine: 1,568 and 2,887 records/s against 3,229 and 3,271.
 * - backoffRatio 0.25: from ~700 calls in flight to the floor in four
 *   windows. With 0.5 (seven windows) the backlog that the engine's burst
 *   left in the load's first second took the rest of the run to drain: p99
 *   2.6 s against 0.67 s. Decisions are late anyway: a request reports its
 *   duration only when it ends.
 * - increase 4: back up by ~40 calls a second while the API stays fast.
 * - floor 8: a burst flow still moves (~500 records/s here) while the API is busy.
 * - quietMs 2000: twice the slowest plausible gap in a steady load, short
 *   enough that a burst flow is back at full speed soon after the API goes quiet.
 * - stallMs 50: twice the target; a request waiting that long will not make it.
 */
export const DEFAULT_API_SHARE: ApiShareOptions = {
  targetMs: 25,
  windowMs: 100,
  minSamples: 5,
  quietMs: 2000,
  floor: 8,
  backoffRatio: 0.25,
  increase: 4,
  stallMs: 50,
};

/** What the last window decided, for the log. */
export interface ApiShareWindow {
  p90Ms: number;
  samples: number;
  budget: number | null;
}

export class ApiShareLimit {
  /** null: unbounded. */
  private limit: number | null = null;
  private window: number[] = [];
  private windowStart = 0;
  private lastSampleAt: number | null = null;
  /** When the last busy window ended. */
  private lastDecisionAt: number | null = null;
  /** When the budget was last cut: a stall cuts at most once a window. */
  private lastCutAt: number | null = null;
  /** The window that set the budget last; null once the API went quiet. */
  lastWindow: ApiShareWindow | null = null;

  constructor(private readonly options: ApiShareOptions = DEFAULT_API_SHARE) {}

  /** The budget at `now`: the most calls the engine may have in flight, or null for no bound. */
  budget(now: number): number | null {
    this.expireIfQuiet(now);
    return this.limit;
  }

  /** One API request that took `latencyMs` and ended at `now`, with `inFlight` engine calls running. Returns the budget. */
  sample(now: number, latencyMs: number, inFlight: number): number | null {
    const o = this.options;
    this.expireIfQuiet(now);
    // What was left of a window before the API went quiet says nothing of now.
    if (this.lastSampleAt !== null && now - this.lastSampleAt >= o.quietMs) this.window = [];
    this.lastSampleAt = now;
    if (this.window.length === 0) this.windowStart = now;
    this.window.push(latencyMs);
    // The first sample at or after the window's end closes it. (Samples come
    // in clumps when the event loop is busy: the end is whenever one comes.)
    if (now - this.windowStart < o.windowMs) return this.limit;
    const sorted = this.window.sort((a, b) => a - b);
    this.window = [];
    // Too few samples: a light API, no decision.
    if (sorted.length < o.minSamples) return this.limit;
    this.lastDecisionAt = now;
    // Nearest rank: of ten samples the 9th, so one slow request in ten is not a trend.
    const p90 = sorted[Math.ceil(0.9 * sorted.length) - 1] as number;
    const samples = sorted.length;
    if (p90 > o.targetMs) {
      this.cut(now, inFlight);
    } else if (this.limit !== null && inFlight * 2 >= this.limit) {
      this.limit += o.increase;
    }
    this.lastWindow = { p90Ms: p90, samples, budget: this.limit };
    return this.limit;
  }

  /**
   * `waiting` requests unanswered at `now`, the oldest for `oldestWaitMs`,
   * with `inFlight` engine calls running. Returns the budget.
   */
  stalled(now: number, oldestWaitMs: number, waiting: number, inFlight: number): number | null {
    const o = this.options;
    this.expireIfQuiet(now);
    if (waiting < o.minSamples || oldestWaitMs <= o.stallMs) return this.limit;
    if (this.lastCutAt !== null && now - this.lastCutAt < o.windowMs) return this.limit;
    this.lastDecisionAt = now;
    this.cut(now, inFlight);
    this.lastWindow = { p90Ms: oldestWaitMs, samples: waiting, budget: this.limit };
    return this.limit;
  }

  /** A slow window: the budget drops to `backoffRatio` of itself (the first time, of the calls in flight), never below the floor. */
  private cut(now: number, inFlight: number): void {
    const o = this.options;
    const from = this.limit ?? Math.max(inFlight, o.floor);
    this.limit = Math.max(o.floor, Math.floor(from * o.backoffRatio));
    this.lastCutAt = now;
  }

  private expireIfQuiet(now: number): void {
    if (this.lastDecisionAt === null || now - this.lastDecisionAt < this.options.quietMs) return;
    this.limit = null;
    this.lastDecisionAt = null;
    this.lastWindow = null;
  }
}
