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
--   - otherwise the queue owner's failed_calls grows by one (a success, in
--     sluice_complete_messages, sets it back to 0); the owner goes OFFLINE
--     when failed_calls reaches the threshold and the run spans at least two
--     messages, or when a message's last attempt fails 'unavailable' and all
--     its attempts are in the run (no call of the queue succeeded since its
--     first): an application that answers nobody, with one message to send.
--     One record failing with 500 while the others succeed is its own problem:
--     each success ends the run, and one message alone is not an outage.
--
-- Returns one row: offline (the connection this call took OFFLINE, null if
-- none), held (the call's connection or its queue owner is not ONLINE now,
-- whoever made it so: the failed call keeps its place instead of failing for
-- good), state_reason (what the new OFFLINE state says).
--
-- Locks: the owner's connection row (and the connection's, for a 401) by
-- the UPDATE, for the read-compute-write; every process recording for the
-- queue goes one after the other, so the count is exact across processes.
--
-- Notifies sluice_queue (the queue owner) when a state changed: every
-- process's dispatchers claim again and see it; live updates re-read it.
CREATE OR REPLACE FUNCTION sluice_record_call_failure(p_failure jsonb)
RETURNS TABLE (offline uuid, held boolean, state_reason text)
LANGUAGE plpgsql AS $$
DECLARE
  v_owner uuid := (p_failure->>'owner')::uuid;
  v_connection uuid := (p_failure->>'connection')::uuid;
  v_message bigint := (p_failure->>'message')::bigint;
  v_signal text := p_failure->>'signal';
  v_reason text := left(p_failure->>'reason', 500);
  v_calls int;
  v_many boolean;
  v_state text;
  v_offline uuid;
BEGIN
  IF v_signal = 'unauthorized' THEN
    UPDATE connection c
       SET state = 'OFFLINE', state_changed_at = now(), state_reason = v_reason,
           next_probe_at = clock_timestamp() + sluice_probe_backoff(1000), probe_backoff_ms = 2000,
           probe_lease_until = NULL
     WHERE c.id = v_connection AND c.state = 'ONLINE'
    RETURNING c.id INTO v_offline;
  ELSE
    UPDATE connection c
       SET failed_calls = c.failed_calls + 1,
           failed_calls_first_message = CASE WHEN c.failed_calls = 0 THEN v_message ELSE c.failed_calls_first_message END,
           failed_calls_many_messages = c.failed_calls > 0 AND (c.failed_calls_many_messages OR c.failed_calls_first_message <> v_message)
     WHERE c.id = v_owner
    RETURNING c.failed_calls, c.failed_calls_many_messages, c.state INTO v_calls, v_many, v_state;
    IF v_state = 'ONLINE'
       AND ((v_calls >= (p_failure->>'threshold')::int AND v_many)
            OR ((p_failure->>'exhausted')::boolean AND v_signal = 'unavailable' AND v_calls >= (p_failure->>'attempts')::int)) THEN
      UPDATE connection c
         SET state = 'OFFLINE', state_changed_at = now(), state_reason = v_reason,
             next_probe_at = clock_timestamp() + sluice_probe_backoff(1000), probe_backoff_ms = 2000,
             probe_lease_until = NULL
       WHERE c.id = v_owner
      RETURNING c.id INTO v_offline;
    END IF;
  END IF;
  IF v_offline IS NOT NULL THEN
    PERFORM pg_notify('sluice_queue', v_owner::text);
  END IF;
  RETURN QUERY
  SELECT v_offline,
         EXISTS (SELECT 1 FROM connection c WHERE c.id IN (v_owner, v_connection) AND c.state <> 'ONLINE'),
         CASE WHEN v_offline IS NULL THEN NULL ELSE v_reason END;
END;
$$;
