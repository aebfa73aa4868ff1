import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DropBackOutcomesOfEndedJobs1763920000000 } from './1763920000000-DropBackOutcomesOfEndedJobs';

/**
 * sluice_complete_messages, as in 1763920000000-DropBackOutcomesOfEndedJobs.ts,
 * now also returning busy_owners: the queues that gained messages (follow-ups,
 * retries). The engine ignores the NOTIFYs of its own commits (they would wake
 * dispatchers it has already woken, and each such wake is a claim that finds
 * nothing), so it needs this to wake the queues its own outcomes fed.
 */
export class CompletionReportsBusyQueues1763940000000 implements MigrationInterface {
  name = 'CompletionReportsBusyQueues1763940000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sluice_complete_messages(jsonb)`);
    await q.query(`
      CREATE FUNCTION sluice_complete_messages(p_outcomes jsonb)
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
      BEGIN
        SELECT array_agg(DISTINCT job_id ORDER BY job_id) INTO v_jobs FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes);
        SELECT coalesce(array_agg(j.id) FILTER (WHERE j.status IN ('QUEUED', 'RUNNING')), '{}') INTO v_live
          FROM (SELECT id, status FROM job WHERE id = ANY(v_jobs) ORDER BY id FOR UPDATE) j;

        WITH deleted AS (
          DELETE FROM queue_message m USING jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
           WHERE (o.kind = 'done' OR NOT o.job_id = ANY(v_live)) AND m.id = o.id AND m.lease_id = o.lease_id
          RETURNING m.id, m.queue_owner_id)
        SELECT coalesce(array_agg(id), '{}'), coalesce(array_agg(DISTINCT queue_owner_id), '{}') INTO v_done, v_freed FROM deleted;

        -- Retried and released messages keep their id, so they keep their place
        -- in FIFO order: only while their job is live (see the header).
        WITH requeued AS (
          UPDATE queue_message m
             SET state = 'queued', lease_id = NULL, lease_expires_at = NULL,
                 run_after = now() + o.delay_ms * interval '1 millisecond',
                 attempts = m.attempts - o.refund
            FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
           WHERE o.kind = 'back' AND o.job_id = ANY(v_live) AND m.id = o.id AND m.lease_id = o.lease_id
          RETURNING m.queue_owner_id)
        SELECT coalesce(array_agg(DISTINCT queue_owner_id), '{}') INTO v_requeued_owners FROM requeued;

        -- Follow-ups join the queue their connection uses now, in the order they were produced.
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

        INSERT INTO job_error (id, job_id, step_id, code, message, record, occurred_at)
        SELECT gen_random_uuid(), o.job_id, (e.value->>'step_id')::uuid, e.value->>'code', e.value->>'message', e.value->'record', clock_timestamp()
          FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes) o
          CROSS JOIN LATERAL jsonb_array_elements(o.errors) WITH ORDINALITY AS e(value, k)
         WHERE o.id = ANY(v_done) AND o.job_id = ANY(v_live)
         ORDER BY o.n, e.k;

        UPDATE job
           SET records_exported = job.records_exported + d.exported,
               records_succeeded = job.records_succeeded + d.succeeded,
               records_failed = job.records_failed + d.failed,
               source_failed = job.source_failed OR d.source_failed
          FROM (SELECT job_id, sum(exported)::int AS exported, sum(succeeded)::int AS succeeded,
                       sum(failed)::int AS failed, bool_or(source_failed) AS source_failed
                  FROM jsonb_populate_recordset(NULL::sluice_outcome, p_outcomes)
                 WHERE id = ANY(v_done) AND job_id = ANY(v_live)
                 GROUP BY job_id) d
         WHERE job.id = d.job_id;

        -- A job is over when nothing of it is queued or running: every follow-up
        -- was inserted above, in the same transaction as the delete that made it.
        WITH finished AS (
          UPDATE job
             SET status = CASE WHEN source_failed THEN 'FAILED' ELSE 'COMPLETED' END, finished_at = now()
           WHERE id = ANY(v_live) AND status = 'RUNNING'
             AND NOT EXISTS (SELECT 1 FROM queue_message q WHERE q.job_id = job.id)
          RETURNING id)
        SELECT coalesce(array_agg(id), '{}') INTO v_finished FROM finished;

        -- Wake every process's dispatchers of the queues that gained work or
        -- freed a slot, and the watchers of these jobs. Delivered at commit.
        PERFORM pg_notify('sluice_queue', owner::text)
           FROM (SELECT DISTINCT unnest(v_freed || v_requeued_owners || v_new_owners) AS owner) owners;
        PERFORM pg_notify('sluice_job', job_id::text) FROM unnest(v_jobs) AS job_id;

        freed_owners := v_freed || v_requeued_owners;
        busy_owners := v_new_owners || v_requeued_owners;
        finished_jobs := v_finished;
        RETURN NEXT;
      END;
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sluice_complete_messages(jsonb)`);
    await new DropBackOutcomesOfEndedJobs1763920000000().up(q);
  }
}
