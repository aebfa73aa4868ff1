-- sluice_record_call_failure: the outage detector. Records one call of a
-- queue that failed as it would if its application were away, and takes
-- the connection OFFLINE when the failures say so. Runs before the failed
-- call's slot is given back (the dispatcher's beforeRelease), so no claim in
-- between sends the next message at an application already found away.
-- src/engine/sql/recordCallFailure.ts calls it.
--
-- Parameters (p_failure, one jsonb object)
--   owner       the queue owner whose queue the call was in
--   connection  the connection the call went through
--   message     the message's id
--   attempts    the message's attempts, this call included
--   exhausted   true when this was its last attempt (it would fail for good)
--   signal      'transient' (5xx other than 502–504: may be the record's own
--               problem), 'unavailable' (network error, timeout, 408,
--               502, 503, 504: the application did not serve anyone) or
--               'unauthorized' (401: the connection's credentials refused)
--   reason      the error as an operator may read it (no secret)
--   threshold   failed calls in a row, of at least two messages, that take
--               the queue owner OFFLINE
--
-- The rule (docs/engine.md, "Connection state"):
--   - 401: the connection whose credentials were refused goes OFFLINE at once.
--   - otherwise the queue owner's failed_calls grows by one and the message
--     joins failed_call_messages (a call its application answered, in
--     sluice_complete_messages, ends the run: 0 and empty); the owner goes
--     OFFLINE when failed_calls reaches the threshold and the run spans at
--     least two messages, or when a message's last attempt fails
--     'unavailable' and all its attempts are in the run (no call of the queue
--     succeeded since its first): an application that answers nobody, with
--     one message to send. One record failing with 500 while the others
--     succeed is its own problem: each success ends the run, and one message
--     alone is not an outage.
--   - When the run takes the owner OFFLINE, the calls that failed in it get
--     their attempt back (queued messages of failed_call_messages, one
--     attempt each; the caller gives this call's back): the contract's "the
--     calls that failed on the way there keep their attempt".
--
-- Returns one row:
--   offline  the connection this call took OFFLINE (null: none)
--   hold     'away': the call's connection or its queue owner is not ONLINE
--            now, whoever made it so: the call goes back to its place at once
--            with its attempt given back; 'run': still ONLINE, but the call was
--            a message's last attempt in a run of failures of other messages
--            too (an outage on its way, not yet decided): it is retried after
--            its backoff instead of failing for good; null: the outcome stands.
--
-- Locks: the owner's connection row (and the connection's, for a 401) by the
-- UPDATE, for the read-compute-write: every process recording for the queue
-- goes one after the other, so the count is exact across processes. When it
-- goes OFFLINE, the run's queued messages FOR UPDATE SKIP LOCKED (a message
-- locked now is being claimed or committed: it keeps its attempt used, and
-- nothing waits for anything).
--
-- Notifies sluice_state and sluice_queue (payload: the queue owner) when a
-- state changed: every process's dispatchers claim again and see it (and
-- hand nothing off before), live updates re-read it.
CREATE OR REPLACE FUNCTION sluice_record_call_failure(p_failure jsonb)
RETURNS TABLE (offline uuid, hold text)
LANGUAGE plpgsql AS $$
DECLARE
  v_owner uuid := (p_failure->>'owner')::uuid;
  v_connection uuid := (p_failure->>'connection')::uuid;
  v_message bigint := (p_failure->>'message')::bigint;
  v_signal text := p_failure->>'signal';
  v_reason text := left(p_failure->>'reason', 500);
  v_exhausted boolean := (p_failure->>'exhausted')::boolean;
  v_calls int;
  v_messages bigint[] := '{}';
  v_target uuid;
  v_offline uuid;
  v_away boolean;
BEGIN
  -- Which connection the failure takes OFFLINE, if any: a 401 the call's
  -- own; otherwise the queue owner, once its run of failures says so.
  IF v_signal = 'unauthorized' THEN
    v_target := v_connection;
  ELSE
    UPDATE connection c
       SET failed_calls = c.failed_calls + 1,
           failed_call_messages = CASE WHEN v_message = ANY (c.failed_call_messages) OR cardinality(c.failed_call_messages) >= 64
                                       THEN c.failed_call_messages ELSE c.failed_call_messages || v_message END
     WHERE c.id = v_owner
    RETURNING c.failed_calls, c.failed_call_messages INTO v_calls, v_messages;
    IF (v_calls >= (p_failure->>'threshold')::int AND cardinality(v_messages) >= 2)
       OR (v_exhausted AND v_signal = 'unavailable' AND v_calls >= (p_failure->>'attempts')::int) THEN
      v_target := v_owner;
    END IF;
  END IF;
  IF v_target IS NOT NULL THEN
    UPDATE connection c
       SET state = 'OFFLINE', state_changed_at = now(), state_reason = v_reason,
           next_probe_at = clock_timestamp() + sluice_probe_backoff(1000), probe_backoff_ms = 1500,
           probe_lease_until = NULL, probe_failures = 0
     WHERE c.id = v_target AND c.state = 'ONLINE'
    RETURNING c.id INTO v_offline;
  END IF;
  -- The run's other calls get their attempt back (empty for a 401).
  IF v_offline IS NOT NULL AND cardinality(v_messages) > 0 THEN
    UPDATE queue_message m SET attempts = m.attempts - 1
     WHERE m.id IN (SELECT q.id FROM queue_message q
                     WHERE q.id = ANY (v_messages) AND q.id <> v_message AND q.queue_owner_id = v_owner
                       AND q.state = 'queued' AND q.lease_id IS NULL AND q.attempts > 0
                     FOR UPDATE SKIP LOCKED);
  END IF;
  IF v_offline IS NOT NULL THEN
    PERFORM pg_notify('sluice_state', v_owner::text);
    PERFORM pg_notify('sluice_queue', v_owner::text);
  END IF;
  v_away := EXISTS (SELECT 1 FROM connection c WHERE c.id IN (v_owner, v_connection) AND c.state <> 'ONLINE');
  RETURN QUERY
  SELECT v_offline,
         CASE WHEN v_away THEN 'away'
              WHEN v_exhausted AND v_signal <> 'unauthorized' AND cardinality(v_messages) >= 2 THEN 'run'
              END;
END;
$$;
