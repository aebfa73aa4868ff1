/**
 * What the connection tests share: the GraphQL documents they send, a view of
 * a connection with every field of the contract, and a snapshot of everything
 * a connection mutation could touch, so a rejection can be shown to have
 * changed nothing.
 */
import type { GraphQLResponse, TestSluice } from '../support/sluice';

/** One application (origin) under two paths, and another application. */
export const APP = 'http://127.0.0.1:9';
export const OTHER_APP = 'http://127.0.0.1:10';

export const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';
export const MALFORMED_ID = 'not-an-id';

/** Every scalar field of Connection, and the ids of the connections it points at. */
export const CONNECTION_FIELDS = `
  id name connectorType application config hasCredentials
  concurrencyLevel autoRecoverRateLimitErrors targetConcurrencyLevel rateLimit { requests perMilliseconds }
  borrowConcurrencyFrom { id } borrowers { id } queueOwner { id }
  queueSize inFlight flows { id } steps { id } createdAt updatedAt`;

export interface ConnectionView {
  id: string;
  name: string;
  connectorType: string;
  application: string;
  config: Record<string, unknown>;
  hasCredentials: boolean;
  concurrencyLevel: number | null;
  autoRecoverRateLimitErrors: boolean;
  targetConcurrencyLevel: number | null;
  rateLimit: { requests: number; perMilliseconds: number } | null;
  borrowConcurrencyFrom: { id: string } | null;
  borrowers: { id: string }[];
  queueOwner: { id: string };
  queueSize: number;
  inFlight: number;
  flows: { id: string }[];
  steps: { id: string }[];
  createdAt: string;
  updatedAt: string;
}

export interface CreateInput {
  name?: string;
  connectorType?: string;
  config?: unknown;
  credentials?: unknown;
  concurrencyLevel?: number | null;
  autoRecoverRateLimitErrors?: boolean | null;
  rateLimit?: { requests: number; perMilliseconds: number } | null;
  borrowConcurrencyFromId?: string | null;
}

/** An http connection input: named `name`, to `baseUrl` unless the input says otherwise. */
function createInput(input: CreateInput, baseUrl: string): Record<string, unknown> {
  return { name: 'api', connectorType: 'http', config: { baseUrl }, ...input };
}

export function createConnectionRaw(
  s: TestSluice,
  input: CreateInput,
  baseUrl = `${APP}/v1`,
): Promise<GraphQLResponse<{ createConnection: ConnectionView }>> {
  return s.gql(`mutation($input: CreateConnectionInput!) { createConnection(input: $input) { ${CONNECTION_FIELDS} } }`, {
    input: createInput(input, baseUrl),
  });
}

export async function createConnection(s: TestSluice, input: CreateInput, baseUrl = `${APP}/v1`): Promise<ConnectionView> {
  const data = await s.ok<{ createConnection: ConnectionView }>(
    `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { ${CONNECTION_FIELDS} } }`,
    { input: createInput(input, baseUrl) },
  );
  return data.createConnection;
}

export function updateConnectionRaw(s: TestSluice, id: string, input: Record<string, unknown>): Promise<GraphQLResponse<{ updateConnection: ConnectionView }>> {
  return s.gql(`mutation($id: ID!, $input: UpdateConnectionInput!) { updateConnection(id: $id, input: $input) { ${CONNECTION_FIELDS} } }`, {
    id,
    input,
  });
}

export function deleteConnectionRaw(s: TestSluice, id: string): Promise<GraphQLResponse<{ deleteConnection: boolean }>> {
  return s.gql(`mutation($id: ID!) { deleteConnection(id: $id) }`, { id });
}

export interface SetConcurrencyInput {
  connectionId: string;
  level?: number | null;
  autoRecoverRateLimitErrors: boolean;
  rateLimit?: { requests: number; perMilliseconds: number } | null;
}

export function setConcurrencyRaw(s: TestSluice, input: SetConcurrencyInput): Promise<GraphQLResponse<{ setConcurrency: ConnectionView }>> {
  return s.gql(`mutation($input: SetConcurrencyInput!) { setConcurrency(input: $input) { ${CONNECTION_FIELDS} } }`, { input });
}

export async function setConcurrency(s: TestSluice, input: SetConcurrencyInput): Promise<ConnectionView> {
  const data = await s.ok<{ setConcurrency: ConnectionView }>(
    `mutation($input: SetConcurrencyInput!) { setConcurrency(input: $input) { ${CONNECTION_FIELDS} } }`,
    { input },
  );
  return data.setConcurrency;
}

export function borrowRaw(s: TestSluice, connectionId: string, fromConnectionId: string | null): Promise<GraphQLResponse<{ borrowConcurrency: ConnectionView }>> {
  return s.gql(
    `mutation($c: ID!, $from: ID) { borrowConcurrency(connectionId: $c, fromConnectionId: $from) { ${CONNECTION_FIELDS} } }`,
    { c: connectionId, from: fromConnectionId },
  );
}

export async function borrow(s: TestSluice, connectionId: string, fromConnectionId: string | null): Promise<ConnectionView> {
  const response = await borrowRaw(s, connectionId, fromConnectionId);
  if (response.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
  return response.data!.borrowConcurrency;
}

export async function getConnection(s: TestSluice, id: string): Promise<ConnectionView> {
  const data = await s.ok<{ connection: ConnectionView }>(`query($id: ID!) { connection(id: $id) { ${CONNECTION_FIELDS} } }`, { id });
  return data.connection;
}

/** The policy fields of a connection, as the API reads them. */
export function policyOf(c: ConnectionView): Pick<ConnectionView, 'concurrencyLevel' | 'autoRecoverRateLimitErrors' | 'targetConcurrencyLevel' | 'rateLimit'> {
  const { concurrencyLevel, autoRecoverRateLimitErrors, targetConcurrencyLevel, rateLimit } = c;
  return { concurrencyLevel, autoRecoverRateLimitErrors, targetConcurrencyLevel, rateLimit };
}

/** A flow whose steps use these connections (an EXPORT on the first, an IMPORT on each of the rest); its step ids in order. */
export async function flowOn(s: TestSluice, connectionIds: string[], name = 'flow'): Promise<{ id: string; stepIds: string[] }> {
  const steps = connectionIds.map((connectionId, i) =>
    i === 0
      ? { name: `export-${i}`, kind: 'EXPORT', connectionId, config: { path: '/orders' } }
      : { name: `import-${i}`, kind: 'IMPORT', connectionId, config: { path: '/orders' } },
  );
  const data = await s.ok<{ createFlow: { id: string; steps: { id: string }[] } }>(
    `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id steps { id } } }`,
    { input: { name, steps } },
  );
  return { id: data.createFlow.id, stepIds: data.createFlow.steps.map((st) => st.id) };
}

export async function runFlow(s: TestSluice, flowId: string): Promise<string> {
  const data = await s.ok<{ runFlow: { id: string } }>(`mutation($id: ID!) { runFlow(flowId: $id) { id } }`, { id: flowId });
  return data.runFlow.id;
}

export interface QueueMessageRow {
  id: string;
  queue_owner_id: string;
  connection_id: string;
  job_id: string;
  step_id: string;
  state: 'queued' | 'running';
}

/** Puts a message straight into a queue, as the engine would: `queueOwnerId` is the queue it waits (or runs) in. */
export async function insertMessage(
  s: TestSluice,
  m: { queueOwnerId: string; connectionId: string; jobId: string; stepId: string; state: 'queued' | 'running' },
): Promise<string> {
  const rows: { id: string }[] = await s.sluice.dataSource.query(
    `INSERT INTO queue_message (queue_owner_id, connection_id, job_id, step_id, state, payload)
     VALUES ($1, $2, $3, $4, $5, '{"test": true}') RETURNING id`,
    [m.queueOwnerId, m.connectionId, m.jobId, m.stepId, m.state],
  );
  return rows[0]!.id;
}

/** The messages of these jobs, in id (FIFO) order. */
export function messagesOfJobs(s: TestSluice, jobIds: string[]): Promise<QueueMessageRow[]> {
  return s.sluice.dataSource.query(
    `SELECT id::text, queue_owner_id, connection_id, job_id, step_id, state FROM queue_message WHERE job_id = ANY($1::uuid[]) ORDER BY queue_message.id`,
    [jobIds],
  );
}

/**
 * Every connection as the API shows it and as PostgreSQL stores it (sealed
 * credentials included), and every queue message: what a rejected mutation
 * must leave exactly as it was.
 */
export async function world(s: TestSluice): Promise<unknown> {
  const data = await s.ok(`{ connections { ${CONNECTION_FIELDS} } }`);
  const rows: unknown[] = await s.sluice.dataSource.query(`SELECT * FROM connection ORDER BY id`);
  const messages: unknown[] = await s.sluice.dataSource.query(`SELECT * FROM queue_message ORDER BY id`);
  return { api: data.connections, rows, messages };
}
