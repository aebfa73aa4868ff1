-- sluice_roll_up_queue_tally: folds queue_tally's delta rows back to one row
-- per queue owner (none when it sums to zero), so a read sums a handful of
-- rows whatever the queue length. Every engine process runs it about once a
-- second (src/engine/queueTallyFolding.ts).
--
-- One statement: the DELETE takes exactly the rows of its snapshot and the
-- INSERT writes their sums, so a concurrent reader sees the rows before or
-- after, both summing to the same numbers, and deltas inserted meanwhile are
-- left for the next run.
--
-- Parameters: none.
--
-- Locks
--   pg_try_advisory_xact_lock('sluice.queue_tally'): only one process folds
--     at a time; a second returns at once instead of waiting on the first's
--     deleted rows for nothing.
CREATE OR REPLACE FUNCTION sluice_roll_up_queue_tally()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtextextended('sluice.queue_tally', 0)) THEN
    RETURN;
  END IF;
  WITH folded AS (DELETE FROM queue_tally RETURNING queue_owner_id, queued, running)
  INSERT INTO queue_tally (queue_owner_id, queued, running)
  SELECT queue_owner_id, sum(queued), sum(running)
    FROM folded GROUP BY queue_owner_id
  HAVING sum(queued) <> 0 OR sum(running) <> 0;
END;
$$;
