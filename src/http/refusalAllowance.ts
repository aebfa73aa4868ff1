/**
 * How many refused operations a token may have answered at once: after
 * REFUSAL_BURST refusals, REFUSALS_PER_SECOND more a second (a token bucket
 * per token). A refusal beyond that is still answered, with the same error,
 * but only after REFUSAL_HOLD_MS: a client that waits for its answers (as
 * every script and load tool does) is slowed to about one refused operation
 * per second per request it keeps in flight, and so cannot keep the event
 * loop busy with refusals while other clients wait behind them.
 *
 * Why a hold and not an error of its own: refusing at once costs the server
 * what the refusal itself costs (one MONITOR with 8 remembered bombs in
 * flight still made ~1,300 refusals a second, each a read and a write on its
 * socket), and it would change what a client learns about its operation.
 * A held answer costs a timer. Nothing that is not refused is ever held, so
 * a token's good operations are as fast as anyone's, and a client that
 * sends a few bad requests never meets the bound.
 *
 * What counts as a refusal: everything the gate refuses (operationGate.ts:
 * bad input, limits, cost, SERVER_BUSY), and the operations graphql-js
 * refuses after it (a syntax or validation error: HTTP 400), over HTTP and
 * WebSocket alike, per process.
 *
 * The algorithm only: it takes the clock as `now` (ms) and returns how long
 * to hold an answer; server.ts and websocket.ts do the holding.
 */
import { LRUCache } from 'lru-cache';

/** Refusals a token may have answered at once before its allowance runs dry. */
export const REFUSAL_BURST = 300;
/** Refusals a second a token gets back, up to REFUSAL_BURST. */
export const REFUSALS_PER_SECOND = 20;
/** How long an answer beyond the allowance is held. */
export const REFUSAL_HOLD_MS = 1000;
/** Tokens whose allowance is tracked; the least recently refused one is forgotten first (and starts again full). */
const TRACKED_TOKENS = 10000;

interface Bucket {
  /** Refusals left to answer at once, as of `at`. */
  left: number;
  at: number;
}

export class RefusalAllowance {
  private readonly buckets = new LRUCache<string, Bucket>({ max: TRACKED_TOKENS });

  constructor(
    private readonly burst = REFUSAL_BURST,
    private readonly perSecond = REFUSALS_PER_SECOND,
    private readonly holdMs = REFUSAL_HOLD_MS,
  ) {}

  /** An operation of `tokenId` was refused at `now`: how long to hold its answer (0: answer at once). */
  refused(tokenId: string, now: number): number {
    const bucket = this.buckets.get(tokenId) ?? { left: this.burst, at: now };
    const left = Math.min(this.burst, bucket.left + (Math.max(0, now - bucket.at) * this.perSecond) / 1000);
    const within = left >= 1;
    this.buckets.set(tokenId, { left: within ? left - 1 : left, at: now });
    return within ? 0 : this.holdMs;
  }
}
