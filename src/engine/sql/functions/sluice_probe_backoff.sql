-- sluice_probe_backoff: the wait before an OFFLINE connection's next probe,
-- given the current backoff in ms: uniform in [¾, 1¼] of it ("jitter"), so
-- that the connections of an application that went away together, and the
-- processes that share them, do not probe in step. Used wherever
-- next_probe_at is set (sluice_record_call_failure.sql,
-- src/engine/sql/probes.ts).
CREATE OR REPLACE FUNCTION sluice_probe_backoff(p_backoff_ms integer)
RETURNS interval
LANGUAGE sql VOLATILE AS $$
  SELECT (p_backoff_ms * (0.75 + random() / 2)) * interval '1 millisecond';
$$;
