-- sluice_complete_messages: records the outcomes of a batch of messages in
-- one statement (one round trip, one transaction): finished messages deleted
-- with their follow-up messages, job counts and errors; retried and released
-- ones back in their queue (keeping their id, so their place in FIFO order);
-- jobs with nothing left finished; every process's dispatchers woken.
-- Completion latency is what a slot waits for between two calls, so at level
-- 25 against a 20 ms API it decides how close a queue gets to 25 / 20 ms
-- (it replaced eleven round trips). src/engine/sql/completeMessages.ts calls it.
--
-- Parameters
--   p_outcomes   a JSON array, one element per message (type sluice_outcome):
--     n                     its place in the batch (follow-ups are enqueued in this order)
--     id, lease_id, job_id  the message and the lease it was run under
--     attempts              its attempts, the call that ended included: written as they are
--                           ('back'), since a message started from a prefetch had its start
--                           counted by no claim
--     successor_id, successor_lease, successor_job
--                           the prefetched message started in this call's slot, if any:
--                           marked running (its attempt counted) in this statement, so the
--                           slot passes from one to the other and the level never moves.
--                           Skipped when the successor's own outcome is in the batch.
--     kind                  'done' (delete it) | 'back' (queue it again)
--     delay_ms, refund      for 'back': when it may start again; 1 gives back the attempt
--     exported, succeeded, failed, source_failed   for 'done': the job's counter changes
--     followups             for 'done': [{connection_id, step_id, payload}] to enqueue, in order
--     answered_owner        the queue owner, when the application answered the call (a success,
--                           a 4xx, a 429): it ends the queue's run of failed calls
--     errors                for 'done': [{step_id, connection_id, code, message, record, attempts,
--                           idempotency_key, retry_of}] to keep as OPEN JobErrors; each row gets
--                           its job's flow_id, and job.open_error_count and flow_error_tally
--                           grow by the errors kept (Failed records: counters read, never counted)
--
-- This commit is the one way a slot is freed: a call's slot counts (its row
-- 'running') until its outcome commits, then goes to its successor or is
-- free for the next claim.
--
-- Returns one row: handed_on (the successors it marked running: a hand-on
-- it did not record freed its slot instead), freed_owners (queues whose slots this commit freed; other
-- processes learn them by NOTIFY), busy_owners (queues that gained messages:
-- the engine ignores the NOTIFYs of its own commits, so it wakes these
-- itself) and finished_jobs.
--
-- A message counts only if its lease is still ours (lease_id matches): a
-- process that stalled past its lease while another re-ran the message must
-- not complete it twice. Effects apply only to live (QUEUED/RUNNING) jobs,
-- and a retried or released message of a job that is no longer live is
-- deleted, not queued again: a call that ended just before a cancel committed
-- has its outcome waiting for the job row behind the cancel, and requeueing
-- it would run it again for a CANCELED job (test/engine/cancellation.test.ts
-- forces that order).
--
-- Locks
--   The queue owners' connection rows whose run of failed calls an answer
--     ends, after the job rows (the claim, which updates a connection row for
--     its rateLimit, also takes job rows first).
--   The job rows FOR UPDATE (the successors' jobs too), in id order (no
--     deadlock between batches). That
--     serializes completions per job, so when two processes finish a job's
--     last two messages at once, the second sees the first's delete and
--     finishes the job; without it each could see the other's message still
--     there and the job would stay RUNNING forever. The job row lock is also
--     what makes the liveness read here the one that holds at commit.
--   The message rows it deletes, requeues or starts (by the DELETE and UPDATEs).
--   flow_error_tally rows, in flow id order, after the job rows (resolve and
--     retry lock job rows first too); never the flow row, which step edits
--     and replaceConnection lock before job rows.
--
-- Notifies sluice_queue (payload: a queue owner) for every queue that freed
-- a slot or gained work, and sluice_job (payload: a job id) for every job of
-- the batch; delivered at commit.
CREATE OR REPLACE FUNCTION sluice_complete_messages(p_outcomes jsonb)
RETURNS TABLE (freed_owners uuid[], busy_owners uuid[], finished_jobs uuid[], handed_on bigint[])
LANGUAGE plpgsql AS $$
DECLARE
  v_jobs uuid[];
  v_live uuid[];
  v_done bigint[];
  v_freed uuid[];
  v_ended bigint[];
  v_ended_owners uuid[];
  v_ended_successors bigint[];
  v_handed_on bigint[];
  v_requeued_owners uuid[];
  v_new_owners uuid[];
  v_finished uuid[];
  v_kept int;
BEGIN
  SELECT array_agg(DISTINCT v.j ORDER BY v.j) INTO v_jobs
    FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o,
         LATERAL (VALUES (o.job_id), (o.successor_job)) AS v(j)
   WHERE v.j IS NOT NULL;
  SELECT coalesce(array_agg(j.id) FILTER (WHERE j.status IN ('QUEUED', 'RUNNING')), '{}') INTO v_live
    FROM (SELECT id, status FROM job WHERE id = ANY(v_jobs) ORDER BY id FOR UPDATE) j;

  WITH deleted AS (
    DELETE FROM queue_message m USING jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
     WHERE (o.kind = 'done' OR NOT o.job_id = ANY(v_live)) AND m.id = o.id AND m.lease_id = o.lease_id
    RETURNING m.id, m.queue_owner_id, o.successor_id)
  SELECT coalesce(array_agg(id), '{}'), coalesce(array_agg(queue_owner_id), '{}'), coalesce(array_agg(successor_id), '{}')
    INTO v_done, v_ended_owners, v_ended_successors FROM deleted;

  WITH requeued AS (
    UPDATE queue_message m
       SET state = 'queued', lease_id = NULL, lease_expires_at = NULL,
           run_after = now() + o.delay_ms * interval '1 millisecond',
           attempts = coalesce(o.attempts, m.attempts) - o.refund
      FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
     WHERE o.kind = 'back' AND o.job_id = ANY(v_live) AND m.id = o.id AND m.lease_id = o.lease_id
    RETURNING m.id, m.queue_owner_id, o.successor_id)
  SELECT coalesce(array_agg(DISTINCT queue_owner_id), '{}'), v_done || coalesce(array_agg(id), '{}'),
         v_ended_owners || coalesce(array_agg(queue_owner_id), '{}'), v_ended_successors || coalesce(array_agg(successor_id), '{}')
    INTO v_requeued_owners, v_ended, v_ended_owners, v_ended_successors FROM requeued;

  -- Slots handed on: each successor runs now in its ended call's slot. Only
  -- where the ended call's row was ours (deleted or requeued just above: a
  -- slot another process holds now is not ours to pass on), for a
  -- prefetched row still ours (state 'queued', lease
  -- unchanged: a claim may have started it already, or it went back), and
  -- not one that ended in this batch too (a row is changed once per
  -- statement).
  WITH promoted AS (
    UPDATE queue_message m
       SET state = 'running', attempts = m.attempts + 1
      FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
     WHERE o.successor_id IS NOT NULL AND o.id = ANY(v_ended)
       AND m.id = o.successor_id AND m.lease_id = o.successor_lease
       AND m.state = 'queued' AND o.successor_job = ANY(v_live)
       AND NOT EXISTS (SELECT 1 FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) e WHERE e.id = o.successor_id)
    RETURNING m.id, m.job_id),
  running AS (
    UPDATE job SET status = 'RUNNING', started_at = clock_timestamp()
     WHERE job.status = 'QUEUED' AND job.id IN (SELECT promoted.job_id FROM promoted))
  SELECT coalesce(array_agg(id), '{}') INTO v_handed_on FROM promoted;

  -- A slot is freed where the ended call's row was ours and no successor took it.
  SELECT coalesce(array_agg(DISTINCT e.owner), '{}') INTO v_freed
    FROM unnest(v_ended_owners, v_ended_successors) AS e(owner, successor)
   WHERE e.successor IS NULL OR NOT e.successor = ANY(v_handed_on);

  WITH inserted AS (
    INSERT INTO queue_message (queue_owner_id, connection_id, job_id, step_id, payload)
    SELECT c.queue_owner_id, (f.value->>'connection_id')::uuid, o.job_id, (f.value->>'step_id')::uuid, f.value->'payload'
      FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
      CROSS JOIN LATERAL jsonb_array_elements(o.followups) WITH ORDINALITY AS f(value, k)
      JOIN connection c ON c.id = (f.value->>'connection_id')::uuid
     WHERE o.id = ANY(v_done) AND o.job_id = ANY(v_live)
     ORDER BY o.n, f.k
    RETURNING queue_owner_id)
  SELECT coalesce(array_agg(DISTINCT queue_owner_id), '{}') INTO v_new_owners FROM inserted;

  INSERT INTO job_error (id, job_id, flow_id, step_id, connection_id, code, message, record, occurred_at,
                         attempts, idempotency_key, retry_of)
  SELECT gen_random_uuid(), o.job_id, j.flow_id, (e.value->>'step_id')::uuid, (e.value->>'connection_id')::uuid,
         e.value->>'code', e.value->>'message', e.value->'record', clock_timestamp(),
         greatest(1, coalesce((e.value->>'attempts')::int, 1)), (e.value->>'idempotency_key')::uuid,
         -- A retried error removed by retention meanwhile: the new one stands alone.
         (SELECT r.id FROM job_error r WHERE r.id = (e.value->>'retry_of')::uuid)
    FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
    JOIN job j ON j.id = o.job_id
    CROSS JOIN LATERAL jsonb_array_elements(o.errors) WITH ORDINALITY AS e(value, k)
   WHERE o.id = ANY(v_done) AND o.job_id = ANY(v_live)
   ORDER BY o.n, e.k;
  GET DIAGNOSTICS v_kept = ROW_COUNT;

  UPDATE job
     SET records_exported = job.records_exported + d.exported,
         records_succeeded = job.records_succeeded + d.succeeded,
         records_failed = job.records_failed + d.failed,
         source_failed = job.source_failed OR d.source_failed,
         open_error_count = job.open_error_count + d.errors
    FROM (SELECT job_id, sum(exported)::int AS exported, sum(succeeded)::int AS succeeded,
                 sum(failed)::int AS failed, bool_or(source_failed) AS source_failed,
                 coalesce(sum(jsonb_array_length(errors)), 0)::int AS errors
            FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes)
           WHERE id = ANY(v_done) AND job_id = ANY(v_live)
           GROUP BY job_id) d
   WHERE job.id = d.job_id;

  -- Flows' open errors: only when errors were kept, rows taken in flow id order.
  IF v_kept > 0 THEN
    INSERT INTO flow_error_tally AS t (flow_id, open_errors)
    SELECT j.flow_id, sum(jsonb_array_length(o.errors))::int
      FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
      JOIN job j ON j.id = o.job_id
     WHERE o.id = ANY(v_done) AND o.job_id = ANY(v_live) AND jsonb_array_length(o.errors) > 0
     GROUP BY j.flow_id
     ORDER BY j.flow_id
    ON CONFLICT (flow_id) DO UPDATE SET open_errors = t.open_errors + excluded.open_errors;
  END IF;

  -- Connection state: a call its application answered ends its queue's run
  -- of failed calls (sluice_record_call_failure.sql). Only rows with a run
  -- are written, so a healthy queue's completions take no connection lock.
  -- Rows taken in id order, FOR NO KEY UPDATE (message inserts' foreign keys
  -- are not held up), so that two batches ending runs of the same queues
  -- never deadlock.
  UPDATE connection c
     SET failed_calls = 0, failed_call_messages = '{}'
   WHERE c.id IN (SELECT r.id FROM connection r
                   WHERE r.failed_calls > 0
                     AND r.id IN (SELECT o.answered_owner FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
                                   WHERE o.answered_owner IS NOT NULL)
                   ORDER BY r.id FOR NO KEY UPDATE);

  WITH finished AS (
    UPDATE job
       SET status = CASE WHEN source_failed THEN 'FAILED' ELSE 'COMPLETED' END, finished_at = now()
     WHERE id = ANY(v_live) AND status = 'RUNNING'
       AND NOT EXISTS (SELECT 1 FROM queue_message q WHERE q.job_id = job.id)
    RETURNING id)
  SELECT coalesce(array_agg(id), '{}') INTO v_finished FROM finished;

  PERFORM pg_notify('sluice_queue', owner::text)
     FROM (SELECT DISTINCT unnest(v_freed || v_requeued_owners || v_new_owners) AS owner) owners;
  PERFORM pg_notify('sluice_job', job_id::text) FROM unnest(v_jobs) AS job_id;

  freed_owners := v_freed || v_requeued_owners;
  handed_on := v_handed_on;
  busy_owners := v_new_owners || v_requeued_owners;
  finished_jobs := v_finished;
  RETURN NEXT;
END;
$$;
