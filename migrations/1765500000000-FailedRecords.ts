import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Failed records an operator can act on (issue #20): every JobError is OPEN,
 * RETRIED or RESOLVED, and keeps what a retry needs.
 *
 * job_error, new columns:
 *   seq              the order errors were kept in: paging (newest first) and
 *                    Job.errors (occurrence order) read it; the uuid id is
 *                    random, so it cannot be paged by.
 *   state            OPEN | RETRIED | RESOLVED; existing errors are OPEN.
 *   attempts         calls made for the record at its step, the failing one included.
 *   closed_at,       when and by which token (its name) it was retried or
 *   closed_by        resolved; null while OPEN.
 *   retry_of         the error whose retry this one is.
 *   flow_id          the job's flow, so that a flow's errors are one index range.
 *   connection_id    the connection the failing call went through.
 *   idempotency_key  the key the failed call carried, when a retry may carry it
 *                    again: a call of one record or one page. A record of a
 *                    batch is retried alone, a body the key was never sent
 *                    with, so it gets a new key (null here).
 *
 * Each JobErrorFilter field has an index that ends in seq, so a filtered page
 * newest first is one backward index range scan, whichever field leads.
 *
 * Open-error counters, exact in the transaction that changes them, so that
 * reading them costs one row: job.open_error_count on the job row (which every
 * completion already locks), and flow_error_tally per flow: a row of its own,
 * not the flow row, because runFlow, step edits and replaceConnection lock
 * the flow row before job rows, while a completion holds job rows first; a
 * completion taking the flow row would invert that order. Every writer takes
 * flow_error_tally rows last, in flow id order.
 *
 * sluice_complete_messages is replaced to keep the new columns and the
 * counters with each error it inserts (its other statements are unchanged:
 * migrations/1763910000000-CompleteMessagesFunction.ts says what they do).
 */
export class FailedRecords1765500000000 implements MigrationInterface {
  name = 'FailedRecords1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE job_error
        ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY,
        ADD COLUMN state text NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'RETRIED', 'RESOLVED')),
        ADD COLUMN attempts int NOT NULL DEFAULT 1 CHECK (attempts >= 1),
        ADD COLUMN closed_at timestamptz,
        ADD COLUMN closed_by text,
        ADD COLUMN retry_of uuid REFERENCES job_error (id) ON DELETE SET NULL,
        ADD COLUMN flow_id uuid REFERENCES flow (id) ON DELETE CASCADE,
        ADD COLUMN connection_id uuid REFERENCES connection (id) ON DELETE SET NULL,
        ADD COLUMN idempotency_key uuid`);
    await q.query(`UPDATE job_error e SET flow_id = j.flow_id FROM job j WHERE j.id = e.job_id`);
    await q.query(`UPDATE job_error e SET connection_id = s.connection_id FROM step s WHERE s.id = e.step_id`);
    await q.query(`ALTER TABLE job_error ALTER COLUMN flow_id SET NOT NULL`);
    await q.query(`ALTER TABLE job_error ADD CONSTRAINT job_error_closed_check CHECK ((state = 'OPEN') = (closed_at IS NULL))`);
    await q.query(`ALTER TABLE job_error ADD CONSTRAINT job_error_seq_unique UNIQUE (seq)`);

    await q.query(`DROP INDEX job_error_job_idx`);
    for (const column of ['job_id', 'flow_id', 'step_id', 'connection_id', 'state', 'code']) {
      await q.query(`CREATE INDEX job_error_${column}_seq_idx ON job_error (${column}, seq)`);
    }
    // Retention reads the oldest closed errors; OPEN ones are never in it.
    await q.query(`CREATE INDEX job_error_closed_idx ON job_error (closed_at) WHERE state <> 'OPEN'`);
    await q.query(`CREATE INDEX job_error_retry_of_idx ON job_error (retry_of) WHERE retry_of IS NOT NULL`);

    await q.query(`ALTER TABLE job ADD COLUMN open_error_count int NOT NULL DEFAULT 0 CHECK (open_error_count >= 0)`);
    await q.query(`
      UPDATE job j SET open_error_count = e.n
        FROM (SELECT job_id, count(*)::int AS n FROM job_error WHERE state = 'OPEN' GROUP BY job_id) e
       WHERE j.id = e.job_id`);
    await q.query(`
      CREATE TABLE flow_error_tally (
        flow_id      uuid PRIMARY KEY REFERENCES flow (id) ON DELETE CASCADE,
        open_errors  int NOT NULL DEFAULT 0 CHECK (open_errors >= 0)
      )`);
    await q.query(`
      INSERT INTO flow_error_tally (flow_id, open_errors)
      SELECT flow_id, count(*)::int FROM job_error WHERE state = 'OPEN' GROUP BY flow_id`);

    await q.query(COMPLETE_MESSAGES);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE flow_error_tally`);
    await q.query(`ALTER TABLE job DROP COLUMN open_error_count`);
    await q.query(`DROP INDEX job_error_closed_idx`);
    await q.query(`DROP INDEX job_error_retry_of_idx`);
    for (const column of ['job_id', 'flow_id', 'step_id', 'connection_id', 'state', 'code']) {
      await q.query(`DROP INDEX job_error_${column}_seq_idx`);
    }
    await q.query(`CREATE INDEX job_error_job_idx ON job_error (job_id, occurred_at)`);
    await q.query(`
      ALTER TABLE job_error
        DROP CONSTRAINT job_error_closed_check, DROP CONSTRAINT job_error_seq_unique,
        DROP COLUMN seq, DROP COLUMN state, DROP COLUMN attempts, DROP COLUMN closed_at, DROP COLUMN closed_by,
        DROP COLUMN retry_of, DROP COLUMN flow_id, DROP COLUMN connection_id, DROP COLUMN idempotency_key`);
    // sluice_complete_messages keeps this body, which names the dropped columns: a down
    // below this one must be followed by CompleteMessagesFunction's up to run jobs again.
  }
}

/**
 * As in CompleteMessagesFunction, plus: each error element may carry
 * connection_id, attempts, idempotency_key and retry_of; the error row gets
 * the job's flow_id; job.open_error_count and flow_error_tally grow by the
 * errors kept, in this transaction.
 */
const COMPLETE_MESSAGES = `
  CREATE OR REPLACE FUNCTION sluice_complete_messages(p_outcomes jsonb)
  RETURNS TABLE (freed_owners uuid[], busy_owners uuid[], finished_jobs uuid[])
  LANGUAGE plpgsql AS $$
  DECLARE
    v_jobs uuid[];
    v_live uuid[];
    v_done bigint[];
    v_freed uuid[];
    v_requeued_owners uuid[];
    v_new_owners uuid[];
    v_finished uuid[];
    v_kept int;
  BEGIN
    SELECT array_agg(DISTINCT job_id ORDER BY job_id) INTO v_jobs FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes);
    SELECT coalesce(array_agg(j.id) FILTER (WHERE j.status IN ('QUEUED', 'RUNNING')), '{}') INTO v_live
      FROM (SELECT id, status FROM job WHERE id = ANY(v_jobs) ORDER BY id FOR UPDATE) j;

    WITH deleted AS (
      DELETE FROM queue_message m USING jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
       WHERE (o.kind = 'done' OR NOT o.job_id = ANY(v_live)) AND m.id = o.id AND m.lease_id = o.lease_id
      RETURNING m.id, m.queue_owner_id)
    SELECT coalesce(array_agg(id), '{}'), coalesce(array_agg(DISTINCT queue_owner_id), '{}') INTO v_done, v_freed FROM deleted;

    WITH requeued AS (
      UPDATE queue_message m
         SET state = 'queued', lease_id = NULL, lease_expires_at = NULL,
             run_after = now() + o.delay_ms * interval '1 millisecond',
             attempts = m.attempts - o.refund
        FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
       WHERE o.kind = 'back' AND o.job_id = ANY(v_live) AND m.id = o.id AND m.lease_id = o.lease_id
      RETURNING m.queue_owner_id)
    SELECT coalesce(array_agg(DISTINCT queue_owner_id), '{}') INTO v_requeued_owners FROM requeued;

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
    busy_owners := v_new_owners || v_requeued_owners;
    finished_jobs := v_finished;
    RETURN NEXT;
  END;
  $$`;
