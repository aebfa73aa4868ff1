/**
 * Leases: a claimed message belongs to its process until lease_expires_at.
 * A live process extends the leases of what it runs (heartbeat); any process
 * puts expired ones back in their queue (the process that held them died),
 * which is what makes delivery at-least-once.
 */
import type { Queryable } from './queryable';
import { notifyQueues } from './enqueueMessages';

/**
 * Heartbeat: pushes the expiry of these leases `leaseMs` ahead: of running
 * messages, and of prefetched ones (a prefetched message's run_after is its
 * expiry: see functions/sluice_claim.sql). By id, on the primary key,
 * with the lease as proof: a message whose lease changed hands is not ours.
 */
export async function extendLeases(db: Queryable, leased: readonly { id: string; leaseId: string }[], leaseMs: number): Promise<void> {
  if (leased.length === 0) return;
  await db.query(
    `UPDATE queue_message m
        SET lease_expires_at = clock_timestamp() + $3 * interval '1 millisecond',
            run_after = CASE WHEN m.state = 'queued' THEN clock_timestamp() + $3 * interval '1 millisecond' ELSE m.run_after END
       FROM unnest($1::bigint[], $2::uuid[]) AS l(id, lease_id)
      WHERE m.id = l.id AND m.lease_id = l.lease_id`,
    [leased.map((m) => m.id), leased.map((m) => m.leaseId), leaseMs],
  );
}

/**
 * Expired leases ('running', or 'done' with its outcome never committed): a message of a live job goes back to the head of its queue
 * (it keeps its id; the attempt it used stays used, so a message that kills
 * its process every time still runs out of attempts); a message of a job that
 * is over is dropped. Uses the partial index on lease_expires_at.
 */
export async function requeueExpired(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ queue_owner_id: string }>(
    `WITH expired AS (
       SELECT m.id, (j.status IN ('QUEUED', 'RUNNING')) AS live
         FROM queue_message m JOIN job j ON j.id = m.job_id
        WHERE m.state IN ('running', 'done') AND m.lease_expires_at < clock_timestamp()
        FOR UPDATE OF m SKIP LOCKED
     ), dropped AS (
       DELETE FROM queue_message WHERE id IN (SELECT id FROM expired WHERE NOT live)
     )
     UPDATE queue_message m
        SET state = 'queued', lease_id = NULL, lease_expires_at = NULL, run_after = now()
       FROM expired e
      WHERE m.id = e.id AND e.live
      RETURNING m.queue_owner_id`,
  );
  await notifyQueues(db, [...new Set(rows.map((r) => r.queue_owner_id))]);
  return rows.length;
}
