/**
 * Credentials belong to their application (contract: "Credentials belong to
 * their application"; README "Secrets and credentials"): each way a MANAGE
 * token could make Sluice send a connection's stored credentials to another
 * origin is blocked. A local HTTP server plays the attacker's origin and
 * records that nothing arrived there.
 */
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { MAX_REDIRECTS, redirectTarget, type HttpCall } from '../../src/connectors/http/httpCall';
import { startFakeApi, type FakeApi, type ReceivedRequest } from '../support/fakeApi';
import { createFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { codeOf, useTestSluice, type TestSluice } from '../support/sluice';

const ECHO = path.resolve(__dirname, '../fixtures/plugins/echo.mjs');
const CONNECTION_FIELDS = `id name application config hasCredentials`;

interface ConnectionView {
  id: string;
  name: string;
  application: string;
  config: Record<string, unknown>;
  hasCredentials: boolean;
}

async function connection(s: TestSluice, id: string): Promise<ConnectionView> {
  return (await s.ok<{ connection: ConnectionView }>(`query($id: ID!) { connection(id: $id) { ${CONNECTION_FIELDS} } }`, { id })).connection;
}

async function testConnection(s: TestSluice, id: string): Promise<{ ok: boolean; code: string | null; message: string | null }> {
  return (await s.ok<{ testConnection: { ok: boolean; code: string | null; message: string | null } }>(
    `mutation($id: ID!) { testConnection(id: $id) { ok code message } }`,
    { id },
  )).testConnection;
}

function redirect(res: ServerResponse, status: number, location: string): void {
  res.writeHead(status, { location });
  res.end();
}

describe('credentials bound to their application', () => {
  const s = useTestSluice({ engine: true, env: { CONNECTOR_PLUGINS: ECHO } });
  let app: FakeApi;
  let attacker: FakeApi;
  /** How the application answers, by path; 200 {} otherwise. */
  const routes = new Map<string, (req: ReceivedRequest, res: ServerResponse) => void>();
  const token = 'stored-bearer-token-do-not-leak';

  beforeAll(async () => {
    attacker = await startFakeApi();
    app = await startFakeApi((req, res) => {
      const route = routes.get(req.path.split('?')[0]!);
      if (route) return route(req, res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  afterAll(async () => {
    await app.close();
    await attacker.close();
  });

  const withCredentials = (name: string, config: Record<string, unknown> = {}): Promise<string> =>
    createHttpConnection(s, `${app.url}/v1`, {
      name,
      config: { headers: { 'X-Tenant': 'acme' }, ...config },
      credentials: { type: 'bearer', token },
    });

  describe('updateConnection', () => {
    it("moving baseUrl to another origin without new credentials is BAD_USER_INPUT, changes nothing, and the credentials never reach it", async () => {
      const id = await withCredentials('move without credentials', { ping: { path: '/ping' } });
      const before = await connection(s, id);
      const response = await s.gql(
        `mutation($id: ID!, $input: UpdateConnectionInput!) { updateConnection(id: $id, input: $input) { id } }`,
        { id, input: { config: { baseUrl: `${attacker.url}/steal`, ping: { path: '/ping' } } } },
      );
      expect(codeOf(response)).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.message).toMatch(/give new credentials \(or credentials: null\)/);
      expect(await connection(s, id)).toEqual(before);
      // The stored credentials still go where they belong, and only there.
      expect((await testConnection(s, id)).ok).toBe(true);
      expect(app.requests.filter((r) => r.path === '/v1/ping').map((r) => r.headers.authorization)).toEqual([`Bearer ${token}`]);
      expect(attacker.requests).toEqual([]);
    });

    it('moving to another origin with credentials: null drops them: the new origin gets none', async () => {
      const id = await withCredentials('move dropping credentials', { ping: { path: '/ping-dropped' } });
      const moved = await s.ok<{ updateConnection: ConnectionView }>(
        `mutation($id: ID!, $input: UpdateConnectionInput!) { updateConnection(id: $id, input: $input) { ${CONNECTION_FIELDS} } }`,
        { id, input: { config: { baseUrl: `${attacker.url}/v1`, ping: { path: '/ping-dropped' } }, credentials: null } },
      );
      expect(moved.updateConnection).toMatchObject({ application: attacker.url, hasCredentials: false });
      await testConnection(s, id);
      expect(attacker.requests).toHaveLength(1);
      expect(attacker.requests[0]!.headers).not.toHaveProperty('authorization');
      attacker.requests.length = 0;
    });

    it('a new path on the same origin keeps the credentials', async () => {
      const id = await withCredentials('same origin');
      const moved = await s.ok<{ updateConnection: ConnectionView }>(
        `mutation($id: ID!, $input: UpdateConnectionInput!) { updateConnection(id: $id, input: $input) { ${CONNECTION_FIELDS} } }`,
        { id, input: { config: { baseUrl: `${app.url}/v2` } } },
      );
      expect(moved.updateConnection).toMatchObject({ application: app.url, hasCredentials: true });
    });
  });

  describe('redirects', () => {
    it('testConnection does not follow a redirect to another origin: it answers the 3xx, and nothing reaches that origin', async () => {
      routes.set('/v1/ping-redirect', (_req, res) => redirect(res, 302, `${attacker.url}/collect`));
      const id = await withCredentials('ping redirected away', { ping: { path: '/ping-redirect' } });
      const result = await testConnection(s, id);
      expect(result).toMatchObject({ ok: false, code: 'HTTP_302' });
      expect(result.message).toContain(`a redirect to ${attacker.url}, another origin: not followed`);
      expect(app.requests.filter((r) => r.path === '/v1/ping-redirect')).toHaveLength(1);
      expect(attacker.requests).toEqual([]);
    });

    it("a flow's import does not follow a redirect to another origin: the record fails with the 3xx, and nothing reaches that origin", async () => {
      routes.set('/v1/import-redirect', (_req, res) => redirect(res, 307, `${attacker.url}/collect`));
      const source = (
        await s.ok<{ createConnection: { id: string } }>(
          `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
          { input: { name: 'echo for redirects', connectorType: 'echo', config: { records: 2 } } },
        )
      ).createConnection.id;
      const target = await withCredentials('import redirected away');
      const flow = await createFlow(s, [
        { kind: 'EXPORT', connectionId: source, config: {} },
        { kind: 'IMPORT', connectionId: target, config: { path: '/import-redirect' } },
      ]);
      const job = await waitForJob(s, await runFlow(s, flow.id));
      expect(job).toMatchObject({ recordsExported: 2, recordsSucceeded: 0, recordsFailed: 2 });
      expect(job.errors.map((e) => e.code)).toEqual(['HTTP_307', 'HTTP_307']);
      expect(app.requests.filter((r) => r.path === '/v1/import-redirect').map((r) => r.headers.authorization)).toEqual([
        `Bearer ${token}`,
        `Bearer ${token}`,
      ]);
      expect(attacker.requests).toEqual([]);
    });

    it('a same-origin redirect loop ends after MAX_REDIRECTS hops with the last 3xx as the answer', async () => {
      routes.set('/v1/loop', (_req, res) => redirect(res, 302, '/v1/loop'));
      const id = await withCredentials('redirect loop', { ping: { path: '/loop' } });
      expect(await testConnection(s, id)).toMatchObject({ ok: false, code: 'HTTP_302' });
      expect(app.requests.filter((r) => r.path === '/v1/loop')).toHaveLength(MAX_REDIRECTS + 1);
    });

    it('a redirect within the same origin is followed, with the credentials', async () => {
      routes.set('/v1/old-ping', (_req, res) => redirect(res, 301, '/v1/new-ping'));
      const id = await withCredentials('same-origin redirect', { ping: { path: '/old-ping' } });
      expect(await testConnection(s, id)).toMatchObject({ ok: true, code: null });
      expect(app.requests.filter((r) => r.path === '/v1/new-ping').map((r) => r.headers.authorization)).toEqual([`Bearer ${token}`]);
      expect(attacker.requests).toEqual([]);
    });
  });
});

describe('redirectTarget', () => {
  const call = (method: string, body?: string): HttpCall => ({
    method,
    url: new URL('https://api.example.com/v1/orders'),
    headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
    body,
    timeoutMs: 1000,
    signal: new AbortController().signal,
  });

  it('follows only the same origin: another host, port or scheme is not followed', () => {
    for (const location of ['https://evil.example.com/x', 'https://api.example.com:8443/x', 'http://api.example.com/x', '//evil.example.com/x']) {
      expect(redirectTarget(call('GET'), 302, location)).toBeNull();
    }
    expect(redirectTarget(call('GET'), 302, '/v1/elsewhere')?.url.href).toBe('https://api.example.com/v1/elsewhere');
  });

  it('repeats a 307/308 as it was, turns a 303 into a bodiless GET, and never turns an import into a GET', () => {
    expect(redirectTarget(call('POST', '[]'), 307, '/v2/orders')).toMatchObject({ method: 'POST', body: '[]' });
    const seeOther = redirectTarget(call('POST', '[]'), 303, '/v1/status');
    expect(seeOther).toMatchObject({ method: 'GET' });
    expect(seeOther?.body).toBeUndefined();
    expect(seeOther?.headers).not.toHaveProperty('content-type');
    expect(redirectTarget(call('POST', '[]'), 302, '/v2/orders')).toBeNull();
    expect(redirectTarget(call('GET'), 200, '/v2/orders')).toBeNull();
    expect(redirectTarget(call('GET'), 302, undefined)).toBeNull();
  });
});
