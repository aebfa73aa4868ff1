/**
 * Queue sizes and in-flight counts from queue_tally (migrations/
 * 1763920000000-QueueTally.ts; kept by functions/
 * sluice_tally_queue_messages.sql): exact, and a sum over a handful of rows per
 * queue owner whatever the queue's length, where count(*) over queue_message
 * would read every waiting message.
 */
import type { Queryable } from './queryable';

export interface QueueTally {
  /** Messages waiting (including retries waiting out their backoff). */
  queued: number;
  /** Messages whose call is in flight, in every process. */
  running: number;
}

/** The tally of each of these queue owners (zeros for an owner with nothing). */
export async function queueTallies(db: Queryable, ownerIds: readonly string[]): Promise<Map<string, QueueTally>> {
  const { rows } = await db.query<{ queue_owner_id: string; queued: string; running: string }>(
    `SELECT queue_owner_id, sum(queued) AS queued, sum(running) AS running
       FROM queue_tally
      WHERE queue_owner_id = ANY($1::uuid[])
      GROUP BY queue_owner_id`,
    [ownerIds],
  );
  const tallies = new Map<string, QueueTally>(ownerIds.map((id) => [id, { queued: 0, running: 0 }]));
  for (const r of rows) tallies.set(r.queue_owner_id, { queued: Number(r.queued), running: Number(r.running) });
  return tallies;
}

/** Messages waiting, per queue owner with any (for the Prometheus gauge). */
export async function queuedPerOwner(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await db.query<{ queue_owner_id: string; queued: string }>(
    `SELECT queue_owner_id, sum(queued) AS queued FROM queue_tally GROUP BY queue_owner_id HAVING sum(queued) <> 0`,
  );
  return new Map(rows.map((r) => [r.queue_owner_id, Number(r.queued)]));
}

/** Folds the delta rows into one per owner; a no-op while another process folds. */
export async function rollUpQueueTally(db: Queryable): Promise<void> {
  await db.query(`SELECT sluice_roll_up_queue_tally()`);
}
