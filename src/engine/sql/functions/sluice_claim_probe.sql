-- sluice_claim_probe: starts the one message that probes an OFFLINE
-- connection that has no ping: the first of its waiting messages, as a
-- single call. The probe's lease (connection.probe_lease_until, taken by
-- src/engine/sql/probes.ts) makes it one probe at a time across processes;
-- this starts its message under the claim's rules otherwise.
-- src/engine/sql/probes.ts calls it.
--
-- Parameters
--   p_connection  the OFFLINE connection (a queue owner, or a borrower whose
--                 credentials were refused)
--   p_lease_ms    the lease of the started message
--
-- Which message: the first waiting (after 5 failed probes, the first after
-- the one the last probe sent, wrapping round: probe_last_message), and of
-- those, for a queue owner, the head of its queue among the
-- connections not held on their own (the queue's FIFO order), or failing
-- that the first message of a borrower that is OFFLINE itself (its answer,
-- whatever the borrower's credentials, says whether the application is
-- there: without it, an owner whose only waiting messages are an OFFLINE
-- borrower's would never be probed); for a borrower, the first of its own
-- messages. Delayed messages count (a retry's
-- backoff is moot while nothing starts); prefetched ones do not (they belong
-- to a process, which gives them back once a claim says the queue is held).
--
-- Returns the started message, or no row: nothing waits, the level is full of
-- calls still running, or the connection is not OFFLINE any more (or its
-- queue owner, for a borrower, is not ONLINE: the owner is probed first).
--
-- Locks: the claim's advisory lock on the queue owner (see
-- sluice_claim.sql), so the probe's start is counted against the
-- level like any claim's; the started message's row and its job's, then the
-- probed connection's row (probe_last_message), in the claim's order.
CREATE OR REPLACE FUNCTION sluice_claim_probe(p_connection uuid, p_lease_ms integer)
RETURNS TABLE (id bigint, queue_owner_id uuid, connection_id uuid, job_id uuid, step_id uuid, payload jsonb,
               attempts integer, lease_id uuid, idempotency_key uuid)
LANGUAGE plpgsql
SET enable_bitmapscan = off
AS $$
DECLARE
  v_owner uuid;
  v_state text;
  v_owner_state text;
  v_level int;
  v_message bigint;
  v_last bigint;
  v_after bigint;
  v_pass int;
BEGIN
  SELECT c.queue_owner_id, c.state INTO v_owner, v_state FROM connection c WHERE c.id = p_connection;
  IF NOT FOUND OR v_state <> 'OFFLINE' THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('sluice.queue:' || v_owner::text, 0));
  -- Read again under the lock: a pause committed while this waited wins.
  SELECT c.state INTO v_state FROM connection c WHERE c.id = p_connection;
  SELECT c.state, c.concurrency_level INTO v_owner_state, v_level FROM connection c WHERE c.id = v_owner;
  IF v_state <> 'OFFLINE' OR (v_owner <> p_connection AND v_owner_state <> 'ONLINE') THEN
    RETURN;
  END IF;
  IF v_level IS NOT NULL AND (SELECT count(*) FROM queue_message q WHERE q.queue_owner_id = v_owner AND q.state = 'running') >= v_level THEN
    RETURN;
  END IF;
  -- The head first, so that an application back from a short outage gets
  -- its messages in order; after 5 failed probes (about 30 s at the default backoff), the message
  -- after the one the last probe sent, wrapping round: a head message the
  -- application cannot take, while it is back, must not be the only one
  -- ever probed.
  SELECT CASE WHEN c.probe_failures >= 5 THEN c.probe_last_message END INTO v_last
    FROM connection c WHERE c.id = p_connection;
  FOR v_pass IN 1..2 LOOP
    v_after := CASE WHEN v_pass = 1 THEN coalesce(v_last, 0) ELSE 0 END;
    IF v_owner = p_connection THEN
      SELECT q.id INTO v_message FROM queue_message q
       WHERE q.queue_owner_id = v_owner AND q.state = 'queued' AND q.lease_id IS NULL AND q.id > v_after
         AND NOT EXISTS (SELECT 1 FROM connection c
                          WHERE c.id = q.connection_id AND c.id <> v_owner AND c.state <> 'ONLINE')
       ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED;
      IF v_message IS NULL THEN
        SELECT q.id INTO v_message FROM queue_message q
         WHERE q.queue_owner_id = v_owner AND q.state = 'queued' AND q.lease_id IS NULL AND q.id > v_after
           AND EXISTS (SELECT 1 FROM connection c WHERE c.id = q.connection_id AND c.state = 'OFFLINE')
         ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED;
      END IF;
    ELSE
      SELECT q.id INTO v_message FROM queue_message q
       WHERE q.queue_owner_id = v_owner AND q.connection_id = p_connection AND q.state = 'queued' AND q.lease_id IS NULL
         AND q.id > v_after
       ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    END IF;
    EXIT WHEN v_message IS NOT NULL OR v_after = 0;
  END LOOP;
  IF v_message IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH started AS (
    UPDATE queue_message m
       SET state = 'running', attempts = m.attempts + 1, lease_id = gen_random_uuid(),
           lease_expires_at = clock_timestamp() + p_lease_ms * interval '1 millisecond', run_after = now()
     WHERE m.id = v_message
    RETURNING m.id, m.queue_owner_id, m.connection_id, m.job_id, m.step_id, m.payload, m.attempts, m.lease_id, m.idempotency_key
  ), running AS (
    UPDATE job SET status = 'RUNNING', started_at = now()
     WHERE job.status = 'QUEUED' AND job.id IN (SELECT started.job_id FROM started)
  )
  SELECT * FROM started;
  -- Last, after the message's and its job's rows (the claim's order).
  UPDATE connection c SET probe_last_message = v_message WHERE c.id = p_connection;
END;
$$;
