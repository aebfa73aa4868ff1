/**
 * claimMessages: up to `max` messages from the head of one queue, within the
 * queue owner's level across every process.
 *
 * The work is the function sluice_claim_messages (migrations/
 * 1763900000000-QueueEngine.ts): a transaction-scoped advisory lock per queue
 * owner, a count of what runs, then one UPDATE ... RETURNING of the head.
 * One round trip per batch.
 */
import type { Queryable } from './queryable';
import type { ClaimedMessage, MessagePayload } from '../message';

interface ClaimedRow {
  id: string; // bigint: enqueue order
  queue_owner_id: string;
  connection_id: string;
  job_id: string;
  step_id: string;
  payload: MessagePayload;
  attempts: number; // including this claim
  lease_id: string; // proves ownership when completing
  idempotency_key: string; // the same on every retry
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
): Promise<ClaimedMessage[]> {
  const { rows } = await db.query<ClaimedRow>(
    `SELECT id, queue_owner_id, connection_id, job_id, step_id, payload, attempts, lease_id, idempotency_key
       FROM sluice_claim_messages($1, $2, $3, $4::bigint[], $5::uuid[])`,
    [ownerId, max, leaseMs, finished.map((m) => m.id), finished.map((m) => m.leaseId)],
  );
  return rows.map((r) => ({
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
}
