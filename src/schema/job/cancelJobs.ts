import { In, type EntityManager } from 'typeorm';
import { JobRow } from '../../database/entities';
import { ACTIVE_JOB_STATUSES } from '../../database/entities/job.entity';
import { typeormQueryable } from '../../database/typeormQueryable';
import { cancelJobs } from '../../engine';

/**
 * Cancels the queued and running jobs that match; the engine's store drops
 * their messages that have not started and tells every process to abort
 * their running calls at commit (engine/sql/cancelJobs.ts).
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
  await cancelJobs(typeormQueryable(tx), ids);
  return jobs.map((j) => ({ ...j, status: 'CANCELED', finishedAt }));
}
