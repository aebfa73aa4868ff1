-- sluice_claim_messages: the claim. Starts up to p_max messages from the
-- head of one queue, never more than the queue owner's level minus what
-- already runs, across every process; under a level, also reserves the next
-- few for the caller's hand-offs; and takes the caller's report of what ended
-- and what it handed off since its last claim. One call is one round trip
-- per batch (src/engine/sql/claimMessages.ts calls it).
--
-- Parameters
--   p_owner                           the queue owner (the end of the borrow chain)
--   p_max                             the caller's free room: the most messages to start
--   p_reserve                         how many reservations the caller wants to hold (0: give them back)
--   p_lease_ms                        the lease of what it starts or reserves
--   p_finished_ids, p_finished_leases calls that ended here since the last claim: their slots
--                                     stop counting ('done': the slot is free when the call
--                                     ends, not when its outcome commits; a 'done' row is
--                                     still leased, so a crash before the commit reruns it)
--   p_started_ids, p_started_leases   reservations started here in finished calls' slots
--   p_held_ids, p_held_leases         reservations held here, not started: free slots go to
--                                     them first (they are the head of the queue)
--
-- Returns the messages to start now (reserved = false), the new reservations
-- (reserved = true, attempts counting their start), and one info row (id
-- null): wait_ms (paused, or at the rateLimit: how long until something can
-- start), drained (fewer were ready than asked for: the caller may skip the
-- queue until it hears of new work), level_in_use (null: burst), released
-- (the held reservations went back to the queue: the caller forgets them).
-- No row at all: the queue owner is gone.
--
-- A reservation is a 'queued' row with a lease_id and run_after pushed to its
-- lease's expiry: no other claim takes it (each takes only run_after <= now()),
-- it counts as queued in queueSize, and if its process dies it simply runs
-- out. The level holds across processes because a hand-off is one for one:
-- the finished call's row stays 'running' until the claim that reports the
-- hand-off marks it 'done' and the started reservation 'running', in one
-- statement.
--
-- Locks
--   pg_advisory_xact_lock('sluice.queue:' || owner): one claim (or start on
--     enqueue, sluice_enqueue_messages) per queue at a time, across processes,
--     so concurrent claimers cannot all see the same free slots and overshoot
--     the level. The level is read inside the lock, so a setConcurrency
--     committed before the claim is obeyed by it.
--   Row locks FOR UPDATE ... SKIP LOCKED on the caller's finished, started and
--     held rows: a row locked by another transaction is one whose outcome is
--     being committed (or a reservation being changed) right now; waiting for
--     it put every claim behind the completion batch, and deadlocked against
--     a commit holding the job row and waiting for this claim's rows (found
--     by `npm run bench -- hiddenConcurrency`). Skipped, a finished row simply
--     counts as running until that commit deletes it.
--   The job rows of what starts (status RUNNING), by the UPDATE.
--
-- SET enable_bitmapscan = off: every statement here looks up a few rows by
-- key or reads the head of the queue in index order (queue_message_waiting_idx,
-- (queue_owner_id, id), stopping after N). Before the table had statistics
-- (right after a big enqueue), PostgreSQL chose a bitmap scan plus a sort and
-- read every waiting message on every claim: 5-13 ms per claim with 60,000
-- queued instead of about 1.2 ms. test/engine/claimMessages.test.ts counts
-- the index entries a claim reads.
--
-- Connection state (migrations/1765600000000-ConnectionState.ts): while the
-- queue owner is not ONLINE (OFFLINE: its application is away; PAUSED: by an
-- operator) nothing of the queue starts and the reservations go back; the
-- answer's wait_ms is then 60,000, a fallback only: the change back to
-- ONLINE notifies sluice_queue, which wakes every dispatcher of the queue. A
-- borrower that is not ONLINE itself (its credentials refused, or paused
-- alone) has its messages passed over in place: the others start around
-- them, and they keep their ids, so their place. The state is read inside the
-- lock, so a pause committed before a claim is obeyed by it.
--
-- A rate-limit pause holds the whole queue, not just the message that drew
-- the 429: otherwise every freed slot would send the next message into
-- another 429 until each had burnt its retries. rateLimit: at most
-- rate_limit_requests starts in any window of rate_limit_per_ms, counted
-- exactly from the start times of the last starts (connection.rate_starts).
CREATE OR REPLACE FUNCTION sluice_claim_messages(
  p_owner uuid, p_max integer, p_reserve integer, p_lease_ms integer,
  p_finished_ids bigint[], p_finished_leases uuid[],
  p_started_ids bigint[], p_started_leases uuid[],
  p_held_ids bigint[], p_held_leases uuid[])
RETURNS TABLE (id bigint, queue_owner_id uuid, connection_id uuid, job_id uuid, step_id uuid, payload jsonb,
               attempts integer, lease_id uuid, idempotency_key uuid, reserved boolean,
               wait_ms integer, drained boolean, level_in_use integer, released boolean)
LANGUAGE plpgsql
SET enable_bitmapscan = off
AS $$
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
  v_state text;
  v_held_connections uuid[];
BEGIN
  -- One claim per queue at a time, across processes (see Locks).
  PERFORM pg_advisory_xact_lock(hashtextextended('sluice.queue:' || p_owner::text, 0));
  SELECT c.concurrency_level, c.paused_until, c.rate_limit_requests, c.rate_limit_per_ms, c.rate_starts, c.state
    INTO v_level, v_paused, v_requests, v_per_ms, v_starts, v_state
    FROM connection c WHERE c.id = p_owner;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- Borrowers held on their own (connection_held_idx: almost always none).
  SELECT array_agg(c.id) INTO v_held_connections
    FROM connection c WHERE c.queue_owner_id = p_owner AND c.state <> 'ONLINE' AND c.id <> p_owner;
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
  -- other rows (`npm run bench -- hiddenConcurrency`).
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
  -- see Locks).
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
  v_reserve := CASE WHEN v_level IS NULL OR v_requests IS NOT NULL OR p_reserve <= 0 OR v_state <> 'ONLINE'
                      OR v_held_connections IS NOT NULL THEN 0
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
  IF v_state <> 'ONLINE' THEN
    RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid, NULL::boolean,
                        60000, false, v_level, false;
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
         AND (v_held_connections IS NULL OR q.connection_id <> ALL (v_held_connections))
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
$$;
