/** Jobs: one run of a flow. The engine moves them along; the API starts, reads and cancels them. */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { FlowRow, JobErrorRow, JobRow, StepRow } from '../../database/entities';
import type { JobStatusName } from '../../database/entities/job.entity';
import { badUserInput } from '../common/errors';
import { findOrNotFound } from '../common/ids';
import { cancelActiveJobs } from './cancelJobs';
import { enqueueMessages } from '../../engine/sql/enqueueMessages';
import { firstSourcePayload } from '../../engine/message';
import { typeormQueryable } from '../../database/typeormQueryable';

/** The most rows one list field returns: a bound on what one request can ask for. */
export const MAX_PAGE = 500;

export function validFirst(first: number | null | undefined, fallback: number): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE) throw badUserInput(`first must be from 0 to ${MAX_PAGE}, got ${n}`);
  return n;
}

export class JobService {
  constructor(private readonly db: DataSource) {}

  get(id: string): Promise<JobRow> {
    return findOrNotFound(this.db.manager, JobRow, 'job', id);
  }

  async list(filter: { flowId?: string | null; status?: JobStatusName | null; first?: number | null }): Promise<JobRow[]> {
    const take = validFirst(filter.first, 50);
    if (filter.flowId != null) await findOrNotFound(this.db.manager, FlowRow, 'flow', filter.flowId);
    return this.db.getRepository(JobRow).find({
      where: { ...(filter.flowId != null ? { flowId: filter.flowId } : {}), ...(filter.status != null ? { status: filter.status } : {}) },
      order: { createdAt: 'DESC', id: 'DESC' },
      take,
    });
  }

  errors(jobId: string, first: number | null | undefined): Promise<JobErrorRow[]> {
    return this.db.getRepository(JobErrorRow).find({ where: { jobId }, order: { occurredAt: 'ASC', id: 'ASC' }, take: validFirst(first, 50) });
  }

  /** A QUEUED job with its source step's first request enqueued in the same transaction; a claim makes it RUNNING. */
  async run(flowId: string): Promise<JobRow> {
    return this.db.transaction(async (tx) => {
      // FOR UPDATE serializes with step edits, which refuse while a job is active.
      const flow = await findOrNotFound(tx, FlowRow, 'flow', flowId, 'pessimistic_write');
      const source = await tx.findOne(StepRow, { where: { flowId: flow.id, position: 0 } });
      if (!source) throw badUserInput(`flow "${flow.name}" has no steps to run`);
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
      await enqueueMessages(typeormQueryable(tx), [
        { connectionId: source.connectionId, jobId: job.id, stepId: source.id, payload: firstSourcePayload(source.kind) },
      ]);
      return job;
    });
  }

  async cancel(id: string): Promise<JobRow> {
    return this.db.transaction(async (tx) => {
      const job = await findOrNotFound(tx, JobRow, 'job', id, 'pessimistic_write');
      const [canceled] = await cancelActiveJobs(tx, { id: job.id });
      if (!canceled) throw badUserInput(`job ${job.id} is ${job.status}; only QUEUED or RUNNING jobs can be canceled`);
      return canceled;
    });
  }
}
