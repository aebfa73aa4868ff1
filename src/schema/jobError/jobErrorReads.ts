/**
 * Reading JobErrors: a filtered page newest first (Query.jobErrors), a job's
 * errors in occurrence order (Job.errors), and errors by id (retryOf). Plain
 * SQL on the pool (database/pool.ts says why).
 *
 * Paging is by seq, the order errors were kept in (the uuid id is random):
 * `after` names the last error of the previous page, whose seq bounds the
 * next one. Each filter field has an index ending in seq
 * (migrations/1765500000000-FailedRecords.ts), and only the fields given are
 * in the statement, so the planner can take the narrowest.
 */
import { jobErrorColumns } from '../../database/entityColumns';
import type { JobErrorRow } from '../../database/entities';
import type { JobErrorStateName } from '../../database/entities/jobError.entity';
import type { Queryable } from '../../database/queryable';
import { isWellFormedId, notFound } from '../common/errors';

export interface ErrorFilter {
  flowId?: string | null;
  jobId?: string | null;
  stepId?: string | null;
  connectionId?: string | null;
  state?: JobErrorStateName | null;
  code?: string | null;
}

/** The filter's id fields: column, and what NOT_FOUND calls it. */
const ID_FIELDS = [
  ['flowId', 'flow_id', 'flow', 'flow'],
  ['jobId', 'job_id', 'job', 'job'],
  ['stepId', 'step_id', 'step', 'step'],
  ['connectionId', 'connection_id', 'connection', 'connection'],
] as const;

/**
 * The WHERE conditions of a filter on alias `e`, their parameters appended to
 * `params`. A malformed id names nothing: NOT_FOUND, as the contract says.
 */
export function filterConditions(filter: ErrorFilter | null | undefined, params: unknown[]): string[] {
  const conditions: string[] = [];
  for (const [field, column, what] of ID_FIELDS) {
    const id = filter?.[field];
    if (id === null || id === undefined) continue;
    if (!isWellFormedId(id)) throw notFound(what, id);
    params.push(id);
    conditions.push(`e.${column} = $${params.length}::uuid`);
  }
  if (filter?.state) {
    params.push(filter.state);
    conditions.push(`e.state = $${params.length}`);
  }
  if (filter?.code !== null && filter?.code !== undefined) {
    params.push(filter.code);
    conditions.push(`e.code = $${params.length}`);
  }
  return conditions;
}

/** NOT_FOUND for the first id of the filter that names nothing: asked only when a page came back empty. */
export async function checkFilterIds(db: Queryable, filter: ErrorFilter | null | undefined): Promise<void> {
  for (const [field, , what, table] of ID_FIELDS) {
    const id = filter?.[field];
    if (id === null || id === undefined) continue;
    const { rows } = await db.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id]);
    if (rows.length === 0) throw notFound(what, id);
  }
}

/** The seq an `after` cursor stands for; NOT_FOUND when it names no error (also one deleted by retention). */
async function seqOf(db: Queryable, id: string): Promise<string> {
  if (!isWellFormedId(id)) throw notFound('job error', id);
  const { rows } = await db.query<{ seq: string }>(`SELECT seq FROM job_error WHERE id = $1`, [id]);
  if (!rows[0]) throw notFound('job error', id);
  return rows[0].seq;
}

/** Newest first, at most `first`, after the error `after` (the last of the previous page). */
export async function listJobErrors(
  db: Queryable,
  filter: ErrorFilter | null | undefined,
  first: number,
  after: string | null | undefined,
): Promise<JobErrorRow[]> {
  const params: unknown[] = [];
  const conditions = filterConditions(filter, params);
  if (after !== null && after !== undefined) {
    params.push(await seqOf(db, after));
    conditions.push(`e.seq < $${params.length}::bigint`);
  }
  params.push(first);
  const { rows } = await db.query<JobErrorRow>(
    `SELECT ${jobErrorColumns('e')} FROM job_error e
      ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
      ORDER BY e.seq DESC
      LIMIT $${params.length}`,
    params,
  );
  if (rows.length === 0) await checkFilterIds(db, filter);
  return rows;
}

/** Each job's first `first` errors in occurrence order, in one statement for all the jobs (Job.errors' loader). */
export async function errorsOfJobs(
  db: Queryable,
  jobIds: readonly string[],
  state: JobErrorStateName | null,
  first: number,
): Promise<Map<string, JobErrorRow[]>> {
  const { rows } = await db.query<JobErrorRow>(
    `SELECT e.* FROM unnest($1::uuid[]) AS k(job_id)
       CROSS JOIN LATERAL (
         SELECT ${jobErrorColumns('x')} FROM job_error x
          WHERE x.job_id = k.job_id AND ($2::text IS NULL OR x.state = $2::text)
          ORDER BY x.seq
          LIMIT $3) e`,
    [jobIds, state, first],
  );
  const byJob = new Map<string, JobErrorRow[]>();
  for (const row of rows) {
    const list = byJob.get(row.jobId);
    if (list) list.push(row);
    else byJob.set(row.jobId, [row]);
  }
  return byJob;
}

export async function jobErrorsById(db: Queryable, ids: readonly string[]): Promise<JobErrorRow[]> {
  const { rows } = await db.query<JobErrorRow>(`SELECT ${jobErrorColumns('e')} FROM job_error e WHERE e.id = ANY($1::uuid[])`, [ids]);
  return rows;
}

/** Each flow's OPEN errors, from the tally the writers keep (never a count over the errors). */
export async function openErrorsOfFlows(db: Queryable, flowIds: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ flow_id: string; open_errors: number }>(
    `SELECT flow_id, open_errors FROM flow_error_tally WHERE flow_id = ANY($1::uuid[])`,
    [flowIds],
  );
  return new Map(rows.map((r) => [r.flow_id, r.open_errors]));
}
