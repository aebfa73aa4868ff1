/**
 * enqueueMessages: inserts messages behind those already queued and wakes the
 * processes that dispatch their queues.
 *
 * The queue owner is read from the connection at insert time, so a message
 * always joins the queue its connection uses now (borrowing may have moved
 * it). One statement for the whole batch: the INSERT (jsonb_to_recordset),
 * keeping the batch's order in the id sequence, and one NOTIFY per distinct
 * queue owner (PostgreSQL folds duplicates within a transaction anyway).
 * The NOTIFY rides in the same statement because every round trip shows in
 * enqueue-to-start latency: with it, an autocommitted call is one round trip,
 * as graphile-worker's add_job is.
 * Inside a transaction, the NOTIFY is delivered at its commit.
 */
import type { NewMessage } from '../message';
import type { Queryable } from './queryable';

export const QUEUE_CHANNEL = 'sluice_queue';

export async function enqueueMessages(tx: Queryable, messages: NewMessage[]): Promise<string[]> {
  if (messages.length === 0) return [];
  const { rows } = await tx.query<{ queue_owner_id: string }>(
    `WITH inserted AS (
       INSERT INTO queue_message (queue_owner_id, connection_id, job_id, step_id, payload)
       SELECT c.queue_owner_id, m.connection_id, m.job_id, m.step_id, m.payload
         FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (connection_id uuid, job_id uuid, step_id uuid, payload jsonb))
                WITH ORDINALITY AS m(connection_id, job_id, step_id, payload, n)
         JOIN connection c ON c.id = m.connection_id
        ORDER BY m.n
       RETURNING queue_owner_id
     ), owners AS (
       SELECT DISTINCT queue_owner_id FROM inserted
     )
     SELECT queue_owner_id, pg_notify('${QUEUE_CHANNEL}', queue_owner_id::text) FROM owners`,
    [JSON.stringify(messages.map((m) => ({ connection_id: m.connectionId, job_id: m.jobId, step_id: m.stepId, payload: m.payload })))],
  );
  return rows.map((r) => r.queue_owner_id);
}

/** Wakes the dispatchers of these queues in every process (delivered at commit). */
export async function notifyQueues(tx: Queryable, ownerIds: string[]): Promise<void> {
  if (ownerIds.length === 0) return;
  await tx.query(`SELECT pg_notify('${QUEUE_CHANNEL}', owner::text) FROM unnest($1::uuid[]) AS owner`, [ownerIds]);
}
