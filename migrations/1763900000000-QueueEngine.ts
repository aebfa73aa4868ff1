import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the queue engine needs on top of the foundation: a lease id per
 * claimed message (so a process whose lease expired cannot complete a message
 * another process now runs), a flag for a job whose source failed for good,
 * and the claim function.
 */
export class QueueEngine1763900000000 implements MigrationInterface {
  name = 'QueueEngine1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE queue_message ADD COLUMN lease_id uuid`);
    await q.query(`CREATE INDEX queue_message_lease_expiry_idx ON queue_message (lease_expires_at) WHERE state = 'running'`);
    await q.query(`ALTER TABLE job ADD COLUMN source_failed boolean NOT NULL DEFAULT false`);

    // Claims up to p_max messages from the head of one queue, never more than
    // the queue owner's level minus what already runs, across all processes.
    //
    // Locks: a transaction-scoped advisory lock on the queue owner serializes
    // check-and-claim per queue, so concurrent claimers cannot all see the same
    // free slots and overshoot the level. The level is read inside the lock,
    // so a setConcurrency committed before the claim is obeyed by it.
    // One function call is one round trip per batch of claims.
    //
    // Messages whose run_after lies ahead (a retry waiting out its backoff) are
    // passed over; the rest start in id order, which is enqueue order.
    // Claiming also marks the claimed messages' QUEUED jobs as RUNNING.
    await q.query(`
      CREATE FUNCTION sluice_claim_messages(p_owner uuid, p_max int, p_lease_ms int)
      RETURNS SETOF queue_message
      LANGUAGE plpgsql AS $$
      DECLARE
        v_level int;
        v_free int;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended('sluice.queue:' || p_owner::text, 0));
        SELECT concurrency_level INTO v_level FROM connection WHERE id = p_owner;
        IF NOT FOUND THEN
          RETURN;
        END IF;
        IF v_level IS NULL THEN
          v_free := p_max;                       -- burst: no level
        ELSE
          SELECT least(p_max, v_level - count(*)) INTO v_free
            FROM queue_message
           WHERE queue_owner_id = p_owner AND state = 'running';
        END IF;
        IF v_free <= 0 THEN
          RETURN;
        END IF;
        RETURN QUERY
        WITH claimed AS (
          UPDATE queue_message m
             SET state = 'running',
                 attempts = m.attempts + 1,
                 lease_id = gen_random_uuid(),
                 lease_expires_at = clock_timestamp() + p_lease_ms * interval '1 millisecond'
           WHERE m.id IN (SELECT id FROM queue_message
                           WHERE queue_owner_id = p_owner AND state = 'queued' AND run_after <= now()
                           ORDER BY id
                           LIMIT v_free)
          RETURNING m.*
        ), started AS (
          UPDATE job SET status = 'RUNNING', started_at = now()
           WHERE status = 'QUEUED' AND id IN (SELECT job_id FROM claimed)
        )
        SELECT * FROM claimed ORDER BY id;
      END;
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, int, int)`);
    await q.query(`ALTER TABLE job DROP COLUMN source_failed`);
    await q.query(`DROP INDEX queue_message_lease_expiry_idx`);
    await q.query(`ALTER TABLE queue_message DROP COLUMN lease_id`);
  }
}
