/**
 * recordCallFailure: one failed call for the outage detector, which may take
 * the queue owner (or, for a 401, the connection) OFFLINE. The rule, its
 * locks and why are in functions/sluice_record_call_failure.sql. One
 * statement, its own transaction.
 */
import type { FailureSignal } from '../outcome';
import type { Queryable } from './queryable';

export interface FailedCall {
  queueOwnerId: string;
  connectionId: string;
  messageId: string;
  /** The message's attempts, this call included. */
  attempts: number;
  /** This was its last attempt. */
  exhausted: boolean;
  signal: FailureSignal;
  /** What stateReason says if this call takes the connection OFFLINE (no secret). */
  reason: string;
  /** Failed calls in a row, of at least two messages, that take the queue owner OFFLINE. */
  threshold: number;
}

export interface RecordedFailure {
  /** The connection this call took OFFLINE; null: none. */
  wentOffline: string | null;
  /**
   * 'away': the call's connection or its queue owner is not ONLINE now: back
   * to its place at once, its attempt given back. 'run': a last attempt in a
   * run of other messages' failures too: retried after its backoff instead of
   * failing for good. null: the outcome stands.
   */
  hold: 'away' | 'run' | null;
}

export async function recordCallFailure(db: Queryable, call: FailedCall): Promise<RecordedFailure> {
  const { rows } = await db.query<{ offline: string | null; hold: 'away' | 'run' | null }>(
    `SELECT offline, hold FROM sluice_record_call_failure($1::jsonb)`,
    [JSON.stringify({
      owner: call.queueOwnerId,
      connection: call.connectionId,
      message: call.messageId,
      attempts: call.attempts,
      exhausted: call.exhausted,
      signal: call.signal,
      reason: call.reason,
      threshold: call.threshold,
    })],
  );
  return { wentOffline: rows[0]?.offline ?? null, hold: rows[0]?.hold ?? null };
}
