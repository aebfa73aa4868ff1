import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A slot is free when its call ends, not when its outcome commits.
 *
 * Before: a message counted against its queue's level until the group commit
 * of its outcome deleted it, so every slot sat idle for a commit wait plus a
 * claim between two calls (about 10 ms of every 30 ms at level 25 against a
 * 20 ms API in `npm run bench`). Now a dispatcher reports the calls that
 * ended in its next claim: the claim marks them 'done' (no longer counted)
 * before it counts what runs, in the same statement, under the same lock. The
 * outcome's commit then deletes or requeues the row as before.
 *
 * A 'done' row is still leased: if its process dies before the outcome
 * commits, the lease expires and the message runs again, as a running one
 * would (at-least-once).
 */
export class FinishedCallsFreeSlots1763930000000 implements MigrationInterface {
  name = 'FinishedCallsFreeSlots1763930000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE queue_message DROP CONSTRAINT queue_message_state_check`);
    await q.query(`ALTER TABLE queue_message ADD CONSTRAINT queue_message_state_check CHECK (state IN ('queued', 'running', 'done'))`);
    await q.query(`DROP INDEX queue_message_lease_expiry_idx`);
    await q.query(`CREATE INDEX queue_message_lease_expiry_idx ON queue_message (lease_expires_at) WHERE state IN ('running', 'done')`);
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, int, int)`);

    // As in 1763900000000-QueueEngine.ts, plus p_finished: the messages of
    // this queue whose calls ended since the caller's last claim.
    await q.query(`
      CREATE FUNCTION sluice_claim_messages(p_owner uuid, p_max int, p_lease_ms int, p_finished_ids bigint[], p_finished_leases uuid[])
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
        -- Only a level counts what runs, so only then is there a slot to free.
        -- SKIP LOCKED: a row whose outcome is being committed right now is
        -- locked by that commit; waiting for it would put every claim behind
        -- the completion batch again. Skipped, it simply counts as running
        -- until that commit deletes it.
        IF v_level IS NOT NULL AND cardinality(p_finished_ids) > 0 THEN
          UPDATE queue_message m SET state = 'done'
           WHERE m.id IN (SELECT q.id FROM queue_message q
                            JOIN unnest(p_finished_ids, p_finished_leases) AS f(id, lease_id)
                              ON q.id = f.id AND q.lease_id = f.lease_id
                           WHERE q.state = 'running'
                           FOR UPDATE OF q SKIP LOCKED);
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
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, int, int, bigint[], uuid[])`);
    await q.query(`DROP INDEX queue_message_lease_expiry_idx`);
    await q.query(`CREATE INDEX queue_message_lease_expiry_idx ON queue_message (lease_expires_at) WHERE state = 'running'`);
    await q.query(`ALTER TABLE queue_message DROP CONSTRAINT queue_message_state_check`);
    await q.query(`ALTER TABLE queue_message ADD CONSTRAINT queue_message_state_check CHECK (state IN ('queued', 'running'))`);
  }
}
