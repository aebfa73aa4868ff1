/**
 * What became of one claimed message, as the dispatcher hands it to the
 * completion batch (completionBatch.ts).
 */
import type { ClaimedMessage, NewMessage } from './message';

/** Counter changes of one job. */
export interface JobDelta {
  exported: number;
  succeeded: number;
  failed: number;
  /** The source step failed for good: the job ends FAILED. */
  sourceFailed: boolean;
}

export interface NewJobError {
  stepId: string;
  /** The connection the failing call went through. */
  connectionId: string;
  code: string;
  message: string;
  record: unknown;
  /** Calls made for the record at its step, the failing one included. */
  attempts: number;
  /** The key a retry may carry again: set for a call of one record, a page or a file (see migrations/1765500000000-FailedRecords.ts). */
  idempotencyKey: string | null;
  /** The error this record's call was a retry of. */
  retryOf: string | null;
}

export type Outcome =
  /** Finished, for good or ill: delete it, enqueue what follows, count, keep errors. */
  | {
      kind: 'done';
      message: ClaimedMessage;
      followUps: NewMessage[];
      delta: JobDelta;
      errors: NewJobError[];
      /** The call succeeded but the application asked for a pause this long (ctx.slowDown). */
      slowDownMs?: number;
    }
  /**
   * Back to the queue after `delayMs`; `refund` gives back the attempt it used
   * (rate limits under auto-recovery). `rateLimited`: the call drew a rate
   * limit, with the API's Retry-After when it gave one.
   */
  | { kind: 'retry'; message: ClaimedMessage; delayMs: number; refund: boolean; reason: string; rateLimited?: RateLimitedCall }
  /** Not run to the end because this process stops: back to the queue at once, attempt refunded. */
  | { kind: 'release'; message: ClaimedMessage };

export interface RateLimitedCall {
  retryAfterMs: number | null;
  /** performance.now() when the call started: a call that started before the queue's last pause belongs to it. */
  callStartedAt: number;
}

export const NO_DELTA: JobDelta = { exported: 0, succeeded: 0, failed: 0, sourceFailed: false };

/** The application said "slow down" (a rate limit, or a limit used up): the queue may be about to pause. */
export function asksToSlowDown(outcome: Outcome): boolean {
  return (outcome.kind === 'retry' && outcome.rateLimited !== undefined) || (outcome.kind === 'done' && outcome.slowDownMs !== undefined);
}
