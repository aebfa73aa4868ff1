-- sluice_enqueue_messages: inserts messages behind those already queued, in
-- the order given, and wakes the processes that dispatch their queues; a
-- single message into an idle queue it starts at once, for a live engine
-- ("start on enqueue": the enqueuing transaction already knows everything a
-- claim would find out, which saves the claim's round trip on an idle queue).
-- src/engine/sql/enqueueMessages.ts calls it.
--
-- Parameters
--   p_messages   a JSON array of {connection_id, job_id, step_id, payload}.
--                The queue owner is read from the connection at insert time,
--                so a message always joins the queue its connection uses now
--                (borrowing may have moved it).
--
-- Returns the queue owners the messages went to.
--
-- It starts the message when it is given exactly one (runFlow's first
-- request; a batch is work for a claim, and starting its first would date its
-- job's start before the transaction building the batch has ended) and:
--   - some engine is alive (engine_instance.alive_until ahead, and its LISTEN
--     connection's backend exists: a killed process's socket closes at once,
--     so a crash stops the starts within milliseconds); chosen per queue owner
--     by rendezvous hashing, so queues spread over engines and each stays
--     with one;
--   - the queue is not paused and has no rateLimit (a start the window did
--     not count would break it), and every connection of the queue is
--     ONLINE (connection state: the claim's rule, kept simple here);
--   - nothing of the queue waits to start (ready, or reserved for a
--     hand-off): a new message never overtakes an older one;
--   - a slot is free (the level minus what runs; burst mode always has one);
--   - the message fits in a NOTIFY (a payload of up to 6,000 bytes).
-- A started message is announced on sluice_start with everything its engine
-- needs to run it (src/engine/startOnEnqueue.ts); every other queue that
-- gained a queued message on sluice_queue (payload: the queue owner).
-- Inside a transaction, the NOTIFYs are delivered at its commit.
--
-- Locks
--   pg_advisory_xact_lock('sluice.queue:' || owner), the claim's lock, only
--     when it may start the message (checked once without it, so that an
--     enqueue into a busy queue never waits for its claims, and again under
--     it): no claim counts the running messages while this start does, so
--     the level holds across processes.
--   The inserted rows' foreign keys take KEY SHARE on their connection and
--     job rows; the job row of a started message is updated (RUNNING).
--
-- SET enable_bitmapscan = off: its look at the queue reads the head by
-- index, never a bitmap scan of the whole queue (see sluice_claim_messages).
CREATE OR REPLACE FUNCTION sluice_enqueue_messages(p_messages jsonb)
RETURNS TABLE (queue_owner_id uuid)
LANGUAGE plpgsql
SET enable_bitmapscan = off
AS $$
DECLARE
  v_owner uuid;
  v_engine uuid;
  v_lease_ms int;
  v_level int;
  v_paused timestamptz;
  v_requests int;
  v_free int := 0;
BEGIN
  -- One message only (runFlow's first request): a batch is work for a
  -- claim, which takes many at once, and starting its first here would
  -- date its job's start before the transaction that builds the batch
  -- has ended (a bench drain of 20,000 enqueued in one statement).
  IF jsonb_array_length(p_messages) = 1 THEN
    SELECT c.queue_owner_id INTO v_owner
      FROM jsonb_to_recordset(p_messages) AS m(connection_id uuid)
      JOIN connection c ON c.id = m.connection_id;
    SELECT e.id, e.lease_ms INTO v_engine, v_lease_ms
      FROM engine_instance e
     WHERE e.alive_until > clock_timestamp()
       -- pg_stat_get_activity(pid): that backend's row only (the pg_stat_activity view builds every backend's).
       AND EXISTS (SELECT 1 FROM pg_stat_get_activity(e.listen_pid) a WHERE a.backend_start = e.listen_started)
     ORDER BY hashtextextended(e.id::text || v_owner::text, 0)
     LIMIT 1;
    -- Nothing waits to start (ready, or reserved for a hand-off): looked
    -- at once without the lock, so that an enqueue into a busy queue
    -- never waits for its claims, and again under it.
    IF FOUND AND NOT EXISTS (SELECT 1 FROM queue_message q
                              WHERE q.queue_owner_id = v_owner AND q.state = 'queued'
                                AND (q.run_after <= now() OR q.lease_id IS NOT NULL)) THEN
      -- The claim's lock (sluice_claim_messages.sql): no
      -- claim counts the running messages while this start does.
      PERFORM pg_advisory_xact_lock(hashtextextended('sluice.queue:' || v_owner::text, 0));
      SELECT c.concurrency_level, c.paused_until, c.rate_limit_requests INTO v_level, v_paused, v_requests
        FROM connection c WHERE c.id = v_owner;
      -- Connection state as the claim reads it: the queue owner and the
      -- message's connection both ONLINE.
      IF (v_paused IS NULL OR v_paused <= clock_timestamp()) AND v_requests IS NULL
         AND NOT EXISTS (SELECT 1 FROM connection c
                          WHERE c.queue_owner_id = v_owner AND c.state <> 'ONLINE')
         AND NOT EXISTS (SELECT 1 FROM queue_message q
                          WHERE q.queue_owner_id = v_owner AND q.state = 'queued'
                            AND (q.run_after <= now() OR q.lease_id IS NOT NULL)) THEN
        SELECT CASE WHEN v_level IS NULL OR count(*) < v_level THEN 1 ELSE 0 END INTO v_free
          FROM queue_message q WHERE q.queue_owner_id = v_owner AND q.state = 'running';
      END IF;
    END IF;
  END IF;
  RETURN QUERY
  WITH input AS (
    SELECT c.queue_owner_id AS owner, m.connection_id, m.job_id, m.step_id, m.payload, m.n
      FROM ROWS FROM (jsonb_to_recordset(p_messages) AS (connection_id uuid, job_id uuid, step_id uuid, payload jsonb))
             WITH ORDINALITY AS m(connection_id, job_id, step_id, payload, n)
      JOIN connection c ON c.id = m.connection_id
  ), startable AS (
    -- The message, if it fits in a NOTIFY (8,000 bytes with the rest of the row).
    SELECT CASE WHEN v_free > 0 AND octet_length(min(payload::text)) <= 6000 THEN 1 ELSE 0 END AS n FROM input
  ), inserted AS (
    INSERT INTO queue_message (queue_owner_id, connection_id, job_id, step_id, payload, state, attempts, lease_id, lease_expires_at)
    SELECT i.owner, i.connection_id, i.job_id, i.step_id, i.payload,
           CASE WHEN i.n <= s.n THEN 'running' ELSE 'queued' END,
           (i.n <= s.n)::int,
           CASE WHEN i.n <= s.n THEN gen_random_uuid() END,
           CASE WHEN i.n <= s.n THEN clock_timestamp() + v_lease_ms * interval '1 millisecond' END
      FROM input i CROSS JOIN startable s
     ORDER BY i.n
    RETURNING queue_message.id, queue_message.queue_owner_id AS owner, queue_message.connection_id, queue_message.job_id,
              queue_message.step_id, queue_message.payload, queue_message.state, queue_message.attempts,
              queue_message.lease_id, queue_message.idempotency_key
  ), running AS (
    -- clock_timestamp(): the enqueuing transaction may have begun a while before (runFlow's reads the flow first).
    UPDATE job SET status = 'RUNNING', started_at = clock_timestamp()
     WHERE job.status = 'QUEUED' AND job.id IN (SELECT i.job_id FROM inserted i WHERE i.state = 'running')
  ), started AS (
    SELECT i.owner, pg_notify('sluice_start', json_build_object(
             'engine', v_engine, 'id', i.id::text, 'queueOwnerId', i.owner, 'connectionId', i.connection_id,
             'jobId', i.job_id, 'stepId', i.step_id, 'payload', i.payload, 'attempts', i.attempts,
             'leaseId', i.lease_id, 'idempotencyKey', i.idempotency_key)::text)
      FROM inserted i WHERE i.state = 'running'
  ), queued AS (
    SELECT q.owner, pg_notify('sluice_queue', q.owner::text)
      FROM (SELECT DISTINCT i.owner FROM inserted i WHERE i.state = 'queued') AS q
  )
  SELECT DISTINCT o.owner FROM (SELECT owner FROM started UNION ALL SELECT owner FROM queued) AS o;
END;
$$;
