-- sluice_claim: the claim, the one way messages leave a queue for a process.
-- Starts up to `max` messages from the head of one queue, never more than
-- the queue owner's level minus what already runs, across every process;
-- and, under a level, leases the next few to the caller as its prefetch:
-- the messages its dispatcher starts, without a round trip, in the slot of a
-- call that ends (the commit of that call's outcome then marks the
-- prefetched one running in the same statement: sluice_complete_messages).
-- src/engine/sql/claim.ts calls it for a dispatcher; sluice_enqueue_messages
-- calls it for the engine it starts a message for ("start on enqueue" is
-- this claim, made by the enqueue on that engine's behalf).
--
-- Parameter p_claim, one JSON object:
--   owner     the queue owner (the end of the borrow chain)
--   engine    the claiming engine (engine_instance.id), for its fair share
--             of the level; null: no share is counted (the enqueue's claim)
--   max       the caller's free room: the most messages to start now
--   calls     the calls the caller has in flight for this queue: with its
--             share, what it may start now
--   prefetch  how many prefetched messages the caller wants to hold after
--             this claim (at most twice its share); 0: none, and the held
--             ones go back to the queue (only then: see the release below)
--   lease_ms  the lease of what it starts or prefetches
--   try_lock  true: if another transaction holds the queue's lock, claim
--             nothing and return no row (the enqueue's claim, which would
--             otherwise hold the lock for the rest of its caller's
--             transaction while a claim waits for it)
--   held      [{id, lease_id}]: prefetched messages the caller holds and has
--             not started. Free slots go to them first (they are the head of
--             the queue).
--
-- Returns the messages to start now (prefetched = false), the new prefetch
-- (prefetched = true, attempts counting their start), and one info row (id
-- null): wait_ms (paused, or at the rateLimit: how long until something can
-- start), drained (fewer were ready than asked for: the caller may skip the
-- queue until it hears of new work), level_in_use (null: burst), share (the
-- most calls the caller should keep in flight: its part of the level among
-- the live engines that claimed the queue in the last 3 s, the parts adding up to
-- the level; null: burst),
-- may_prefetch (false: paused, not ONLINE, a rateLimit or burst: the caller
-- stops starting its prefetch and gives it back with its next claim),
-- released (the held prefetch was given back), held_kept (the held messages
-- still the caller's after this claim: not started, not given back, not
-- gone with a cancel; the caller keeps exactly these, so that a row it can
-- no longer start is not handed on, and one a release skipped, locked by a
-- heartbeat at that moment, is not forgotten while still leased). No row at all: the queue owner is gone.
--
-- A prefetched message is a 'queued' row with a lease_id and run_after
-- pushed to its lease's expiry: no other claim takes it (each takes only
-- run_after <= now()), it counts as queued in queueSize, and if its process
-- dies it simply runs out and is claimed again, keeping its id, so its
-- place. Prefetching only under a level, with no rateLimit (a start from
-- the prefetch is not counted in the window), while every connection of the
-- queue is ONLINE.
--
-- Locks
--   pg_advisory_xact_lock('sluice.queue:' || owner): one claim per queue at a
--     time, across processes, so concurrent claimers cannot all see the same
--     free slots and overshoot the level. The level, the pause and the
--     states are read inside the lock, so a setConcurrency, a rate-limit
--     pause or a pauseConnection committed before the claim is obeyed by it.
--   Row locks FOR UPDATE ... SKIP LOCKED on the caller's held rows: a row
--     locked by another transaction is one being changed right now (a
--     commit starting it in a slot, a cancel); waiting for it put claims
--     behind the completion batch and deadlocked against a commit holding
--     the job row (found by `npm run bench -- hiddenConcurrency`).
--   The job rows of what starts (status RUNNING), by the UPDATE.
--   The caller's queue_claimer row (an upsert).
--
-- SET enable_bitmapscan = off: every statement here looks up a few rows by
-- key or reads the head of the queue in index order (queue_message_waiting_idx,
-- (queue_owner_id, id), stopping after N). Before the table had statistics
-- (right after a big enqueue), PostgreSQL chose a bitmap scan plus a sort and
-- read every waiting message on every claim: 5-13 ms per claim with 60,000
-- queued instead of about 1.2 ms. test/engine/claim.test.ts counts the index
-- entries a claim reads.
--
-- Connection state: while the queue owner is not ONLINE (OFFLINE: its
-- application is away; PAUSED: by an operator) nothing of the queue starts
-- and the prefetch goes back; wait_ms is then 60,000, a fallback only: the
-- change back to ONLINE notifies sluice_queue. A borrower that is not ONLINE
-- itself has its messages passed over in place: the others start around
-- them, and they keep their ids, so their place.
--
-- A rate-limit pause holds the whole queue, not just the message that drew
-- the 429: otherwise every freed slot would send the next message into
-- another 429 until each had burnt its retries. rateLimit: at most
-- rate_limit_requests starts in any window of rate_limit_per_ms, counted
-- exactly from the start times of the last starts (connection.rate_starts).
CREATE OR REPLACE FUNCTION sluice_claim(p_claim jsonb)
RETURNS TABLE (id bigint, queue_owner_id uuid, connection_id uuid, job_id uuid, step_id uuid, payload jsonb,
               attempts integer, lease_id uuid, idempotency_key uuid, prefetched boolean,
               wait_ms integer, drained boolean, level_in_use integer, share integer, may_prefetch boolean, released boolean,
               held_kept bigint[])
LANGUAGE plpgsql
SET enable_bitmapscan = off
AS $$
DECLARE
  v_owner uuid := (p_claim->>'owner')::uuid;
  v_engine uuid := (p_claim->>'engine')::uuid;
  v_max int := greatest(0, coalesce((p_claim->>'max')::int, 0));
  v_calls int := greatest(0, coalesce((p_claim->>'calls')::int, 0));
  v_want_prefetch int := greatest(0, coalesce((p_claim->>'prefetch')::int, 0));
  v_lease_until timestamptz := clock_timestamp() + (p_claim->>'lease_ms')::int * interval '1 millisecond';
  v_now timestamptz := clock_timestamp();
  v_level int;
  v_paused timestamptz;
  v_requests int;
  v_per_ms int;
  v_starts timestamptz[];
  v_state text;
  v_held_connections uuid[];
  v_held_ids bigint[];
  v_held_leases uuid[];
  v_share int;
  v_free int;
  v_depth int := 0;
  v_held int := 0;
  v_promoted int := 0;
  v_claimed int := 0;
  v_started int := 0;
  v_may_prefetch boolean;
  v_claimers int;
  v_rank int;
  -- The info row, set by whichever branch ends the claim.
  v_wait_ms int;
  v_drained boolean := false;
  v_released boolean := false;
BEGIN
  -- One claim per queue at a time, across processes (see Locks).
  IF coalesce((p_claim->>'try_lock')::boolean, false) THEN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('sluice.queue:' || v_owner::text, 0)) THEN
      RETURN;
    END IF;
  ELSE
    PERFORM pg_advisory_xact_lock(hashtextextended('sluice.queue:' || v_owner::text, 0));
  END IF;
  SELECT c.concurrency_level, c.paused_until, c.rate_limit_requests, c.rate_limit_per_ms, c.rate_starts, c.state
    INTO v_level, v_paused, v_requests, v_per_ms, v_starts, v_state
    FROM connection c WHERE c.id = v_owner;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- Borrowers held on their own (connection_held_idx: almost always none).
  SELECT array_agg(c.id) INTO v_held_connections
    FROM connection c WHERE c.queue_owner_id = v_owner AND c.state <> 'ONLINE' AND c.id <> v_owner;
  SELECT coalesce(array_agg((h->>'id')::bigint), '{}'), coalesce(array_agg((h->>'lease_id')::uuid), '{}')
    INTO v_held_ids, v_held_leases
    FROM jsonb_array_elements(coalesce(p_claim->'held', '[]')) AS h;
  IF cardinality(v_held_ids) > 0 THEN
    SELECT count(*) INTO v_held
      FROM queue_message q JOIN unnest(v_held_ids, v_held_leases) AS h(id, lease_id)
        ON q.id = h.id AND q.lease_id = h.lease_id
     WHERE q.state = 'queued' AND q.queue_owner_id = v_owner;
  END IF;

  -- The caller's fair share: the level split among the engines that claimed
  -- this queue in the last 3 s (it included; a claim asking for nothing does
  -- not count as wanting).
  IF v_level IS NULL THEN
    v_share := NULL;
  ELSIF v_engine IS NULL THEN
    v_share := v_level;
  ELSE
    IF v_max + v_want_prefetch > 0 THEN
      INSERT INTO queue_claimer AS k (queue_owner_id, engine_id, seen_at) VALUES (v_owner, v_engine, v_now)
      ON CONFLICT ON CONSTRAINT queue_claimer_pkey DO UPDATE SET seen_at = excluded.seen_at;
    END IF;
    DELETE FROM queue_claimer k WHERE k.queue_owner_id = v_owner AND k.seen_at < v_now - interval '3 seconds';
    -- The level split so that the shares add up to it exactly (the first
    -- engines by id take one more of the remainder): hand-ons keep the
    -- running count as it is, so shares adding up to more would keep an
    -- overshoot left by a lowered level for ever.
    -- Only engines alive now count (a stopped one has left engine_instance,
    -- a crashed one's registration runs out within seconds): a share kept
    -- for one that is gone would be a part of the level nobody runs.
    SELECT count(*), count(*) FILTER (WHERE k.engine_id < v_engine) INTO v_claimers, v_rank
      FROM queue_claimer k
     WHERE k.queue_owner_id = v_owner
       AND (k.engine_id = v_engine
            OR EXISTS (SELECT 1 FROM engine_instance e WHERE e.id = k.engine_id AND e.alive_until > v_now));
    v_claimers := greatest(1, v_claimers);
    v_share := v_level / v_claimers + CASE WHEN v_rank < v_level % v_claimers THEN 1 ELSE 0 END;
  END IF;

  -- The claim proper: a branch that ends it sets the info row and leaves
  -- the block, so that the row is written in one place, below.
  <<claim>>
  BEGIN
    v_may_prefetch := v_level IS NOT NULL AND v_requests IS NULL AND v_state = 'ONLINE' AND v_held_connections IS NULL
                      AND (v_paused IS NULL OR v_paused <= v_now);
    IF v_may_prefetch THEN
      v_depth := least(v_want_prefetch, 2 * v_share);
    END IF;
    IF v_want_prefetch = 0 AND v_held > 0 THEN
      -- Only the caller gives its prefetch back (stopping, or told by an
      -- earlier answer that prefetching is not allowed now): it may be
      -- starting held messages in ended calls' slots at this very moment
      -- until it has stopped doing so, and one given back meanwhile would run
      -- twice.
      -- Back to the queue its connection uses now (a borrow change leaves
      -- prefetched rows with their holder: sql/moveQueued.ts).
      UPDATE queue_message m SET lease_id = NULL, lease_expires_at = NULL, run_after = now(),
             queue_owner_id = (SELECT c.queue_owner_id FROM connection c WHERE c.id = m.connection_id)
       WHERE m.id IN (SELECT q.id FROM queue_message q
                        JOIN unnest(v_held_ids, v_held_leases) AS h(id, lease_id)
                          ON q.id = h.id AND q.lease_id = h.lease_id
                       WHERE q.state = 'queued'
                       FOR UPDATE OF q SKIP LOCKED);
      -- Nothing more in this transaction: claiming a row it has just
      -- released would make PostgreSQL check the row's foreign keys again
      -- (KEY SHARE on its job), which deadlocks against a completion that
      -- holds the job's row and waits for ours. The caller claims again.
      v_released := true;
      EXIT claim;
    END IF;
    IF v_state <> 'ONLINE' THEN
      v_wait_ms := 60000;
      EXIT claim;
    END IF;
    IF v_paused IS NOT NULL AND v_paused > v_now THEN
      v_wait_ms := ceil(extract(epoch FROM v_paused - v_now) * 1000)::int;
      EXIT claim;
    END IF;
    IF v_level IS NULL THEN
      v_free := v_max;
    ELSE
      SELECT greatest(0, least(v_max, v_level - count(*), v_share - v_calls)) INTO v_free
        FROM queue_message q
       WHERE q.queue_owner_id = v_owner AND q.state = 'running';
    END IF;
    IF v_requests IS NOT NULL THEN
      v_starts := ARRAY(SELECT t FROM unnest(v_starts) AS t WHERE t > v_now - v_per_ms * interval '1 millisecond' ORDER BY t);
      IF cardinality(v_starts) >= v_requests AND v_free > 0 THEN
        v_wait_ms := greatest(1, ceil(extract(epoch FROM v_starts[1] + v_per_ms * interval '1 millisecond' - v_now) * 1000))::int;
        EXIT claim;
      END IF;
      v_free := least(v_free, v_requests - cardinality(v_starts));
    END IF;
    -- Free slots go to the caller's own prefetch first: it is the head of the queue.
    IF v_free > 0 AND v_held > 0 THEN
      RETURN QUERY
      WITH promoted AS (
        UPDATE queue_message m
           SET state = 'running', attempts = m.attempts + 1, lease_expires_at = v_lease_until
         WHERE m.id IN (SELECT q.id FROM queue_message q
                          JOIN unnest(v_held_ids, v_held_leases) AS h(id, lease_id)
                            ON q.id = h.id AND q.lease_id = h.lease_id
                         WHERE q.state = 'queued' AND q.queue_owner_id = v_owner
                         ORDER BY q.id
                         LIMIT v_free
                         FOR UPDATE OF q SKIP LOCKED)
        RETURNING m.id, m.queue_owner_id, m.connection_id, m.job_id, m.step_id, m.payload, m.attempts, m.lease_id, m.idempotency_key
      ), started AS (
        UPDATE job SET status = 'RUNNING', started_at = clock_timestamp()
         WHERE status = 'QUEUED' AND job.id IN (SELECT promoted.job_id FROM promoted)
      )
      SELECT promoted.*, false, NULL::int, NULL::boolean, NULL::int, NULL::int, NULL::boolean, NULL::boolean, NULL::bigint[] FROM promoted ORDER BY promoted.id;
      GET DIAGNOSTICS v_promoted = ROW_COUNT;
      v_free := v_free - v_promoted;
      v_held := v_held - v_promoted;
    END IF;
    v_depth := greatest(0, v_depth - v_held);
    IF v_free + v_depth > 0 THEN
      -- The head: the oldest v_free start now, the next v_depth are
      -- prefetched (their run_after hides them from every other claim).
      RETURN QUERY
      WITH head AS (
        SELECT q.id, row_number() OVER (ORDER BY q.id) AS n
          FROM queue_message q
         WHERE q.queue_owner_id = v_owner AND q.state = 'queued' AND q.run_after <= now()
           AND (v_held_connections IS NULL OR q.connection_id <> ALL (v_held_connections))
         ORDER BY q.id
         LIMIT v_free + v_depth
      ), claimed AS (
        UPDATE queue_message m
           SET state = CASE WHEN h.n <= v_free THEN 'running' ELSE 'queued' END,
               attempts = m.attempts + (h.n <= v_free)::int,
               lease_id = gen_random_uuid(),
               lease_expires_at = v_lease_until,
               run_after = CASE WHEN h.n <= v_free THEN m.run_after ELSE v_lease_until END
          FROM head h
         WHERE m.id = h.id
        -- attempts: including the start, for a prefetched one too (what it will be when started).
        RETURNING m.id, m.queue_owner_id, m.connection_id, m.job_id, m.step_id, m.payload,
                  m.attempts + (h.n > v_free)::int AS attempts, m.lease_id, m.idempotency_key, h.n > v_free AS prefetched
      ), started AS (
        UPDATE job SET status = 'RUNNING', started_at = clock_timestamp()
         WHERE status = 'QUEUED' AND job.id IN (SELECT claimed.job_id FROM claimed WHERE NOT claimed.prefetched)
      )
      SELECT claimed.*, NULL::int, NULL::boolean, NULL::int, NULL::int, NULL::boolean, NULL::boolean, NULL::bigint[] FROM claimed ORDER BY claimed.id;
      GET DIAGNOSTICS v_claimed = ROW_COUNT;
      v_started := least(v_claimed, v_free);
    END IF;
    v_started := v_started + v_promoted;
    IF v_requests IS NOT NULL AND v_started > 0 THEN
      UPDATE connection SET rate_starts = v_starts || array_fill(v_now, ARRAY[v_started]) WHERE connection.id = v_owner;
    END IF;
    -- Drained: fewer were ready than asked for. Held back by the level
    -- alone (nothing asked for) is not drained: the queue may hold more.
    v_drained := v_free + v_depth > 0 AND v_claimed < v_free + v_depth;
  END claim;
  RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, NULL::jsonb, NULL::int, NULL::uuid, NULL::uuid, NULL::boolean,
                      v_wait_ms, v_drained, v_level, v_share, v_may_prefetch, v_released,
                      (SELECT coalesce(array_agg(q.id ORDER BY q.id), '{}') FROM queue_message q
                          JOIN unnest(v_held_ids, v_held_leases) AS h(id, lease_id) ON q.id = h.id AND q.lease_id = h.lease_id
                         WHERE q.state = 'queued' AND q.queue_owner_id = v_owner);
END;
$$;
