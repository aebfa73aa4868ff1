import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * sluice_claim_messages says whether the queue is drained: after its claim,
 * no message of the queue is ready to start (fewer were ready than there were
 * free slots). Otherwise the same function as in 1763900000000-QueueEngine
 * (read its comments there); every call now also returns one row with a null
 * id that carries wait_ms and drained.
 *
 * Why: a dispatcher claimed again whenever one of its calls ended, to report
 * the freed slot and take the next message. On a drained queue that claim
 * finds nothing: a wasted round trip per call, and on an idle queue it was in
 * flight just when the next message's NOTIFY arrived, which then waited behind
 * it (enqueue-to-start, `npm run bench -- latency`). Knowing the queue is
 * drained, the dispatcher skips it: the slot is freed by the outcome's commit
 * or reported by the next claim, whichever comes first. A claim held back by
 * the level (no free slot) or by a pause is never "drained": the queue may
 * well hold more.
 *
 * The return type changes, so the function is dropped and created again; a
 * process still running the previous release fails its claims until it is
 * replaced (its messages are not lost: their leases expire).
 */
/**
 * The claim function, with `drained` (this migration) or as
 * 1763900000000-QueueEngine created it (to go back down); its comments are
 * there.
 */
function claimFunction(drained: boolean): string {
  return `
      CREATE FUNCTION sluice_claim_messages(p_owner uuid, p_max int, p_lease_ms int, p_finished_ids bigint[], p_finished_leases uuid[])
      RETURNS TABLE (id bigint, queue_owner_id uuid, connection_id uuid, job_id uuid, step_id uuid, payload jsonb,
                     attempts int, lease_id uuid, idempotency_key uuid, wait_ms int${drained ? ', drained boolean' : ''})
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
        IF v_level IS NOT NULL AND cardinality(p_finished_ids) > 0 THEN
          UPDATE queue_message m SET state = 'done'
           WHERE m.id IN (SELECT q.id FROM queue_message q
                            JOIN unnest(p_finished_ids, p_finished_leases) AS f(id, lease_id)
                              ON q.id = f.id AND q.lease_id = f.lease_id
                           WHERE q.state = 'running'
                           FOR UPDATE OF q SKIP LOCKED);
        END IF;
        IF v_paused IS NOT NULL AND v_paused > v_now THEN
          RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid,
                              ceil(extract(epoch FROM v_paused - v_now) * 1000)::int${drained ? ', false' : ''};
          RETURN;
        END IF;
        IF v_level IS NULL THEN
          v_free := p_max;
        ELSE
          SELECT least(p_max, v_level - count(*)) INTO v_free
            FROM queue_message q
           WHERE q.queue_owner_id = p_owner AND q.state = 'running';
        END IF;
        IF v_requests IS NOT NULL THEN
          v_starts := ARRAY(SELECT t FROM unnest(v_starts) AS t WHERE t > v_now - v_per_ms * interval '1 millisecond' ORDER BY t);
          IF cardinality(v_starts) >= v_requests AND v_free > 0 THEN
            RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid,
                                greatest(1, ceil(extract(epoch FROM v_starts[1] + v_per_ms * interval '1 millisecond' - v_now) * 1000))::int${drained ? ', false' : ''};
            RETURN;
          END IF;
          v_free := least(v_free, v_requests - cardinality(v_starts));
        END IF;
        IF v_free <= 0 THEN
          ${drained ? `-- Held back by the level (or the caller's own bound): not drained.
          RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid,
                              NULL::int, false;` : ''}
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
        SELECT claimed.*, NULL::int${drained ? ', NULL::boolean' : ''} FROM claimed ORDER BY claimed.id;
        GET DIAGNOSTICS v_claimed = ROW_COUNT;
        IF v_requests IS NOT NULL AND v_claimed > 0 THEN
          UPDATE connection SET rate_starts = v_starts || array_fill(v_now, ARRAY[v_claimed]) WHERE connection.id = p_owner;
        END IF;
        ${drained ? `-- Fewer were ready than there was room for: nothing is ready now.
        RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid,
                            NULL::int, v_claimed < v_free;` : ''}
      END;
      $$`;
}

export class ClaimSaysWhenDrained1763930000000 implements MigrationInterface {
  name = 'ClaimSaysWhenDrained1763930000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, int, int, bigint[], uuid[])`);
    await q.query(claimFunction(true));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, int, int, bigint[], uuid[])`);
    await q.query(claimFunction(false));
  }
}
