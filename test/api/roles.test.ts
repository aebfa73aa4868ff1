/**
 * Roles against the contract: MONITOR reads, MANAGE changes settings and runs
 * flows, only ADMINISTER manages tokens; a request without a live token is
 * UNAUTHENTICATED (HTTP 401).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildSchema, parse, validate, type GraphQLObjectType } from 'graphql';
import { buildSluiceSchema } from '../../src/schema';
import { createHttpConnection } from '../support/flows';
import { codeOf, startTestSluice, type TestSluice } from '../support/sluice';
import { pendingRootFields } from '../schema/pendingContract';

/** The repository's copy of the contract (contract/; `npm run contract:check` compares it with ../shared/contract). */
const CONTRACT = path.join(__dirname, '..', '..', 'contract', 'schema.graphql');
const APP = 'http://127.0.0.1:9';

/** The root fields of one operation type in the contract, but those not served yet (pendingContract.ts). */
function contractFields(type: 'Query' | 'Mutation'): string[] {
  const schema = buildSchema(fs.readFileSync(CONTRACT, 'utf8'));
  const root = schema.getType(type) as GraphQLObjectType;
  const pending = new Set(pendingRootFields(type));
  return Object.keys(root.getFields())
    .filter((name) => !pending.has(name))
    .sort();
}

interface Fixture {
  connectionId: string;
  otherConnectionId: string;
  spareConnectionId: string;
  /** PAUSED, for resumeConnection to resume. */
  pausedConnectionId: string;
  flowId: string;
  stepId: string;
  jobId: string;
  tokenId: string;
  jobErrorIds: string[];
}

/** Everything a mutation could touch, read by an ADMINISTER token. */
async function world(s: TestSluice): Promise<unknown> {
  return s.ok(`{
    connections {
      id name config hasCredentials concurrencyLevel autoRecoverRateLimitErrors targetConcurrencyLevel
      rateLimit { requests perMilliseconds } borrowConcurrencyFrom { id } queueSize inFlight updatedAt
      state stateChangedAt stateReason nextProbeAt
    }
    flows { id name updatedAt steps { id name kind position config connection { id } } }
    jobs(first: 500) { id status finishedAt recordsFailed openErrorCount }
    jobErrors(first: 500) { id state closedAt closedBy }
    queued: connections { id queueSize }
    apiTokens { id name role }
  }`);
}

/** One call of every contract mutation, with arguments that would succeed for ADMINISTER. */
function mutations(f: Fixture): Record<string, { query: string; variables: Record<string, unknown> }> {
  return {
    createConnection: {
      query: `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
      variables: { input: { name: 'new', connectorType: 'http', config: { baseUrl: APP } } },
    },
    updateConnection: {
      query: `mutation($id: ID!) { updateConnection(id: $id, input: { name: "renamed" }) { id } }`,
      variables: { id: f.connectionId },
    },
    deleteConnection: { query: `mutation($id: ID!) { deleteConnection(id: $id) }`, variables: { id: f.spareConnectionId } },
    testConnection: { query: `mutation($id: ID!) { testConnection(id: $id) { ok } }`, variables: { id: f.connectionId } },
    setConcurrency: {
      query: `mutation($id: ID!) { setConcurrency(input: { connectionId: $id, level: 3, autoRecoverRateLimitErrors: false }) { id } }`,
      variables: { id: f.connectionId },
    },
    pauseConnection: {
      query: `mutation($id: ID!) { pauseConnection(id: $id, reason: "maintenance") { id state } }`,
      variables: { id: f.connectionId },
    },
    resumeConnection: { query: `mutation($id: ID!) { resumeConnection(id: $id) { id state } }`, variables: { id: f.pausedConnectionId } },
    borrowConcurrency: {
      query: `mutation($id: ID!, $from: ID) { borrowConcurrency(connectionId: $id, fromConnectionId: $from) { id } }`,
      variables: { id: f.spareConnectionId, from: f.connectionId },
    },
    replaceConnection: {
      query: `mutation($flow: ID!, $id: ID!, $new: ID!) { replaceConnection(flowId: $flow, connectionId: $id, newConnectionId: $new) { flow { id } } }`,
      variables: { flow: f.flowId, id: f.connectionId, new: f.otherConnectionId },
    },
    createFlow: { query: `mutation { createFlow(input: { name: "new flow" }) { id } }`, variables: {} },
    updateFlow: { query: `mutation($id: ID!) { updateFlow(id: $id, input: { name: "renamed" }) { id } }`, variables: { id: f.flowId } },
    deleteFlow: { query: `mutation($id: ID!) { deleteFlow(id: $id) }`, variables: { id: f.flowId } },
    addStep: {
      query: `mutation($flow: ID!, $input: StepInput!) { addStep(flowId: $flow, input: $input) { id } }`,
      variables: { flow: f.flowId, input: { name: 'import', kind: 'IMPORT', connectionId: f.connectionId, config: { path: '/orders' } } },
    },
    updateStep: { query: `mutation($id: ID!) { updateStep(id: $id, input: { name: "renamed" }) { id } }`, variables: { id: f.stepId } },
    removeStep: { query: `mutation($id: ID!) { removeStep(id: $id) }`, variables: { id: f.stepId } },
    runFlow: { query: `mutation($id: ID!) { runFlow(flowId: $id) { id } }`, variables: { id: f.flowId } },
    cancelJob: { query: `mutation($id: ID!) { cancelJob(id: $id) { id } }`, variables: { id: f.jobId } },
    retryJobErrors: { query: `mutation($ids: [ID!]) { retryJobErrors(ids: $ids) { id state } }`, variables: { ids: [f.jobErrorIds[0]] } },
    resolveJobErrors: { query: `mutation($ids: [ID!]!) { resolveJobErrors(ids: $ids) { id state } }`, variables: { ids: [f.jobErrorIds[1]] } },
    createApiToken: { query: `mutation { createApiToken(name: "sneaky", role: ADMINISTER) { secret } }`, variables: {} },
    revokeApiToken: { query: `mutation($id: ID!) { revokeApiToken(id: $id) }`, variables: { id: f.tokenId } },
  };
}

/** One call of every contract query. */
function queries(f: Fixture): Record<string, { query: string; variables: Record<string, unknown> }> {
  return {
    viewer: { query: `{ viewer { role tokenName } }`, variables: {} },
    limits: { query: `{ limits { maxConcurrencyLevel } }`, variables: {} },
    connectors: { query: `{ connectors { type supportedStepKinds } }`, variables: {} },
    connections: { query: `{ connections { id name queueSize } }`, variables: {} },
    connection: { query: `query($id: ID!) { connection(id: $id) { id name } }`, variables: { id: f.connectionId } },
    flows: { query: `{ flows { id steps { id } } }`, variables: {} },
    flow: { query: `query($id: ID!) { flow(id: $id) { id jobs { id } } }`, variables: { id: f.flowId } },
    job: { query: `query($id: ID!) { job(id: $id) { id status errors { id } } }`, variables: { id: f.jobId } },
    jobs: { query: `{ jobs { id } }`, variables: {} },
    jobErrors: {
      query: `query($job: ID!) { jobErrors(filter: { jobId: $job, state: OPEN }) { id state job { id openErrorCount } retryOf { id } } }`,
      variables: { job: f.jobId },
    },
    apiTokens: { query: `{ apiTokens { id } }`, variables: {} },
  };
}

describe('roles', () => {
  let s: TestSluice;
  let f: Fixture;
  let monitor: string;
  let manage: string;

  beforeAll(async () => {
    s = await startTestSluice();
    const connectionId = await createHttpConnection(s, `${APP}/v1`, { name: 'source', credentials: { type: 'bearer', token: 'abc' } });
    const otherConnectionId = await createHttpConnection(s, `${APP}/v2`, { name: 'other' });
    const spareConnectionId = await createHttpConnection(s, `${APP}/v3`, { name: 'spare' });
    const pausedConnectionId = await createHttpConnection(s, `${APP}/v4`, { name: 'paused' });
    await s.ok(`mutation($id: ID!) { pauseConnection(id: $id) { id } }`, { id: pausedConnectionId });
    const flow = await s.ok<{ createFlow: { id: string; steps: { id: string }[] } }>(
      `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id steps { id } } }`,
      {
        input: {
          name: 'orders',
          steps: [
            { name: 'export', kind: 'EXPORT', connectionId, config: { path: '/orders' } },
            { name: 'import', kind: 'IMPORT', connectionId, config: { path: '/orders' } },
          ],
        },
      },
    );
    const job = await s.ok<{ runFlow: { id: string } }>(`mutation($id: ID!) { runFlow(flowId: $id) { id } }`, { id: flow.createFlow.id });
    // Two failed records of the job, as the engine keeps them (this server runs no engine).
    const jobErrorIds = [randomUUID(), randomUUID()];
    await s.sluice.dataSource.query(
      `INSERT INTO job_error (id, job_id, flow_id, step_id, connection_id, code, message, record)
       SELECT e.id, $2, $3, $4, $5, 'HTTP_400', 'refused', '{"id": 1}' FROM unnest($1::uuid[]) AS e(id)`,
      [jobErrorIds, job.runFlow.id, flow.createFlow.id, flow.createFlow.steps[1]!.id, connectionId],
    );
    await s.sluice.dataSource.query(`UPDATE job SET open_error_count = 2, records_failed = 2 WHERE id = $1`, [job.runFlow.id]);
    await s.sluice.dataSource.query(`INSERT INTO flow_error_tally (flow_id, open_errors) VALUES ($1, 2)`, [flow.createFlow.id]);
    const token = await s.ok<{ createApiToken: { token: { id: string } } }>(
      `mutation { createApiToken(name: "victim", role: MANAGE) { token { id } } }`,
    );
    f = {
      connectionId,
      otherConnectionId,
      spareConnectionId,
      pausedConnectionId,
      flowId: flow.createFlow.id,
      stepId: flow.createFlow.steps[1]!.id,
      jobId: job.runFlow.id,
      tokenId: token.createApiToken.token.id,
      jobErrorIds,
    };
    monitor = await s.token('MONITOR');
    manage = await s.token('MANAGE');
  });

  afterAll(() => s?.close());

  it('tests every mutation and every query of the contract, with documents the server accepts', async () => {
    expect(Object.keys(mutations(f)).sort()).toEqual(contractFields('Mutation'));
    expect(Object.keys(queries(f)).sort()).toEqual(contractFields('Query'));
    const served = await buildSluiceSchema();
    for (const { query } of [...Object.values(mutations(f)), ...Object.values(queries(f))]) {
      expect({ query, errors: validate(served, parse(query)).map((e) => e.message) }).toEqual({ query, errors: [] });
    }
  });

  it('refuses every mutation to MONITOR with FORBIDDEN and changes nothing', async () => {
    const before = await world(s);
    const refused: Record<string, string | undefined> = {};
    for (const [name, { query, variables }] of Object.entries(mutations(f))) {
      const response = await s.gql(query, variables, monitor);
      refused[name] = codeOf(response);
      expect(response.data?.[name] ?? null).toBeNull();
    }
    expect(refused).toEqual(Object.fromEntries(Object.keys(mutations(f)).map((name) => [name, 'FORBIDDEN'])));
    expect(await world(s)).toEqual(before);
  });

  it('lets MONITOR run every query but apiTokens', async () => {
    for (const [name, { query, variables }] of Object.entries(queries(f))) {
      if (name === 'apiTokens') continue;
      const response = await s.gql(query, variables, monitor);
      expect({ name, errors: response.errors }).toEqual({ name, errors: undefined });
      expect(response.data?.[name]).not.toBeNull();
    }
  });

  it('refuses apiTokens, createApiToken and revokeApiToken to MONITOR and MANAGE', async () => {
    const before = await world(s);
    const all = mutations(f);
    for (const secret of [monitor, manage]) {
      for (const { query, variables } of [queries(f).apiTokens, all.createApiToken, all.revokeApiToken]) {
        const response = await s.gql(query, variables, secret);
        expect(codeOf(response)).toBe('FORBIDDEN');
      }
    }
    expect(await world(s)).toEqual(before);
  });

  it('lets MANAGE create connections and flows', async () => {
    const created = await s.gql<{ createConnection: { id: string; name: string } }>(
      `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id name } }`,
      { input: { name: 'by manager', connectorType: 'http', config: { baseUrl: `${APP}/m` } } },
      manage,
    );
    expect(created.errors).toBeUndefined();
    const connectionId = created.data!.createConnection.id;
    const flow = await s.gql<{ createFlow: { id: string; steps: { connection: { id: string } }[] } }>(
      `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id steps { connection { id } } } }`,
      { input: { name: 'managed', steps: [{ name: 'export', kind: 'EXPORT', connectionId, config: { path: '/orders' } }] } },
      manage,
    );
    expect(flow.errors).toBeUndefined();
    expect(flow.data!.createFlow.steps).toEqual([{ connection: { id: connectionId } }]);
    const listed = await s.ok<{ connections: { id: string }[]; flows: { id: string }[] }>(`{ connections { id } flows { id } }`);
    expect(listed.connections.map((c) => c.id)).toContain(connectionId);
    expect(listed.flows.map((x) => x.id)).toContain(flow.data!.createFlow.id);
  });

  it('tells each token its role and name (viewer)', async () => {
    const created = await s.ok<{ createApiToken: { secret: string } }>(`mutation { createApiToken(name: "dashboard", role: MONITOR) { secret } }`);
    const viewer = await s.ok(`{ viewer { role tokenName } }`, {}, created.createApiToken.secret);
    expect(viewer).toEqual({ viewer: { role: 'MONITOR', tokenName: 'dashboard' } });
    expect(await s.ok(`{ viewer { role } }`, {}, manage)).toEqual({ viewer: { role: 'MANAGE' } });
    expect(await s.ok(`{ viewer { role tokenName } }`)).toEqual({ viewer: { role: 'ADMINISTER', tokenName: 'bootstrap-admin' } });
  });

  describe('without a live token', () => {
    async function post(authorization: string | null, query: string): Promise<{ status: number; code: string | undefined; data: unknown }> {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (authorization !== null) headers.authorization = authorization;
      const response = await fetch(`${s.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query }) });
      const body = (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
      return { status: response.status, code: body.errors?.[0]?.extensions?.code, data: body.data ?? null };
    }

    it.each([
      ['no Authorization header', null],
      ['an unknown token', 'Bearer slc_thisTokenWasNeverIssued0000000000000000000'],
      ['an empty bearer', 'Bearer '],
      ['another scheme', `Basic ${Buffer.from('admin:admin').toString('base64')}`],
      ['a bearer with two words', 'Bearer one two'],
    ])('refuses %s with UNAUTHENTICATED and HTTP 401', async (_what, authorization) => {
      const operations = [
        `{ viewer { role } }`,
        `{ connections { id } }`,
        `{ __schema { queryType { name } } }`,
        `mutation { createFlow(input: { name: "x" }) { id } }`,
      ];
      for (const query of operations) {
        expect(await post(authorization, query)).toEqual({ status: 401, code: 'UNAUTHENTICATED', data: null });
      }
      const flows = await s.ok<{ flows: { name: string }[] }>(`{ flows { name } }`);
      expect(flows.flows.map((x) => x.name)).not.toContain('x');
    });

    it('refuses the admin secret sent without the Bearer scheme', async () => {
      expect(await post(s.adminSecret, `{ viewer { role } }`)).toEqual({ status: 401, code: 'UNAUTHENTICATED', data: null });
    });

    it('refuses a revoked token with UNAUTHENTICATED and HTTP 401', async () => {
      const created = await s.ok<{ createApiToken: { secret: string; token: { id: string } } }>(
        `mutation { createApiToken(name: "short-lived", role: MANAGE) { secret token { id } } }`,
      );
      const { secret, token } = created.createApiToken;
      expect(await post(`Bearer ${secret}`, `{ viewer { role } }`)).toEqual({ status: 200, code: undefined, data: { viewer: { role: 'MANAGE' } } });
      await s.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: token.id });
      expect(await post(`Bearer ${secret}`, `{ viewer { role } }`)).toEqual({ status: 401, code: 'UNAUTHENTICATED', data: null });
    });
  });
});
