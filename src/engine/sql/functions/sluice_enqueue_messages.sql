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
-- request; a batch is work for a claim, and starting its first would date
-- its job's start before the transaction building the batch has ended),
-- nothing of its queue waits to start (ready, or prefetched by a process: a
-- new message never overtakes an older one), it fits in a NOTIFY (a payload
-- of up to 6,000 bytes), and some engine is alive (engine_instance.alive_until
-- ahead, and its LISTEN connection's backend exists: a killed process's
-- socket closes at once, so a crash stops the starts within milliseconds),
-- chosen per queue owner by rendezvous hashing, so queues spread over
-- engines and each stays with one. The start itself is the claim
-- (sluice_claim.sql), made for that engine: its lock, level, pause, state
-- and rateLimit rules are the claim's, in one place. A started message is
-- announced on sluice_start with everything its engine needs to run it
-- (src/engine/startOnEnqueue.ts); every other queue that gained a queued
-- message on sluice_queue (payload: the queue owner). Inside a transaction,
-- the NOTIFYs are delivered at its commit.
--
-- Locks
--   The claim's (sluice_claim.sql), only when it may start the message
--     (nothing waiting is checked first without it, so that an enqueue into
--     a busy queue never waits for its claims), and only if it is free at
--     once (try_lock): held, it stays held until the caller's transaction
--     ends, and claims of every process would wait for that; taken, the
--     message waits for a claim, as in a busy queue.
--   The inserted rows' foreign keys take KEY SHARE on their connection and
--     job rows; the job row of a started message is updated (RUNNING).
--
-- SET enable_bitmapscan = off: its look at the queue reads the head by
-- index, never a bitmap scan of the whole queue (see sluice_claim.sql).
CREATE OR REPLACE FUNCTION sluice_enqueue_messages(p_messages jsonb)
RETURNS TABLE (queue_owner_id uuid)
LANGUAGE plpgsql
SET enable_bitmapscan = off
AS $$
DECLARE
  v_owner uuid;
  v_engine uuid;
  v_lease_ms int;
  v_may_start boolean := false;
BEGIN
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
    v_may_start := FOUND
      AND octet_length((p_messages->0->'payload')::text) <= 6000
      AND NOT EXISTS (SELECT 1 FROM queue_message q
                       WHERE q.queue_owner_id = v_owner AND q.state = 'queued'
                         AND (q.run_after <= now() OR q.lease_id IS NOT NULL));
  END IF;
  RETURN QUERY
  WITH inserted AS (
    INSERT INTO queue_message (queue_owner_id, connection_id, job_id, step_id, payload)
    SELECT c.queue_owner_id, m.connection_id, m.job_id, m.step_id, m.payload
      FROM ROWS FROM (jsonb_to_recordset(p_messages) AS (connection_id uuid, job_id uuid, step_id uuid, payload jsonb))
             WITH ORDINALITY AS m(connection_id, job_id, step_id, payload, n)
      JOIN connection c ON c.id = m.connection_id
     ORDER BY m.n
    RETURNING queue_message.queue_owner_id AS owner
  )
  SELECT DISTINCT i.owner FROM inserted i;
  IF v_may_start THEN
    -- The claim, for that engine: it starts the head, which is this message.
    PERFORM pg_notify('sluice_start', json_build_object(
              'engine', v_engine, 'id', s.id::text, 'queueOwnerId', s.queue_owner_id, 'connectionId', s.connection_id,
              'jobId', s.job_id, 'stepId', s.step_id, 'payload', s.payload, 'attempts', s.attempts,
              'leaseId', s.lease_id, 'idempotencyKey', s.idempotency_key)::text)
       FROM sluice_claim(jsonb_build_object('owner', v_owner, 'engine', NULL, 'max', 1, 'prefetch', 0, 'lease_ms', v_lease_ms, 'try_lock', true)) s
      WHERE s.id IS NOT NULL;
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;
  PERFORM pg_notify('sluice_queue', o.owner::text)
     FROM (SELECT DISTINCT c.queue_owner_id AS owner
             FROM jsonb_to_recordset(p_messages) AS m(connection_id uuid)
             JOIN connection c ON c.id = m.connection_id) o;
END;
$$;
