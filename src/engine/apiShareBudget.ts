/**
 * The API's share, enforced (ROLE=all: the API and the engine share the
 * process, the machine and the database). limit/apiShare.ts is the
 * algorithm: API requests' durations in, a budget of calls in flight across
 * all queues out. Here the budget is kept, each dispatcher's room is the
 * budget minus the engine's calls in flight, and the dispatchers that found
 * no room are woken once room comes back.
 */
import type { Logger } from '../logger';
import { ApiShareLimit, DEFAULT_API_SHARE, type ApiShareOptions } from './limit/apiShare';

/** The API's requests not answered yet (src/http/requestsInProgress.ts). */
export interface WaitingApiRequests {
  readonly count: number;
  oldestWaitMs(now: number): number;
}

/** How often the budget is looked at without a sample: how soon an idle API gives the engine its full speed back. */
export const API_SHARE_CHECK_MS = 250;

export interface ApiShareBudgetDeps {
  logger: Logger;
  /** The engine's calls in flight, across all queues. */
  callsInFlight(): number;
  /** Room came back for a queue held back by the budget. */
  wake(ownerId: string): void;
  /** Samples count only while the engine runs. */
  running(): boolean;
}

export class ApiShareBudget {
  private readonly limit: ApiShareLimit;
  /** null: no bound (the API is idle or fast). */
  private budget: number | null = null;
  private waitingApiRequests: WaitingApiRequests | null = null;
  /** Dispatchers that found no room in the budget: woken when room comes back. */
  private readonly heldByBudget = new Set<string>();
  private heldWakeScheduled = false;
  /** How often the waiting API requests are looked at (checkWaitingRequests). */
  readonly windowMs: number;

  constructor(options: ApiShareOptions | undefined, private readonly deps: ApiShareBudgetDeps) {
    this.limit = new ApiShareLimit(options);
    this.windowMs = options?.windowMs ?? DEFAULT_API_SHARE.windowMs;
  }

  /** The engine's budget of calls in flight across all queues; null: no bound. */
  get current(): number | null {
    return this.budget;
  }

  /** One GraphQL request over HTTP took `durationMs`. */
  requestServed(durationMs: number): void {
    if (!this.deps.running()) return;
    this.budgetIs(this.limit.sample(performance.now(), durationMs, this.deps.callsInFlight()));
  }

  /** The API's requests not answered yet: looked at every window, so that a backlog cuts the budget before its requests end. */
  watch(waiting: WaitingApiRequests): void {
    this.waitingApiRequests = waiting;
  }

  /** Every API_SHARE_CHECK_MS: the budget as time alone changes it (a quiet API lifts it). */
  check(): void {
    this.budgetIs(this.limit.budget(performance.now()));
  }

  /** Every window: requests that wait too long cut the budget before they end. */
  checkWaitingRequests(): void {
    const waiting = this.waitingApiRequests;
    if (waiting === null || !this.deps.running()) return;
    const now = performance.now();
    this.budgetIs(this.limit.stalled(now, waiting.oldestWaitMs(now), waiting.count, this.deps.callsInFlight()));
  }

  /** How many more calls a queue's dispatcher may start; one with none is woken when room comes back. */
  roomFor(ownerId: string): number {
    if (this.budget === null) return Infinity;
    const room = this.budget - this.deps.callsInFlight();
    if (room <= 0) this.heldByBudget.add(ownerId);
    return room;
  }

  /** After a completion batch: the slots it freed are room for the dispatchers held back, once their dispatchers drop them. */
  slotsFreedSoon(): void {
    if (this.heldByBudget.size === 0 || this.heldWakeScheduled) return;
    this.heldWakeScheduled = true;
    setImmediate(() => {
      this.heldWakeScheduled = false;
      this.wakeHeld();
    });
  }

  private budgetIs(budget: number | null): void {
    const before = this.budget;
    if (budget === before) return;
    this.budget = budget;
    const window = this.limit.lastWindow;
    this.deps.logger.debug(
      { from: before, to: budget, apiP90Ms: window?.p90Ms, apiSamples: window?.samples, inFlight: this.deps.callsInFlight() },
      `API share: engine budget ${before ?? 'unbounded'} → ${budget ?? 'unbounded'}`,
    );
    if (budget === null || (before !== null && budget > before)) this.wakeHeld();
  }

  private wakeHeld(): void {
    const held = [...this.heldByBudget];
    this.heldByBudget.clear();
    for (const owner of held) this.deps.wake(owner);
  }
}
