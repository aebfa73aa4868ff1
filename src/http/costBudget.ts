/**
 * The estimated cost (queryCost.ts) of the operations this process runs at
 * once is bounded too, not only each operation's: 50 operations just under
 * MAX_COST, sent at once, took a minute of CPU together and kept /healthz
 * waiting. An operation whose cost does not fit in what is left of the
 * budget waits, first come first served, until earlier ones finish; one
 * that waits longer than MAX_WAIT_MS, or finds MAX_WAITING waiting already,
 * is refused with SERVER_BUSY (HTTP 503): ask again later.
 *
 * Cheap operations (below CHEAP_COST: what a dashboard or a mutation costs)
 * never wait: they are most of the traffic, and queueing them behind a heavy
 * one would make every page slow while one client reads everything.
 */
import { GraphQLError } from 'graphql';
import { MAX_COST } from './queryCost';

/** Cost running at once, over all operations of this process that are not cheap. */
export const COST_IN_FLIGHT = MAX_COST;
export const CHEAP_COST = 1000;
export const MAX_WAIT_MS = 10000;
export const MAX_WAITING = 200;

interface Waiter {
  cost: number;
  grant: () => void;
}

export function serverBusy(reason: string): GraphQLError {
  return new GraphQLError(`the server is busy with other costly operations (${reason}); ask again in a few seconds, or ask for less (page with \`first\`)`, {
    extensions: { code: 'SERVER_BUSY', http: { status: 503 } },
  });
}

export class CostBudget {
  private inFlight = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly capacity = COST_IN_FLIGHT,
    private readonly maxWaitMs = MAX_WAIT_MS,
  ) {}

  /**
   * Resolves with the function that gives the cost back (call it once the
   * operation's answer is sent), or rejects with SERVER_BUSY.
   */
  async take(cost: number): Promise<() => void> {
    if (cost < CHEAP_COST) return () => undefined;
    const weight = Math.min(cost, this.capacity);
    if (this.waiting.length === 0 && this.inFlight + weight <= this.capacity) {
      this.inFlight += weight;
      return this.giveBack(weight);
    }
    if (this.waiting.length >= MAX_WAITING) throw serverBusy(`${MAX_WAITING} operations are waiting already`);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        cost: weight,
        grant: () => {
          clearTimeout(timer);
          resolve(this.giveBack(weight));
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(serverBusy(`it waited ${this.maxWaitMs} ms for them`));
        this.grantWaiting();
      }, this.maxWaitMs);
      this.waiting.push(waiter);
    });
  }

  private giveBack(weight: number): () => void {
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.inFlight -= weight;
      this.grantWaiting();
    };
  }

  /** First come first served: the head waits until it fits, and those behind it wait for it. */
  private grantWaiting(): void {
    for (let head = this.waiting[0]; head && this.inFlight + head.cost <= this.capacity; head = this.waiting[0]) {
      this.waiting.shift();
      this.inFlight += head.cost;
      head.grant();
    }
  }
}
