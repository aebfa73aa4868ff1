/**
 * resolveJobErrors: OPEN → RESOLVED, with who and when, for errors handled
 * outside Sluice. Their records stay in recordsFailed (they did fail); the
 * open-error counters drop. Locks as retryJobErrors.ts takes them (jobs, then
 * errors, then the flows' tallies), so the two never deadlock.
 */
import { jobErrorColumns } from '../../database/entityColumns';
import type { JobErrorRow } from '../../database/entities';
import { JOB_CHANNEL } from '../../engine';
import type { Queryable } from '../../database/queryable';
import { lowerFlowTallies } from './retryJobErrors';

/** Resolves those of `ids` that are OPEN; returns them. `tx` is a transaction. */
export async function resolveBatch(tx: Queryable, ids: string[], closedBy: string): Promise<JobErrorRow[]> {
  const { rows: owners } = await tx.query<{ job_ids: string[] | null }>(
    `SELECT array_agg(DISTINCT job_id ORDER BY job_id) AS job_ids FROM job_error WHERE id = ANY($1::uuid[]) AND state = 'OPEN'`,
    [ids],
  );
  const jobIds = owners[0]?.job_ids ?? [];
  if (jobIds.length === 0) return [];
  await tx.query(`SELECT 1 FROM job WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [jobIds]);
  const { rows } = await tx.query<JobErrorRow>(
    `WITH resolved AS (
       UPDATE job_error e SET state = 'RESOLVED', closed_at = now(), closed_by = $2
        WHERE e.id = ANY($1::uuid[]) AND e.state = 'OPEN'
       RETURNING ${jobErrorColumns('e')})
     SELECT * FROM resolved ORDER BY seq`,
    [ids, closedBy],
  );
  const perJob = new Map<string, number>();
  const perFlow = new Map<string, number>();
  for (const row of rows) {
    perJob.set(row.jobId, (perJob.get(row.jobId) ?? 0) + 1);
    perFlow.set(row.flowId, (perFlow.get(row.flowId) ?? 0) + 1);
  }
  await tx.query(
    `UPDATE job j SET open_error_count = j.open_error_count - d.n
       FROM unnest($1::uuid[], $2::int[]) AS d(job_id, n) WHERE j.id = d.job_id`,
    [[...perJob.keys()], [...perJob.values()]],
  );
  await lowerFlowTallies(tx, perFlow);
  await tx.query(`SELECT pg_notify('${JOB_CHANNEL}', id::text) FROM unnest($1::uuid[]) AS id`, [jobIds]);
  return rows;
}
