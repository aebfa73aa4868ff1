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

/**
 * What a failed call says about its application, for the outage detector
 * (sql/functions/sluice_record_call_failure.sql): 'unavailable' (a network
 * error, a timeout, 408, 502, 503, 504: it served nobody), 'transient' (any
 * other 5xx or transient error: maybe the record's own problem),
 * 'unauthorized' (401: the connection's credentials were refused).
 */
export type FailureSignal = 'transient' | 'unavailable' | 'unauthorized';

export interface CallFailure {
  signal: FailureSignal;
  /** The error as an operator may read it: its code and message, credentials scrubbed. */
  reason: string;
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
      /**
       * Set when the record fails for good because its last attempt failed as
       * an absent application's would: should its connection turn out to be
       * away, the engine sends it back to its place instead (`held`).
       */
      failure?: CallFailure & { held: Extract<Outcome, { kind: 'retry' }> };
      /** No call reached the application (its job was canceled, or its step deleted, before it went): it says nothing of it. */
      unanswered?: true;
    }
  /**
   * Back to the queue after `delayMs`; `refund` gives back the attempt it used
   * (rate limits under auto-recovery). `rateLimited`: the call drew a rate
   * limit, with the API's Retry-After when it gave one.
   */
  | {
      kind: 'retry';
      message: ClaimedMessage;
      delayMs: number;
      refund: boolean;
      reason: string;
      rateLimited?: RateLimitedCall;
      /** The call failed as it would if its application were away (not a rate limit). */
      failure?: CallFailure;
    }
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

/** The failure the outage detector records for this outcome, if any. */
export function callFailureOf(outcome: Outcome): CallFailure | undefined {
  return outcome.kind === 'release' ? undefined : outcome.failure;
}

/**
 * Whether the application answered the call (a success, a 4xx, a 429): that
 * ends its queue's run of failed calls (sluice_complete_messages.sql).
 */
export function applicationAnswered(outcome: Outcome): boolean {
  if (outcome.kind === 'done') return outcome.failure === undefined && outcome.unanswered === undefined;
  if (outcome.kind === 'retry') return outcome.rateLimited !== undefined;
  return false;
}
