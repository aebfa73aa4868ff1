import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reserved messages: a claim may also take the next few messages of a queue
 * with a level as *reserved* for the claiming process, so that when one of
 * its calls ends it starts the next message at once, in the finished call's
 * slot, instead of waiting a claim's round trip with the slot idle
 * (src/engine/dispatcher.ts, "hand-off").
 *
 * Why: at a low level the freed slot's round trip is a large share of each
 * call. `npm run bench -- level` with BENCH_LEVEL=4 and a 20 ms endpoint: a
 * call took 21.8 ms, the claim that followed its end 2.1 ms (p50) plus
 * 0.3 ms waiting for the claim before it: ~10 % of the queue's throughput,
 * and more against a hidden concurrency limit (issue #5's 85 % target).
 *
 * A reservation is a 'queued' row with a lease_id and run_after pushed to the
 * lease's expiry. So:
 * - no other claim takes it (every claim, of this release or an older one,
 *   takes only rows with run_after <= now()), and the polling probe
 *   (queuesWithWork) does not count it as work;
 * - it still counts as queued in queueSize (the tally triggers see 'queued');
 * - if its process dies, the reservation simply runs out and the message is
 *   claimable again: no requeue needed (the order of a dead process's
 *   messages was never kept anyway);
 * - a canceled job's reserved messages are deleted with its other queued ones.
 *
 * The level holds across processes because a hand-off is one for one: the
 * finished call's row stays 'running' until the claim that reports the
 * hand-off marks it 'done' and the started reserved row 'running' in the same
 * statement; the finished call's outcome is committed only after that claim
 * (the dispatcher holds it back), so no commit frees the slot in between.
 *
 * The new function is an overload (more arguments), not a replacement: a
 * process of the previous release keeps claiming with the old one during a
 * rolling deploy, and skips reserved rows because of their run_after.
 */
export class ReservedMessages1763940000000 implements MigrationInterface {
  name = 'ReservedMessages1763940000000';

  async up(q: QueryRunner): Promise<void> {
    // Arguments, besides the owner, the caller's free room (p_max), the
    // reservations it wants to hold (p_reserve) and the lease: three lists of
    // (id, lease) pairs: `finished` (calls that ended here since the last
    // claim), `started` (reserved messages started here in a finished call's
    // slot), `held` (reservations this caller still holds, unstarted).
    //
    // Returns the messages to start now (reserved = false), the new
    // reservations (reserved = true), and one info row (id null) with
    // wait_ms (paused or at the rateLimit), drained (fewer were ready than
    // asked for), level_in_use (null: burst), released (the held
    // reservations went back to the queue: the caller forgets them).
    await q.query(`
      CREATE FUNCTION sluice_claim_messages(
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
        -- for one. (First, so that a reservation that was started and has
        -- ended too, reported in both lists, ends up 'done'.)
        -- SKIP LOCKED: a started message whose outcome is being committed
        -- right now (a fast call) is locked by that commit, which deletes it
        -- or puts it back; waiting for it deadlocked against the commit's
        -- other rows (\`npm run bench -- hiddenConcurrency\`).
        IF cardinality(p_started_ids) > 0 THEN
          WITH started AS (
            UPDATE queue_message m
               SET state = 'running', attempts = m.attempts + 1, lease_expires_at = v_lease_until
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
            FROM unnest(p_held_ids, p_held_leases) AS h(id, lease_id)
           WHERE m.id = h.id AND m.lease_id = h.lease_id AND m.state = 'queued';
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
                             LIMIT v_free)
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
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, int, int, int, bigint[], uuid[], bigint[], uuid[], bigint[], uuid[])`);
  }
}
