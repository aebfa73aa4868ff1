import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ReservedMessages1763940000000 } from './1763940000000-ReservedMessages';

/**
 * The claim skips held reservations that another transaction has locked,
 * when it starts them in free slots and when it gives them back, and updates
 * a reservation that started and ended since the last claim only once. Otherwise
 * the same function as in 1763940000000-ReservedMessages (read its comments
 * there); same signature, so it is replaced in place and a process of the
 * previous release calls the new one.
 *
 * Why: a reservation handed off here while a claim that listed it as held
 * was on its way can end before that claim runs; its outcome's commit then
 * deletes the row. The claim, holding the rows of the calls it reported as
 * finished (taken with SKIP LOCKED), waited for that row, while the commit,
 * which also held a finished call's outcome, waited for the claim's rows:
 * a deadlock, found after PostgreSQL's deadlock_timeout (1 s), the commit
 * rolled back and retried 500 ms later. In `npm run bench -- hiddenConcurrency`
 * (BENCH_ENDPOINT_TRACE) that was a 1–1.5 s stall with nothing in flight in
 * about half the runs, at a fixed level 4 as under auto-recovery. A locked
 * reservation is one being completed or changed: skipping it is right.
 *
 * And a reservation reported both as started and as finished (it ran and
 * ended between two claims, more often now that hand-offs are reported in
 * batches: src/engine/handOffs.ts, reportDue) is updated once, not twice:
 * see the comment in the function.
 */
export class ClaimSkipsLockedReservations1763960000000 implements MigrationInterface {
  name = 'ClaimSkipsLockedReservations1763960000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION sluice_claim_messages(
        p_owner uuid, p_max int, p_reserve int, p_lease_ms int,
        p_finished_ids bigint[], p_finished_leases uuid[],
        p_started_ids bigint[], p_started_leases uuid[],
        p_held_ids bigint[], p_held_leases uuid[])
      RETURNS TABLE (id bigint, queue_owner_id uuid, connection_id uuid, job_id uuid, step_id uuid, payload jsonb,
                     attempts int, lease_id uuid, idempotency_key uuid, reserved boolean,
                     wait_ms int, drained boolean, level_in_use int, released boolean)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_now timestamptz := clock_timestamp();
        v_lease_until timestamptz := clock_timestamp() + p_lease_ms * interval '1 millisecond';
        v_level int;
        v_paused timestamptz;
        v_requests int;
        v_per_ms int;
        v_starts timestamptz[];
        v_free int;
        v_held int := 0;
        v_reserve int;
        v_promoted int := 0;
        v_claimed int := 0;
        v_started int := 0;
      BEGIN
        -- One claim per queue at a time, across processes (as before).
        PERFORM pg_advisory_xact_lock(hashtextextended('sluice.queue:' || p_owner::text, 0));
        SELECT c.concurrency_level, c.paused_until, c.rate_limit_requests, c.rate_limit_per_ms, c.rate_starts
          INTO v_level, v_paused, v_requests, v_per_ms, v_starts
          FROM connection c WHERE c.id = p_owner;
        IF NOT FOUND THEN
          RETURN;
        END IF;
        -- Reserved messages started here in ended calls' slots count now; the
        -- ended calls stop counting just below, in the same transaction: one
        -- for one. A reservation that was started and has ended too,
        -- reported in both lists, goes straight to 'done' in this one
        -- UPDATE: updated twice in one transaction, its row had its foreign
        -- keys checked again (KEY SHARE on its job), which waited for a
        -- completion holding the job row, itself waiting for a finished row
        -- this claim held: a deadlock.
        -- SKIP LOCKED: a started message whose outcome is being committed
        -- right now (a fast call) is locked by that commit, which deletes it
        -- or puts it back; waiting for it deadlocked against the commit's
        -- other rows (\`npm run bench -- hiddenConcurrency\`).
        IF cardinality(p_started_ids) > 0 THEN
          WITH started AS (
            UPDATE queue_message m
               SET state = CASE WHEN (m.id, m.lease_id) IN (SELECT * FROM unnest(p_finished_ids, p_finished_leases))
                                THEN 'done' ELSE 'running' END,
                   attempts = m.attempts + 1, lease_expires_at = v_lease_until
             WHERE m.id IN (SELECT q.id FROM queue_message q
                              JOIN unnest(p_started_ids, p_started_leases) AS s(id, lease_id)
                                ON q.id = s.id AND q.lease_id = s.lease_id
                             WHERE q.state = 'queued'
                             FOR UPDATE OF q SKIP LOCKED)
            RETURNING m.job_id
          )
          UPDATE job SET status = 'RUNNING', started_at = now()
           WHERE status = 'QUEUED' AND job.id IN (SELECT started.job_id FROM started);
        END IF;
        -- Calls that ended here stop counting against the level (SKIP LOCKED:
        -- see 1763900000000-QueueEngine).
        IF v_level IS NOT NULL AND cardinality(p_finished_ids) > 0 THEN
          UPDATE queue_message m SET state = 'done'
           WHERE m.id IN (SELECT q.id FROM queue_message q
                            JOIN unnest(p_finished_ids, p_finished_leases) AS f(id, lease_id)
                              ON q.id = f.id AND q.lease_id = f.lease_id
                           WHERE q.state = 'running'
                           FOR UPDATE OF q SKIP LOCKED);
        END IF;
        IF cardinality(p_held_ids) > 0 THEN
          SELECT count(*) INTO v_held
            FROM queue_message q JOIN unnest(p_held_ids, p_held_leases) AS h(id, lease_id)
              ON q.id = h.id AND q.lease_id = h.lease_id
           WHERE q.state = 'queued';
        END IF;
        -- Reservations only under a level, and never with a rateLimit (a
        -- hand-off starts a call without the claim that counts it in the
        -- window). A pause keeps them (no hand-off happens meanwhile: the
        -- dispatcher waits for a claim that is not paused), so that a
        -- hand-off racing the pause never starts a message that is back in
        -- the queue for anyone to claim.
        v_reserve := CASE WHEN v_level IS NULL OR v_requests IS NOT NULL OR p_reserve <= 0 THEN 0
                          ELSE least(p_reserve, v_level) END;
        IF v_reserve = 0 AND v_held > 0 THEN
          -- No level any more, a rateLimit, or the caller is stopping.
          UPDATE queue_message m SET lease_id = NULL, lease_expires_at = NULL, run_after = now()
           WHERE m.id IN (SELECT q.id FROM queue_message q
                            JOIN unnest(p_held_ids, p_held_leases) AS h(id, lease_id)
                              ON q.id = h.id AND q.lease_id = h.lease_id
                           WHERE q.state = 'queued'
                           FOR UPDATE OF q SKIP LOCKED);
          -- Nothing more in this transaction: claiming a row it has just
          -- released would make PostgreSQL check the row's foreign keys again
          -- (KEY SHARE on its job), which deadlocks against a completion that
          -- holds the job's row and waits for ours. The caller claims again.
          RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid, NULL::boolean,
                              NULL::int, false, v_level, true;
          RETURN;
        END IF;
        IF v_paused IS NOT NULL AND v_paused > v_now THEN
          RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid, NULL::boolean,
                              ceil(extract(epoch FROM v_paused - v_now) * 1000)::int, false, v_level, false;
          RETURN;
        END IF;
        IF v_level IS NULL THEN
          v_free := greatest(0, p_max);
        ELSE
          SELECT greatest(0, least(p_max, v_level - count(*))) INTO v_free
            FROM queue_message q
           WHERE q.queue_owner_id = p_owner AND q.state = 'running';
        END IF;
        IF v_requests IS NOT NULL THEN
          v_starts := ARRAY(SELECT t FROM unnest(v_starts) AS t WHERE t > v_now - v_per_ms * interval '1 millisecond' ORDER BY t);
          IF cardinality(v_starts) >= v_requests AND v_free > 0 THEN
            RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid, NULL::boolean,
                                greatest(1, ceil(extract(epoch FROM v_starts[1] + v_per_ms * interval '1 millisecond' - v_now) * 1000))::int,
                                false, v_level, false;
            RETURN;
          END IF;
          v_free := least(v_free, v_requests - cardinality(v_starts));
        END IF;
        -- Free slots go to the caller's own reservations first: they are the
        -- head of the queue.
        IF v_free > 0 AND v_held > 0 THEN
          RETURN QUERY
          WITH promoted AS (
            UPDATE queue_message m
               SET state = 'running', attempts = m.attempts + 1, lease_expires_at = v_lease_until
             WHERE m.id IN (SELECT q.id FROM queue_message q
                              JOIN unnest(p_held_ids, p_held_leases) AS h(id, lease_id)
                                ON q.id = h.id AND q.lease_id = h.lease_id
                             WHERE q.state = 'queued'
                             ORDER BY q.id
                             LIMIT v_free
                             FOR UPDATE OF q SKIP LOCKED)
            RETURNING m.id, m.queue_owner_id, m.connection_id, m.job_id, m.step_id, m.payload, m.attempts, m.lease_id, m.idempotency_key
          ), started AS (
            UPDATE job SET status = 'RUNNING', started_at = now()
             WHERE status = 'QUEUED' AND job.id IN (SELECT promoted.job_id FROM promoted)
          )
          SELECT promoted.*, false, NULL::int, NULL::boolean, NULL::int, NULL::boolean FROM promoted ORDER BY promoted.id;
          GET DIAGNOSTICS v_promoted = ROW_COUNT;
          v_free := v_free - v_promoted;
          v_held := v_held - v_promoted;
        END IF;
        v_reserve := greatest(0, v_reserve - v_held);
        IF v_free + v_reserve > 0 THEN
          -- The head: the oldest v_free start now, the next v_reserve are
          -- reserved (their run_after hides them from every other claim).
          RETURN QUERY
          WITH head AS (
            SELECT q.id, row_number() OVER (ORDER BY q.id) AS n
              FROM queue_message q
             WHERE q.queue_owner_id = p_owner AND q.state = 'queued' AND q.run_after <= now()
             ORDER BY q.id
             LIMIT v_free + v_reserve
          ), claimed AS (
            UPDATE queue_message m
               SET state = CASE WHEN h.n <= v_free THEN 'running' ELSE 'queued' END,
                   attempts = m.attempts + (h.n <= v_free)::int,
                   lease_id = gen_random_uuid(),
                   lease_expires_at = v_lease_until,
                   run_after = CASE WHEN h.n <= v_free THEN m.run_after ELSE v_lease_until END
              FROM head h
             WHERE m.id = h.id
            -- attempts: including the start, for a reservation too (it is what it will be when started).
            RETURNING m.id, m.queue_owner_id, m.connection_id, m.job_id, m.step_id, m.payload,
                      m.attempts + (h.n > v_free)::int AS attempts, m.lease_id, m.idempotency_key, h.n > v_free AS reserved
          ), started AS (
            UPDATE job SET status = 'RUNNING', started_at = now()
             WHERE status = 'QUEUED' AND job.id IN (SELECT claimed.job_id FROM claimed WHERE NOT claimed.reserved)
          )
          SELECT claimed.*, NULL::int, NULL::boolean, NULL::int, NULL::boolean FROM claimed ORDER BY claimed.id;
          GET DIAGNOSTICS v_claimed = ROW_COUNT;
          v_started := least(v_claimed, v_free);
          IF v_requests IS NOT NULL AND v_started > 0 THEN
            UPDATE connection SET rate_starts = v_starts || array_fill(v_now, ARRAY[v_started]) WHERE connection.id = p_owner;
          END IF;
        END IF;
        -- Drained: fewer were ready than asked for. Held back by the level
        -- alone (nothing asked for) is not drained: the queue may hold more.
        RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid, NULL::boolean,
                            NULL::int, (v_free + v_reserve > 0 AND v_claimed < v_free + v_reserve), v_level, false;
      END;
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Back to the previous release's function, as its migration created it.
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, int, int, int, bigint[], uuid[], bigint[], uuid[], bigint[], uuid[])`);
    await new ReservedMessages1763940000000().up(q);
  }
}
