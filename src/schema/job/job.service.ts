/** Jobs: one run of a flow. The engine moves them along; the API starts, reads and cancels them. */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { FlowRow, JobRow, StepRow } from '../../database/entities';
import type { JobStatusName } from '../../database/entities/job.entity';
import { badUserInput, isWellFormedId, notFound } from '../common/errors';
import { findOrNotFound } from '../common/ids';
import { cancelActiveJobs } from './cancelJobs';
import { retryOnDeadlock } from '../../database/retryOnDeadlock';
import { enqueue, firstSourcePayload } from '../../engine';
import { typeormQueryable } from '../../database/typeormQueryable';
import { poolOf } from '../../database/pool';
import { jobColumns } from '../../database/entityColumns';
import type { Queryable } from '../../database/queryable';
import type { Logger } from '../../logger';

import { MAX_PAGE } from '../common/paging';

export { MAX_PAGE };

export function validFirst(first: number | null | undefined, fallback: number): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE) throw badUserInput(`first must be from 0 to ${MAX_PAGE}, got ${n}`);
  return n;
}

export class JobService {
  /** Plain SQL for the reads (database/pool.ts). */
  private readonly sql: Queryable;

  constructor(
    private readonly db: DataSource,
    /** Where a job's start and cancel are logged (its end is the engine's: engine/operatorLog.ts). */
    private readonly logger?: Logger,
  ) {
    this.sql = poolOf(db);
  }

  async get(id: string): Promise<JobRow> {
    if (!isWellFormedId(id)) throw notFound('job', id);
    const { rows } = await this.sql.query<JobRow>(`SELECT ${jobColumns('j')} FROM job j WHERE j.id = $1`, [id]);
    if (!rows[0]) throw notFound('job', id);
    return rows[0];
  }

  /** Newest first. With flowId: NOT_FOUND when there is no such flow. */
  async list(filter: { flowId?: string | null; status?: JobStatusName | null; first?: number | null }): Promise<JobRow[]> {
    const take = validFirst(filter.first, 50);
    const flowId = filter.flowId ?? null;
    if (flowId !== null && !isWellFormedId(flowId)) throw notFound('flow', flowId);
    // A null filter is folded away when the statement is planned (unnamed
    // statements are planned with their values), so each case keeps its index.
    const { rows } = await this.sql.query<JobRow>(
      `SELECT ${jobColumns('j')} FROM job j
        WHERE ($1::uuid IS NULL OR j.flow_id = $1::uuid) AND ($2::text IS NULL OR j.status = $2::text)
        ORDER BY j.created_at DESC, j.id DESC
        LIMIT $3`,
      [flowId, filter.status ?? null, take],
    );
    // A job names its flow (foreign key), so only an empty list leaves the flow's existence to check.
    if (rows.length === 0 && flowId !== null) await findOrNotFound(this.db.manager, FlowRow, 'flow', flowId);
    return rows;
  }

  /** A QUEUED job with its source step's first request enqueued in the same transaction; a claim makes it RUNNING. */
  async run(flowId: string, by: string | null = null): Promise<JobRow> {
    let flowName = '';
    const started = await this.db.transaction(async (tx) => {
      // FOR UPDATE serializes with step edits, which refuse while a job is active.
      const flow = await findOrNotFound(tx, FlowRow, 'flow', flowId, 'pessimistic_write');
      const source = await tx.findOne(StepRow, { where: { flowId: flow.id, position: 0 } });
      if (!source) throw badUserInput(`flow "${flow.name}" has no steps to run`);
      flowName = flow.name;
      const job = tx.create(JobRow, {
        id: randomUUID(),
        flowId: flow.id,
        status: 'QUEUED',
        createdAt: new Date(),
        startedAt: null,
        finishedAt: null,
        recordsExported: 0,
        recordsSucceeded: 0,
        recordsFailed: 0,
      });
      await tx.insert(JobRow, job);
      // The source's first request joins its queue behind what is there; each
      // page's response will enqueue the next page and the page's records.
      await enqueue(typeormQueryable(tx), [
        { connectionId: source.connectionId, jobId: job.id, stepId: source.id, payload: firstSourcePayload(source.kind) },
      ]);
      return job;
    });
    this.logger?.info({ jobId: started.id, flowId: started.flowId, flowName, status: started.status, tokenName: by }, 'job started');
    return started;
  }

  async cancel(id: string, by: string | null = null): Promise<JobRow> {
    const canceled = await retryOnDeadlock(() => this.db.transaction(async (tx) => {
      const job = await findOrNotFound(tx, JobRow, 'job', id, 'pessimistic_write');
      const [canceled] = await cancelActiveJobs(tx, { id: job.id });
      if (!canceled) throw badUserInput(`job ${job.id} is ${job.status}; only QUEUED or RUNNING jobs can be canceled`);
      return canceled;
    }));
    this.logger?.info(
      {
        jobId: canceled.id,
        flowId: canceled.flowId,
        status: canceled.status,
        recordsExported: canceled.recordsExported,
        recordsSucceeded: canceled.recordsSucceeded,
        recordsFailed: canceled.recordsFailed,
        tokenName: by,
      },
      'job canceled',
    );
    return canceled;
  }
}
