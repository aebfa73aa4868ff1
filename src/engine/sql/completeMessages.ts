/**
 * completeMessages: records the outcomes of a batch of messages in one
 * transaction: finished ones deleted (with their follow-up messages, job
 * counts and errors), retried ones back in the queue, jobs with nothing left
 * finished.
 *
 * Locks: the batch's job rows FOR UPDATE, in id order (no deadlock between
 * batches). That serializes completions per job, so when two processes finish
 * a job's last two messages at once, the second sees the first's delete and
 * marks the job finished; without the lock each could see the other's message
 * still there and the job would stay RUNNING forever.
 *
 * A message only counts if its lease is still ours (lease_id matches): a
 * process that lost its lease (it stalled past expiry and another process
 * re-ran the message) must not complete it a second time.
 */
import type { PoolClient } from 'pg';
import type { Outcome } from '../outcome';
import { enqueueMessages, notifyQueues } from './enqueueMessages';

export const JOB_CHANNEL = 'sluice_job';

export interface CompletionResult {
  /** Queue owners whose messages left the running state: slots are free there. */
  freedOwners: string[];
  /** Jobs that reached COMPLETED or FAILED. */
  finishedJobs: string[];
}

export async function completeMessages(tx: PoolClient, outcomes: Outcome[]): Promise<CompletionResult> {
  const jobIds = [...new Set(outcomes.map((o) => o.message.jobId))].sort();
  const { rows: jobs } = await tx.query<{ id: string; status: string }>(
    `SELECT id, status FROM job WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
    [jobIds],
  );
  const running = new Set(jobs.filter((j) => j.status === 'RUNNING' || j.status === 'QUEUED').map((j) => j.id));

  const done = outcomes.filter((o) => o.kind === 'done');
  // A retry or release of a job that is over is dropped, not put back: a
  // cancel that committed while the call was in flight has already dropped
  // the job's queued messages, and a requeued one would run again after it.
  const over = outcomes.filter((o) => o.kind !== 'done' && !running.has(o.message.jobId));
  const gone = [...done, ...over];
  const { rows: deleted } = await tx.query<{ id: string; queue_owner_id: string }>(
    `DELETE FROM queue_message m
      USING unnest($1::bigint[], $2::uuid[]) AS d(id, lease_id)
      WHERE m.id = d.id AND m.lease_id = d.lease_id
      RETURNING m.id, m.queue_owner_id`,
    [gone.map((o) => o.message.id), gone.map((o) => o.message.leaseId)],
  );

  // Retried and released messages keep their id, so they keep their place in FIFO order.
  const back = outcomes.filter((o) => o.kind !== 'done' && running.has(o.message.jobId));
  const { rows: requeued } = await tx.query<{ queue_owner_id: string }>(
    `UPDATE queue_message m
        SET state = 'queued', lease_id = NULL, lease_expires_at = NULL,
            run_after = now() + r.delay_ms * interval '1 millisecond',
            attempts = m.attempts - r.refund
       FROM unnest($1::bigint[], $2::uuid[], $3::int[], $4::int[]) AS r(id, lease_id, delay_ms, refund)
      WHERE m.id = r.id AND m.lease_id = r.lease_id
      RETURNING m.queue_owner_id`,
    [
      back.map((o) => o.message.id),
      back.map((o) => o.message.leaseId),
      back.map((o) => (o.kind === 'retry' ? o.delayMs : 0)),
      back.map((o) => (o.kind === 'retry' && !o.refund ? 0 : 1)),
    ],
  );

  // Effects of finished messages count only while we held the lease and the job is live.
  const ours = new Set(deleted.map((r) => r.id));
  const effective = done.filter((o) => ours.has(o.message.id) && running.has(o.message.jobId));

  await enqueueMessages(tx, effective.flatMap((o) => o.followUps));

  const errors = effective.flatMap((o) => o.errors.map((e) => ({ job_id: o.message.jobId, step_id: e.stepId, code: e.code, message: e.message, record: e.record ?? null })));
  if (errors.length > 0) {
    await tx.query(
      `INSERT INTO job_error (id, job_id, step_id, code, message, record, occurred_at)
       SELECT gen_random_uuid(), e.job_id, e.step_id, e.code, e.message, e.record, clock_timestamp()
         FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (job_id uuid, step_id uuid, code text, message text, record jsonb))
                WITH ORDINALITY AS e(job_id, step_id, code, message, record, n)
        ORDER BY e.n`,
      [JSON.stringify(errors)],
    );
  }

  const deltas = new Map<string, { exported: number; succeeded: number; failed: number; source_failed: boolean }>();
  for (const o of effective) {
    const d = deltas.get(o.message.jobId) ?? { exported: 0, succeeded: 0, failed: 0, source_failed: false };
    d.exported += o.delta.exported;
    d.succeeded += o.delta.succeeded;
    d.failed += o.delta.failed;
    d.source_failed ||= o.delta.sourceFailed;
    deltas.set(o.message.jobId, d);
  }
  if (deltas.size > 0) {
    await tx.query(
      `UPDATE job
          SET records_exported = job.records_exported + d.exported,
              records_succeeded = job.records_succeeded + d.succeeded,
              records_failed = job.records_failed + d.failed,
              source_failed = job.source_failed OR d.source_failed
         FROM jsonb_to_recordset($1::jsonb) AS d(job_id uuid, exported int, succeeded int, failed int, source_failed boolean)
        WHERE job.id = d.job_id`,
      [JSON.stringify([...deltas].map(([job_id, d]) => ({ job_id, ...d })))],
    );
  }

  // A job is over when nothing of it is queued or running: every follow-up is
  // inserted in the same transaction as the delete of the message that made it.
  const { rows: finished } = await tx.query<{ id: string }>(
    `UPDATE job
        SET status = CASE WHEN source_failed THEN 'FAILED' ELSE 'COMPLETED' END, finished_at = now()
      WHERE id = ANY($1::uuid[]) AND status = 'RUNNING'
        AND NOT EXISTS (SELECT 1 FROM queue_message q WHERE q.job_id = job.id)
      RETURNING id`,
    [[...running]],
  );

  const freedOwners = [...new Set([...deleted.map((r) => r.queue_owner_id), ...requeued.map((r) => r.queue_owner_id)])];
  await notifyQueues(tx, freedOwners);
  if (jobIds.length > 0) {
    await tx.query(`SELECT pg_notify('${JOB_CHANNEL}', id::text) FROM unnest($1::uuid[]) AS id`, [jobIds]);
  }
  return { freedOwners, finishedJobs: finished.map((r) => r.id) };
}
