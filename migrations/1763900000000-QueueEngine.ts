import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the queue engine needs on top of the foundation: a lease id per
 * claimed message (so a process whose lease expired cannot complete a message
 * another process now runs), a 'done' state, a flag for a job whose source
 * failed for good, and the claim function.
 *
 * 'done': a slot is free when its call ends, not when its outcome commits.
 * A dispatcher reports the calls that ended in its next claim, which marks
 * them 'done' (no longer counted against the level) before it counts what
 * runs, under the same lock. Before this, every slot sat idle for a commit
 * wait plus a claim between two calls: at level 25 against a 0 ms API,
 * `npm run bench -- level` went from 790 to 1,250 records/s with it. A 'done'
 * row is still leased: if its process dies before the outcome commits, the
 * lease expires and the message runs again, as a running one would.
 */
export class QueueEngine1763900000000 implements MigrationInterface {
  name = 'QueueEngine1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE queue_message ADD COLUMN lease_id uuid`);
    await q.query(`ALTER TABLE queue_message DROP CONSTRAINT queue_message_state_check`);
    await q.query(`ALTER TABLE queue_message ADD CONSTRAINT queue_message_state_check CHECK (state IN ('queued', 'running', 'done'))`);
    await q.query(`CREATE INDEX queue_message_lease_expiry_idx ON queue_message (lease_expires_at) WHERE state IN ('running', 'done')`);
    await q.query(`ALTER TABLE job ADD COLUMN source_failed boolean NOT NULL DEFAULT false`);

    // Rate-limit state of a queue owner, shared by every process
    // (src/engine/limit/recovery.ts says what each means and how it moves):
    //   paused_until          the whole queue waits until then (a 429's Retry-After, or a backoff)
    //   rate_limited_count    rate limits in a row without a success: the next backoff doubles
    //   known_good_level      the ceiling: the highest level known to work since the last rate limit
    //   recovery_successes    successes in the current round
    //   rounds_at_ceiling, probe_wait_rounds, probe_step   when and how far to probe above the ceiling
    //   rate_starts           start times of the last rateLimit.requests messages: the sliding window
    await q.query(`
      ALTER TABLE connection
        ADD COLUMN paused_until timestamptz,
        ADD COLUMN rate_limited_count int NOT NULL DEFAULT 0,
        ADD COLUMN known_good_level int,
        ADD COLUMN recovery_successes int NOT NULL DEFAULT 0,
        ADD COLUMN rounds_at_ceiling int NOT NULL DEFAULT 0,
        ADD COLUMN probe_wait_rounds int NOT NULL DEFAULT 8,
        ADD COLUMN probe_step int NOT NULL DEFAULT 1,
        ADD COLUMN rate_starts timestamptz[] NOT NULL DEFAULT '{}'`);

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
    // p_finished: the messages of this queue whose calls ended since the
    // caller's last claim (see 'done' above).
    await q.query(`
      CREATE FUNCTION sluice_claim_messages(p_owner uuid, p_max int, p_lease_ms int, p_finished_ids bigint[], p_finished_leases uuid[])
      RETURNS TABLE (id bigint, queue_owner_id uuid, connection_id uuid, job_id uuid, step_id uuid, payload jsonb,
                     attempts int, lease_id uuid, idempotency_key uuid, wait_ms int)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_now timestamptz := clock_timestamp();
        v_level int;
        v_free int;
        v_paused timestamptz;
        v_requests int;
        v_per_ms int;
        v_starts timestamptz[];
        v_claimed int;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended('sluice.queue:' || p_owner::text, 0));
        SELECT c.concurrency_level, c.paused_until, c.rate_limit_requests, c.rate_limit_per_ms, c.rate_starts
          INTO v_level, v_paused, v_requests, v_per_ms, v_starts
          FROM connection c WHERE c.id = p_owner;
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
        -- A rate-limit pause holds the whole queue, not just the message that
        -- drew the 429: otherwise every freed slot would send the next message
        -- into another 429 until each had burnt its retries.
        IF v_paused IS NOT NULL AND v_paused > v_now THEN
          RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid,
                              ceil(extract(epoch FROM v_paused - v_now) * 1000)::int;
          RETURN;
        END IF;
        IF v_level IS NULL THEN
          v_free := p_max;                       -- burst: no level
        ELSE
          SELECT least(p_max, v_level - count(*)) INTO v_free
            FROM queue_message q
           WHERE q.queue_owner_id = p_owner AND q.state = 'running';
        END IF;
        -- rateLimit: at most v_requests starts in any window of v_per_ms,
        -- counted exactly from the start times of the last v_requests starts.
        IF v_requests IS NOT NULL THEN
          v_starts := ARRAY(SELECT t FROM unnest(v_starts) AS t WHERE t > v_now - v_per_ms * interval '1 millisecond' ORDER BY t);
          IF cardinality(v_starts) >= v_requests AND v_free > 0 THEN
            RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid,
                                greatest(1, ceil(extract(epoch FROM v_starts[1] + v_per_ms * interval '1 millisecond' - v_now) * 1000))::int;
            RETURN;
          END IF;
          v_free := least(v_free, v_requests - cardinality(v_starts));
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
                 lease_expires_at = v_now + p_lease_ms * interval '1 millisecond'
           WHERE m.id IN (SELECT q.id FROM queue_message q
                           WHERE q.queue_owner_id = p_owner AND q.state = 'queued' AND q.run_after <= now()
                           ORDER BY q.id
                           LIMIT v_free)
          RETURNING m.id, m.queue_owner_id, m.connection_id, m.job_id, m.step_id, m.payload, m.attempts, m.lease_id, m.idempotency_key
        ), started AS (
          UPDATE job SET status = 'RUNNING', started_at = now()
           WHERE status = 'QUEUED' AND job.id IN (SELECT claimed.job_id FROM claimed)
        )
        SELECT claimed.*, NULL::int FROM claimed ORDER BY claimed.id;
        GET DIAGNOSTICS v_claimed = ROW_COUNT;
        IF v_requests IS NOT NULL AND v_claimed > 0 THEN
          UPDATE connection SET rate_starts = v_starts || array_fill(v_now, ARRAY[v_claimed]) WHERE connection.id = p_owner;
        END IF;
      END;
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, int, int, bigint[], uuid[])`);
    await q.query(`ALTER TABLE job DROP COLUMN source_failed`);
    await q.query(`
      ALTER TABLE connection
        DROP COLUMN paused_until, DROP COLUMN rate_limited_count, DROP COLUMN known_good_level,
        DROP COLUMN recovery_successes, DROP COLUMN rounds_at_ceiling, DROP COLUMN probe_wait_rounds,
        DROP COLUMN probe_step, DROP COLUMN rate_starts`);
    await q.query(`DROP INDEX queue_message_lease_expiry_idx`);
    await q.query(`ALTER TABLE queue_message DROP CONSTRAINT queue_message_state_check`);
    await q.query(`ALTER TABLE queue_message ADD CONSTRAINT queue_message_state_check CHECK (state IN ('queued', 'running'))`);
    await q.query(`ALTER TABLE queue_message DROP COLUMN lease_id`);
  }
}
