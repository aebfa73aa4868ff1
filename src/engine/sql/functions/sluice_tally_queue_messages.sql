-- sluice_tally_queue_messages: the trigger function behind queue_tally (exact
-- queue sizes and in-flight counts per queue owner, cheap to read at any
-- queue length; src/engine/sql/queueTally.ts reads them). Statement-level
-- triggers on queue_message (queue_message_tally_insert, _update, _delete)
-- call it with the transition tables they have (new_messages, old_messages:
-- PostgreSQL allows transition tables on single-event triggers only); TG_OP
-- says which exist.
--
-- It *inserts* one delta row per queue owner and statement, never updates a
-- counter row: one counter row per owner would put claims behind completions
-- and completions behind each other across processes, under its row lock. A
-- statement that changed no count adds no row (the lease heartbeat's
-- UPDATEs, for one). The delta commits or rolls back with the change that
-- made it, so a reader's snapshot sees both or neither.
--
-- Counted: queued = state 'queued' (waiting, including retries waiting out
-- their backoff and prefetched ones); running = state 'running' (a call in
-- flight, or ended with its outcome not committed yet). 'done', which no
-- release since the one-way engine writes, is in neither.
--
-- Parameters: none (a trigger). Locks: none beyond the insert.
CREATE OR REPLACE FUNCTION sluice_tally_queue_messages()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO queue_tally (queue_owner_id, queued, running)
    SELECT queue_owner_id, count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'running')
      FROM new_messages GROUP BY queue_owner_id;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO queue_tally (queue_owner_id, queued, running)
    SELECT queue_owner_id, -count(*) FILTER (WHERE state = 'queued'), -count(*) FILTER (WHERE state = 'running')
      FROM old_messages GROUP BY queue_owner_id
    HAVING count(*) FILTER (WHERE state IN ('queued', 'running')) > 0;
  ELSE
    INSERT INTO queue_tally (queue_owner_id, queued, running)
    SELECT owner, sum(queued), sum(running)
      FROM (SELECT queue_owner_id AS owner, (state = 'queued')::int AS queued, (state = 'running')::int AS running FROM new_messages
            UNION ALL
            SELECT queue_owner_id, -(state = 'queued')::int, -(state = 'running')::int FROM old_messages) AS d
     GROUP BY owner
    HAVING sum(queued) <> 0 OR sum(running) <> 0;
  END IF;
  RETURN NULL;
END;
$$;
