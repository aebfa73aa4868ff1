/**
 * What the flow and job tests share: a server whose jobs stay QUEUED, the
 * GraphQL documents they send, and a snapshot of everything a flow mutation
 * could touch, so a rejection can be shown to have changed nothing.
 */
import { createHttpConnection } from '../support/flows';
import { useTestSluice, type GraphQLResponse, type TestSluice } from '../support/sluice';

/** One application (origin) and another: replacing and moving steps only happen within one. */
export const APP = 'http://127.0.0.1:9';
export const OTHER_APP = 'http://127.0.0.1:10';

/** Valid configs, one per kind, as a user would type them (defaults left out). */
export const CONFIG = {
  EXPORT: { path: '/orders' },
  DOWNLOAD: { path: '/files/orders.csv', format: 'csv' },
  LOOKUP: { path: '/customers/{{record.customerId}}', resultField: 'customer' },
  IMPORT: { path: '/orders' },
} as const;

export type Kind = keyof typeof CONFIG;

/**
 * No queue engine in this process (ROLE=api), said explicitly because these
 * tests depend on it: a job stays QUEUED and its messages stay queued for as
 * long as a test needs them to.
 */
export function useApiOnlySluice(): TestSluice {
  return useTestSluice({ engine: false });
}

export interface StepView {
  id: string;
  name: string;
  kind: Kind;
  position: number;
  config: Record<string, unknown>;
  connection: { id: string };
  flow: { id: string };
}

export interface JobView {
  id: string;
  status: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  recordsExported: number;
  recordsSucceeded: number;
  recordsFailed: number;
  flow: { id: string };
}

export interface FlowView {
  id: string;
  name: string;
  steps: StepView[];
  connections: { id: string }[];
}

export const STEP_FIELDS = `id name kind position config connection { id } flow { id }`;
export const JOB_FIELDS = `id status createdAt startedAt finishedAt recordsExported recordsSucceeded recordsFailed flow { id }`;
export const FLOW_FIELDS = `id name steps { ${STEP_FIELDS} } connections { id }`;

export interface StepInput {
  name?: string;
  kind: Kind;
  connectionId: string;
  config?: unknown;
}

/** A step input with a default name and the kind's valid config unless given. */
export function step(kind: Kind, connectionId: string, config: unknown = CONFIG[kind], name?: string): StepInput {
  return { name: name ?? `${kind.toLowerCase()} step`, kind, connectionId, config };
}

export function connectionOf(s: TestSluice, name: string, baseUrl = `${APP}/v1`): Promise<string> {
  return createHttpConnection(s, baseUrl, { name });
}

export function createFlowRaw(s: TestSluice, input: { name: string; steps?: StepInput[] | null }): Promise<GraphQLResponse> {
  return s.gql(`mutation($input: CreateFlowInput!) { createFlow(input: $input) { ${FLOW_FIELDS} } }`, { input });
}

export async function createFlow(s: TestSluice, steps: StepInput[], name = 'flow'): Promise<FlowView> {
  const data = await s.ok<{ createFlow: FlowView }>(
    `mutation($input: CreateFlowInput!) { createFlow(input: $input) { ${FLOW_FIELDS} } }`,
    { input: { name, steps } },
  );
  return data.createFlow;
}

export async function getFlow(s: TestSluice, id: string): Promise<FlowView> {
  const data = await s.ok<{ flow: FlowView }>(`query($id: ID!) { flow(id: $id) { ${FLOW_FIELDS} } }`, { id });
  return data.flow;
}

export async function runFlow(s: TestSluice, flowId: string): Promise<JobView> {
  const data = await s.ok<{ runFlow: JobView }>(`mutation($id: ID!) { runFlow(flowId: $id) { ${JOB_FIELDS} } }`, { id: flowId });
  return data.runFlow;
}

export async function getJob(s: TestSluice, id: string): Promise<JobView> {
  const data = await s.ok<{ job: JobView }>(`query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id });
  return data.job;
}

export function cancelJob(s: TestSluice, id: string): Promise<GraphQLResponse<{ cancelJob: JobView }>> {
  return s.gql(`mutation($id: ID!) { cancelJob(id: $id) { ${JOB_FIELDS} } }`, { id });
}

/** Ids of the flow's steps, in the order the API lists them, with their positions. */
export function positions(flow: FlowView): [string, number][] {
  return flow.steps.map((st) => [st.id, st.position]);
}

export interface QueueMessageRow {
  id: string;
  job_id: string;
  step_id: string;
  connection_id: string;
  queue_owner_id: string;
  state: 'queued' | 'running';
}

/** Puts a message straight into the queue table, as the engine would. */
export async function insertMessage(
  s: TestSluice,
  m: { connectionId: string; jobId: string; stepId: string; state?: 'queued' | 'running' },
): Promise<string> {
  const rows: { id: string }[] = await s.sluice.dataSource.query(
    `INSERT INTO queue_message (queue_owner_id, connection_id, job_id, step_id, state, payload)
     VALUES ($1, $1, $2, $3, $4, '{"kind": "test"}') RETURNING id`,
    [m.connectionId, m.jobId, m.stepId, m.state ?? 'queued'],
  );
  return rows[0]!.id;
}

export function queueMessages(s: TestSluice, where: { jobIds?: string[] } = {}): Promise<QueueMessageRow[]> {
  return where.jobIds
    ? s.sluice.dataSource.query(
        `SELECT id, job_id, step_id, connection_id, queue_owner_id, state FROM queue_message WHERE job_id = ANY($1::uuid[]) ORDER BY id`,
        [where.jobIds],
      )
    : s.sluice.dataSource.query(`SELECT id, job_id, step_id, connection_id, queue_owner_id, state FROM queue_message ORDER BY id`);
}

/** Sets a job's status directly, for states this engine-less server cannot reach. */
export async function forceJobStatus(s: TestSluice, jobId: string, status: 'RUNNING' | 'COMPLETED'): Promise<void> {
  await s.sluice.dataSource.query(
    `UPDATE job SET status = $2, started_at = now(), finished_at = CASE WHEN $2 = 'COMPLETED' THEN now() END WHERE id = $1`,
    [jobId, status],
  );
  // A finished job has no messages left.
  if (status === 'COMPLETED') await s.sluice.dataSource.query(`DELETE FROM queue_message WHERE job_id = $1`, [jobId]);
}

/**
 * Every flow with its steps, connections and jobs, every connection with the
 * flows and steps that use it, and every queue message: what a rejected
 * mutation must leave exactly as it was.
 */
export async function world(s: TestSluice): Promise<unknown> {
  // Every job once, with its flow, rather than each flow's 500: the cost limit
  // counts a list as long as its `first` (Security, "Requests").
  const data = await s.ok(`{
    flows { ${FLOW_FIELDS} updatedAt }
    connections { id name flows { id } steps { id position } }
    jobs(first: 500) { ${JOB_FIELDS} }
  }`);
  return { ...data, messages: await queueMessages(s) };
}

export const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';
export const MALFORMED_ID = 'not-an-id';
