/**
 * queuesWithWork: the queue owners that have a message ready to start. The
 * polling fallback behind LISTEN/NOTIFY: one EXISTS probe per queue owner on
 * the (queue_owner_id, id) partial index, never a scan of the queue. A queue
 * owner that is not ONLINE has nothing to start (its change back notifies).
 */
import type { Queryable } from './queryable';

export async function queuesWithWork(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT c.id FROM connection c
      WHERE c.borrow_from_id IS NULL AND c.state = 'ONLINE'
        AND EXISTS (SELECT 1 FROM queue_message m
                     WHERE m.queue_owner_id = c.id AND m.state = 'queued' AND m.run_after <= now())`,
  );
  return rows.map((r) => r.id);
}
