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
  /** The call's connection or its queue owner is not ONLINE now: the call keeps its place. */
  held: boolean;
}

export async function recordCallFailure(db: Queryable, call: FailedCall): Promise<RecordedFailure> {
  const { rows } = await db.query<{ offline: string | null; held: boolean }>(
    `SELECT offline, held FROM sluice_record_call_failure($1::jsonb)`,
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
  return { wentOffline: rows[0]?.offline ?? null, held: rows[0]?.held ?? false };
}
