/**
 * enqueueMessages: inserts messages behind those already queued and wakes the
 * processes that dispatch their queues; a single message into an idle queue
 * it starts at once, for a live engine.
 *
 * The work is the function sluice_enqueue_messages (functions/
 * sluice_enqueue_messages.sql, which says when it starts a message). The
 * queue owner is read from the connection at insert time, so a message
 * always joins the queue its connection uses now (borrowing may have moved
 * it); the batch keeps its order in the id sequence. Each queue owner that
 * gained a queued message is announced on sluice_queue; each message started
 * here is announced on sluice_start, with everything its engine needs to
 * run it (src/engine/startOnEnqueue.ts). One statement, so an autocommitted
 * call is one round trip, as graphile-worker's add_job is: every round trip
 * shows in enqueue-to-start latency. Inside a transaction, the NOTIFYs are
 * delivered at its commit.
 */
import { QUEUE_CHANNEL } from '../channels';
import type { NewMessage } from '../message';
import type { Queryable } from './queryable';

/** The queue owners the messages went to. */
export async function enqueueMessages(tx: Queryable, messages: NewMessage[]): Promise<string[]> {
  if (messages.length === 0) return [];
  const { rows } = await tx.query<{ queue_owner_id: string }>(`SELECT queue_owner_id FROM sluice_enqueue_messages($1::jsonb)`, [
    JSON.stringify(messages.map((m) => ({ connection_id: m.connectionId, job_id: m.jobId, step_id: m.stepId, payload: m.payload }))),
  ]);
  return rows.map((r) => r.queue_owner_id);
}

/** Wakes the dispatchers of these queues in every process (delivered at commit). */
export async function notifyQueues(tx: Queryable, ownerIds: string[]): Promise<void> {
  if (ownerIds.length === 0) return;
  await tx.query(`SELECT pg_notify('${QUEUE_CHANNEL}', owner::text) FROM unnest($1::uuid[]) AS owner`, [ownerIds]);
}
