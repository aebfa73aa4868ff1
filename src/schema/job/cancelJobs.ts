import { In, type EntityManager } from 'typeorm';
import { JobRow } from '../../database/entities';
import { ACTIVE_JOB_STATUSES } from '../../database/entities/job.entity';
import { CANCEL_CHANNEL } from '../../engine/sql/cancelChannel';
import { JOB_CHANNEL } from '../../engine/sql/completeMessages';

/**
 * Cancels the queued and running jobs that match, and drops their messages
 * that have not started. Running messages are aborted by the engine, which
 * sees the job CANCELED (and is told through the queue's notification).
 */
export async function cancelActiveJobs(tx: EntityManager, where: { flowId: string } | { id: string }): Promise<JobRow[]> {
  const jobs = await tx.find(JobRow, {
    where: { ...where, status: In([...ACTIVE_JOB_STATUSES]) },
    order: { createdAt: 'ASC' },
    lock: { mode: 'pessimistic_write' },
  });
  if (jobs.length === 0) return [];
  const ids = jobs.map((j) => j.id);
  const finishedAt = new Date();
  await tx.update(JobRow, { id: In(ids) }, { status: 'CANCELED', finishedAt });
  await tx.query(`DELETE FROM queue_message WHERE job_id = ANY($1::uuid[]) AND state = 'queued'`, [ids]);
  // Every process running a call of these jobs aborts it when this commits.
  await tx.query(`SELECT pg_notify('${CANCEL_CHANNEL}', id::text) FROM unnest($1::uuid[]) AS id`, [ids]);
  // And jobUpdated subscribers see the CANCELED state without waiting for a re-read.
  await tx.query(`SELECT pg_notify('${JOB_CHANNEL}', id::text) FROM unnest($1::uuid[]) AS id`, [ids]);
  return jobs.map((j) => ({ ...j, status: 'CANCELED', finishedAt }));
}
