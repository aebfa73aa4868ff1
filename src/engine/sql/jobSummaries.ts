/** jobSummaries: jobs with their flow and counts, for the log lines of failed records and finished jobs. */
import type { JobStatusName } from '../../database/entities/job.entity';
import type { Queryable } from './queryable';

export interface JobSummary {
  id: string;
  status: JobStatusName;
  flowId: string;
  flowName: string;
  recordsExported: number;
  recordsSucceeded: number;
  recordsFailed: number;
  /** From the job's creation (runFlow) to its end; null while it runs. */
  durationMs: number | null;
}

export async function jobSummaries(db: Queryable, ids: string[]): Promise<Map<string, JobSummary>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{
    id: string;
    status: JobStatusName;
    flow_id: string;
    flow_name: string;
    records_exported: number;
    records_succeeded: number;
    records_failed: number;
    duration_ms: number | null;
  }>(
    `SELECT j.id, j.status, j.flow_id, f.name AS flow_name, j.records_exported, j.records_succeeded, j.records_failed,
            (EXTRACT(EPOCH FROM j.finished_at - j.created_at) * 1000)::float8 AS duration_ms
       FROM job j JOIN flow f ON f.id = j.flow_id
      WHERE j.id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        status: r.status,
        flowId: r.flow_id,
        flowName: r.flow_name,
        recordsExported: r.records_exported,
        recordsSucceeded: r.records_succeeded,
        recordsFailed: r.records_failed,
        durationMs: r.duration_ms === null ? null : Math.round(r.duration_ms),
      },
    ]),
  );
}
