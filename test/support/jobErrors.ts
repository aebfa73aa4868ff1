/** Reading and acting on a job's failed records through the API, for the failed-records tests. */
import type { ServerResponse } from 'node:http';
import type { ReceivedRequest } from './fakeApi';
import { json } from './recordingApi';
import type { GraphQLClient } from './flows';

export interface JobErrorView {
  id: string;
  state: 'OPEN' | 'RETRIED' | 'RESOLVED';
  code: string;
  record: Record<string, unknown> | null;
  attempts: number;
  closedAt: string | null;
  closedBy: string | null;
  retryOf: { id: string } | null;
  step: { id: string } | null;
  job: { id: string };
}

export const JOB_ERROR_FIELDS = `id state code record attempts closedAt closedBy retryOf { id } step { id } job { id }`;

export interface Filter {
  flowId?: string;
  jobId?: string;
  stepId?: string;
  connectionId?: string;
  state?: 'OPEN' | 'RETRIED' | 'RESOLVED';
  code?: string;
}

/** Every error the filter matches, newest first, read page by page. */
export async function allJobErrors(s: GraphQLClient, filter: Filter, pageSize = 500): Promise<JobErrorView[]> {
  const all: JobErrorView[] = [];
  let after: string | null = null;
  for (;;) {
    const data: { jobErrors: JobErrorView[] } = await s.ok(
      `query($filter: JobErrorFilter, $first: Int, $after: ID) { jobErrors(filter: $filter, first: $first, after: $after) { ${JOB_ERROR_FIELDS} } }`,
      { filter, first: pageSize, after },
    );
    all.push(...data.jobErrors);
    if (data.jobErrors.length < pageSize) return all;
    after = data.jobErrors[data.jobErrors.length - 1]!.id;
  }
}

export async function retryByFilter(s: GraphQLClient, filter: Filter, secret?: string): Promise<JobErrorView[]> {
  const data = await s.ok<{ retryJobErrors: JobErrorView[] }>(
    `mutation($filter: JobErrorFilter) { retryJobErrors(filter: $filter) { ${JOB_ERROR_FIELDS} } }`,
    { filter },
    secret,
  );
  return data.retryJobErrors;
}

export async function retryByIds(s: GraphQLClient, ids: string[], record?: unknown): Promise<JobErrorView[]> {
  const data = await s.ok<{ retryJobErrors: JobErrorView[] }>(
    `mutation($ids: [ID!], $record: JSON) { retryJobErrors(ids: $ids, record: $record) { ${JOB_ERROR_FIELDS} } }`,
    { ids, record: record ?? null },
  );
  return data.retryJobErrors;
}

export interface JobCounts {
  status: string;
  recordsExported: number;
  recordsSucceeded: number;
  recordsFailed: number;
  openErrorCount: number;
  flow: { openErrorCount: number };
}

export async function jobCounts(s: GraphQLClient, jobId: string): Promise<JobCounts> {
  const data = await s.ok<{ job: JobCounts }>(
    `query($id: ID!) { job(id: $id) { status recordsExported recordsSucceeded recordsFailed openErrorCount flow { openErrorCount } } }`,
    { id: jobId },
  );
  return data.job;
}

/**
 * An import endpoint that refuses chosen records (by id) with HTTP 400 until
 * it is fixed; once fixed, imports can be held at the door (`hold`) so that
 * a test sees the job RUNNING while its retried records are on their way.
 * Install as a recording API's `override`; accepted imports fall through to
 * the recording API, which records them (`imported`, `importKeys`).
 */
export class RefusingSink {
  fixed = false;
  /** Idempotency-Key of each refused call, by record id, in arrival order. */
  readonly refusedKeys = new Map<number, string[]>();
  private held: Promise<void> | null = null;
  private release: () => void = () => undefined;

  constructor(private readonly refused: Set<number>) {}

  hold(): void {
    this.held = new Promise((resolve) => (this.release = resolve));
  }

  letThrough(): void {
    this.release();
    this.held = null;
  }

  readonly override = async (req: ReceivedRequest, res: ServerResponse): Promise<boolean> => {
    if (!req.path.startsWith('/import')) return false;
    const body = JSON.parse(req.body) as { id: number };
    if (!this.fixed && this.refused.has(body.id)) {
      const keys = this.refusedKeys.get(body.id) ?? [];
      keys.push(String(req.headers['idempotency-key']));
      this.refusedKeys.set(body.id, keys);
      json(res, 400, { error: `order ${body.id} is invalid` });
      return true;
    }
    if (this.held) await this.held;
    return false;
  };
}
