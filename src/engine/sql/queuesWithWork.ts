/**
 * queuesWithWork: the queue owners that have a message ready to start. The
 * polling fallback behind LISTEN/NOTIFY: one EXISTS probe per queue owner on
 * the (queue_owner_id, id) partial index, never a scan of the queue.
 */
import type { Queryable } from './queryable';

export async function queuesWithWork(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT c.id FROM connection c
      WHERE c.borrow_from_id IS NULL
        AND EXISTS (SELECT 1 FROM queue_message m
                     WHERE m.queue_owner_id = c.id AND m.state = 'queued' AND m.run_after <= now())`,
  );
  return rows.map((r) => r.id);
}

/**
 * queuedPerOwner: messages waiting per queue owner, for the Prometheus gauge.
 * A count over the waiting-message index; run once per scrape, not per request.
 */
export async function queuedPerOwner(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await db.query<{ queue_owner_id: string; queued: string }>(
    `SELECT queue_owner_id, count(*) AS queued FROM queue_message WHERE state = 'queued' GROUP BY queue_owner_id`,
  );
  return new Map(rows.map((r) => [r.queue_owner_id, Number(r.queued)]));
}
