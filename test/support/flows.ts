/** Building connections and flows through the API, and waiting for jobs, for engine tests. */
import type { TestSluice } from './sluice';

/** What these helpers need of a Sluice: its GraphQL API (in this process, or a child's: test/support/graphqlClient.ts). */
export type GraphQLClient = Pick<TestSluice, 'ok'>;

export interface ConnectionOptions {
  name?: string;
  config?: Record<string, unknown>;
  credentials?: Record<string, unknown>;
  concurrencyLevel?: number | null;
  autoRecoverRateLimitErrors?: boolean;
  borrowConcurrencyFromId?: string;
}

export async function createHttpConnection(s: GraphQLClient, baseUrl: string, options: ConnectionOptions = {}): Promise<string> {
  const { config, name, ...rest } = options;
  const input: Record<string, unknown> = { name: name ?? 'api', connectorType: 'http', config: { baseUrl, ...config }, ...rest };
  const data = await s.ok<{ createConnection: { id: string } }>(
    `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
    { input },
  );
  return data.createConnection.id;
}

export interface StepSpec {
  kind: 'EXPORT' | 'DOWNLOAD' | 'LOOKUP' | 'IMPORT';
  connectionId: string;
  config: Record<string, unknown>;
  name?: string;
}

export async function createFlow(s: GraphQLClient, steps: StepSpec[], name = 'flow'): Promise<{ id: string; stepIds: string[] }> {
  const data = await s.ok<{ createFlow: { id: string; steps: { id: string }[] } }>(
    `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id steps { id } } }`,
    { input: { name, steps: steps.map((st, i) => ({ name: st.name ?? `${st.kind.toLowerCase()}-${i}`, ...st })) } },
  );
  return { id: data.createFlow.id, stepIds: data.createFlow.steps.map((st) => st.id) };
}

/** The recording API's paging (test/support/recordingApi.ts): GET /orders?page=&per_page=, records under `data`. */
export const ORDERS_PAGING = { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 100 };

/** A flow that exports the recording API's /orders and imports each record to `importPath`, both through `connectionId`. */
export async function createExportImportFlow(s: GraphQLClient, connectionId: string, importPath = '/import'): Promise<string> {
  const flow = await createFlow(s, [
    { kind: 'EXPORT', connectionId, config: { path: '/orders', recordsPath: 'data', paging: ORDERS_PAGING } },
    { kind: 'IMPORT', connectionId, config: { path: importPath } },
  ]);
  return flow.id;
}

export async function runFlow(s: GraphQLClient, flowId: string): Promise<string> {
  const data = await s.ok<{ runFlow: { id: string } }>(`mutation($id: ID!) { runFlow(flowId: $id) { id } }`, { id: flowId });
  return data.runFlow.id;
}

export interface JobView {
  id: string;
  status: string;
  recordsExported: number;
  recordsSucceeded: number;
  recordsFailed: number;
  errors: { code: string; message: string; record: unknown; step: { id: string } | null }[];
}

export async function getJob(s: GraphQLClient, jobId: string): Promise<JobView> {
  const data = await s.ok<{ job: JobView }>(
    `query($id: ID!) { job(id: $id) { id status recordsExported recordsSucceeded recordsFailed errors(first: 500) { code message record step { id } } } }`,
    { id: jobId },
  );
  return data.job;
}

/** Polls until the job is COMPLETED, FAILED or CANCELED. */
export async function waitForJob(s: GraphQLClient, jobId: string, timeoutMs = 20000): Promise<JobView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(s, jobId);
    if (['COMPLETED', 'FAILED', 'CANCELED'].includes(job.status)) return job;
    if (Date.now() > until) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `probe` until it returns true. */
export async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How many messages of the job are in the queue (queued or running), straight from the database. */
export async function messagesOf(s: TestSluice, jobId: string): Promise<number> {
  const rows = (await s.sluice.dataSource.query(`SELECT count(*)::int AS n FROM queue_message WHERE job_id = $1`, [jobId])) as { n: number }[];
  return rows[0]?.n ?? 0;
}
