/**
 * claimMessages: up to `max` messages from the head of one queue, within the
 * queue owner's level across every process.
 *
 * The work is the function sluice_claim_messages (migrations/
 * 1763900000000-QueueEngine.ts, and 1763930000000-ClaimSaysWhenDrained.ts for
 * `drained`): a transaction-scoped advisory lock per queue owner, a count of
 * what runs, then one UPDATE ... RETURNING of the head. One round trip per
 * batch.
 */
import type { Queryable } from './queryable';
import type { ClaimedMessage, MessagePayload } from '../message';

interface ClaimedRow {
  id: string | null; // bigint: enqueue order; null on the one row that carries wait_ms and drained
  queue_owner_id: string;
  connection_id: string;
  job_id: string;
  step_id: string;
  payload: MessagePayload;
  attempts: number; // including this claim
  lease_id: string; // proves ownership when completing
  idempotency_key: string; // the same on every retry
  wait_ms: number | null; // set (on the info row) when the queue is paused or at its rateLimit
  drained: boolean | null; // on the info row: nothing of the queue is ready to start now
}

export interface Claim {
  messages: ClaimedMessage[];
  /** When nothing could start because of a pause or the rateLimit: how long until something can. */
  waitMs: number | null;
  /** Fewer messages were ready than there was room for: the queue has nothing ready now. */
  drained: boolean;
}

/**
 * `finished`: messages of this queue whose calls ended since the last claim;
 * the claim stops counting them against the level before it counts
 * (the 'done' state in migrations/1763900000000-QueueEngine.ts).
 */
export async function claimMessages(
  db: Queryable,
  ownerId: string,
  max: number,
  leaseMs: number,
  finished: readonly ClaimedMessage[] = [],
): Promise<Claim> {
  const { rows } = await db.query<ClaimedRow>(
    `SELECT id, queue_owner_id, connection_id, job_id, step_id, payload, attempts, lease_id, idempotency_key, wait_ms, drained
       FROM sluice_claim_messages($1, $2, $3, $4::bigint[], $5::uuid[])`,
    [ownerId, max, leaseMs, finished.map((m) => m.id), finished.map((m) => m.leaseId)],
  );
  const info = rows.find((r) => r.id === null);
  const waitMs = info?.wait_ms ?? null;
  // No info row: the queue owner is gone; nothing will be ready there.
  const drained = info ? info.drained === true : true;
  const messages = rows.filter((r): r is ClaimedRow & { id: string } => r.id !== null).map((r) => ({
    id: r.id,
    queueOwnerId: r.queue_owner_id,
    connectionId: r.connection_id,
    jobId: r.job_id,
    stepId: r.step_id,
    payload: r.payload,
    attempts: r.attempts,
    leaseId: r.lease_id,
    idempotencyKey: r.idempotency_key,
  }));
  return { messages, waitMs, drained };
}
