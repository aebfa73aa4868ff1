/**
 * Credentials are write-only: accepted in one of the http connector's three
 * kinds, sealed at rest, sent to the external application (testConnection
 * proves they decrypt), and never returned by the API nor logged — not even
 * in the error that refuses them.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type Client, type FormattedExecutionResult as Result } from 'graphql-ws';
import WebSocket from 'ws';
import { startFakeApi, type FakeApi, type ReceivedRequest } from '../support/fakeApi';
import { codeOf, startTestSluice, type GraphQLResponse, type TestSluice } from '../support/sluice';
import { APP, CONNECTION_FIELDS, MALFORMED_ID, NO_SUCH_ID, type ConnectionView, world } from './connectionApi';

type FormattedExecutionResult = Result<Record<string, unknown>, unknown>;

const logLines: string[] = [];
let s: TestSluice;
let api: FakeApi;

beforeAll(async () => {
  s = await startTestSluice({ logLines });
  // 2xx everywhere but on the paths the testConnection tests pick for other answers.
  api = await startFakeApi((req, res) => {
    const status = req.path === '/v1/no-content' ? 204 : req.path === '/v1/broken' ? 500 : 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(status === 204 ? undefined : status === 500 ? '{"error":"boom"}' : '{}');
  });
});
afterAll(async () => {
  await s.close();
  await api.close();
});

/** Every GraphQL response body this file received, as text. */
const responses: string[] = [];

async function send<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const response = await s.gql<T>(query, variables);
  responses.push(JSON.stringify(response));
  return response;
}

async function create(input: Record<string, unknown>): Promise<GraphQLResponse<{ createConnection: ConnectionView }>> {
  return send(`mutation($input: CreateConnectionInput!) { createConnection(input: $input) { ${CONNECTION_FIELDS} } }`, {
    input: { connectorType: 'http', ...input },
  });
}

async function created(input: Record<string, unknown>): Promise<ConnectionView> {
  const response = await create(input);
  expect(response.errors).toBeUndefined();
  return response.data!.createConnection;
}

function update(id: string, input: Record<string, unknown>): Promise<GraphQLResponse<{ updateConnection: ConnectionView }>> {
  return send(`mutation($id: ID!, $input: UpdateConnectionInput!) { updateConnection(id: $id, input: $input) { ${CONNECTION_FIELDS} } }`, {
    id,
    input,
  });
}

interface TestResult {
  ok: boolean;
  message: string | null;
  latencyMs: number | null;
}

async function testConnection(id: string): Promise<GraphQLResponse<{ testConnection: TestResult }>> {
  return send(`mutation($id: ID!) { testConnection(id: $id) { ok message latencyMs } }`, { id });
}

function newSecret(tag: string): string {
  return `${tag}-${randomBytes(12).toString('hex')}`;
}

/** What the fake API received on this path. */
function received(path: string): ReceivedRequest[] {
  return api.requests.filter((r) => r.path === path);
}

/**
 * None of these strings appears in any response this file received, in a read
 * of every connection field (nested connections too) and of the connectors,
 * or in any log line; and the connection's stored credentials do not hold it.
 */
async function expectNotRevealed(connectionId: string, secrets: string[]): Promise<void> {
  const nested = `${CONNECTION_FIELDS} borrowConcurrencyFrom { ${CONNECTION_FIELDS} } queueOwner { ${CONNECTION_FIELDS} } borrowers { ${CONNECTION_FIELDS} }`;
  await send(`query($id: ID!) { connection(id: $id) { ${nested} } connections { ${nested} } }`, { id: connectionId });
  await send(`{ connectors { type displayName version supportedStepKinds configSchema credentialsSchema } }`);
  const rows: { credentials: Buffer | null }[] = await s.sluice.dataSource.query(`SELECT credentials FROM connection WHERE id = $1`, [connectionId]);
  for (const secret of secrets) {
    expect(responses.filter((r) => r.includes(secret))).toEqual([]);
    expect(logLines.filter((l) => l.includes(secret))).toEqual([]);
    if (rows[0]?.credentials) {
      const stored = rows[0].credentials;
      for (const form of [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex')]) {
        expect(stored.includes(form)).toBe(false);
      }
    }
  }
}

describe('credentials', () => {
  it('accepts the bearer, basic and header kinds, and says only that some are stored', async () => {
    const token = newSecret('bearer');
    const password = newSecret('basic');
    const value = newSecret('header');
    const kinds: [Record<string, unknown>, string[]][] = [
      [{ type: 'bearer', token }, [token]],
      [{ type: 'basic', username: 'alice', password }, [password, Buffer.from(`alice:${password}`).toString('base64')]],
      [{ type: 'header', name: 'X-Api-Key', value }, [value]],
    ];
    for (const [credentials, secrets] of kinds) {
      const c = await created({ name: `kind ${String(credentials.type)}`, config: { baseUrl: `${APP}/v1` }, credentials });
      expect(c.hasCredentials).toBe(true);
      await expectNotRevealed(c.id, secrets);
    }
  });

  it('are stored as a bytea that does not hold the plaintext, sealed anew for each connection', async () => {
    const token = newSecret('sealed');
    const first = await created({ name: 'sealed 1', config: { baseUrl: `${APP}/v1` }, credentials: { type: 'bearer', token } });
    const second = await created({ name: 'sealed 2', config: { baseUrl: `${APP}/v1` }, credentials: { type: 'bearer', token } });
    const rows: { id: string; type: string; credentials: Buffer }[] = await s.sluice.dataSource.query(
      `SELECT id, pg_typeof(credentials)::text AS type, credentials FROM connection WHERE id = ANY($1::uuid[]) ORDER BY id`,
      [[first.id, second.id]],
    );
    expect(rows.map((r) => r.type)).toEqual(['bytea', 'bytea']);
    for (const row of rows) {
      expect(Buffer.isBuffer(row.credentials)).toBe(true);
      expect(row.credentials.length).toBeGreaterThan(token.length);
      expect(row.credentials.includes(token)).toBe(false);
      expect(row.credentials.includes('bearer')).toBe(false);
    }
    // A fresh IV each time: equal credentials do not seal to equal bytes.
    expect(rows[0]!.credentials.equals(rows[1]!.credentials)).toBe(false);
    const text: { n: number }[] = await s.sluice.dataSource.query(
      `SELECT count(*)::int AS n FROM connection WHERE encode(credentials, 'escape') LIKE '%' || $1 || '%'`,
      [token],
    );
    expect(text[0]!.n).toBe(0);
    await expectNotRevealed(first.id, [token]);
  });

  it('refuses shapes that match none of the kinds without repeating the secret, changing nothing', async () => {
    const c = await created({ name: 'refusals', config: { baseUrl: `${APP}/v1` }, credentials: { type: 'bearer', token: newSecret('kept') } });
    const secret = newSecret('refused');
    const bad: [string, unknown][] = [
      ['bearer without token', { type: 'bearer', password: secret }],
      ['bearer with an extra field', { type: 'bearer', token: secret, extra: secret }],
      ['empty bearer token', { type: 'bearer', token: '', note: secret }],
      ['basic without password', { type: 'basic', username: secret }],
      ['basic with a non-string password', { type: 'basic', username: 'alice', password: { nested: secret } }],
      ['header with an invalid name', { type: 'header', name: 'X Api Key', value: secret }],
      ['header without value', { type: 'header', name: secret }],
      ['unknown type', { type: 'oauth2', token: secret }],
      ['no type', { token: secret }],
      ['a bare string', secret],
      ['an array', [secret]],
    ];
    const before = await world(s);
    for (const [what, credentials] of bad) {
      for (const response of [
        await create({ name: `refused: ${what}`, config: { baseUrl: `${APP}/v1` }, credentials }),
        await update(c.id, { credentials }),
      ]) {
        expect({ what, code: codeOf(response) }).toEqual({ what, code: 'BAD_USER_INPUT' });
        expect(response.errors![0]!.message).toContain('credentials');
        expect(JSON.stringify(response)).not.toContain(secret);
      }
    }
    expect(await world(s)).toEqual(before);
    await expectNotRevealed(c.id, [secret]);
  });

  it('are not repeated by a GraphQL coercion error over HTTP, which still says what was wrong', async () => {
    const secret = newSecret('coercion');
    const mutation = `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`;
    const before = await world(s);
    const unknownField = await send(mutation, {
      input: { name: 'typo', connectorType: 'http', config: { baseUrl: `${APP}/v1` }, credentials: { type: 'bearer', token: secret }, concurency: 3 },
    });
    const missingName = await send(mutation, {
      input: { connectorType: 'http', config: { baseUrl: `${APP}/v1` }, credentials: { type: 'basic', username: 'alice', password: secret } },
    });
    const target = await created({ name: 'coercion target', config: { baseUrl: `${APP}/v1` } });
    const updateTypo = await update(target.id, { credentials: { type: 'header', name: 'X-Key', value: secret }, nam: 'x' });
    const after = await world(s);

    expect(codeOf(unknownField)).toBe('BAD_USER_INPUT');
    expect(unknownField.errors![0]!.message).toContain('"concurency"');
    expect(codeOf(missingName)).toBe('BAD_USER_INPUT');
    expect(missingName.errors![0]!.message).toContain('"name"');
    expect(codeOf(updateTypo)).toBe('BAD_USER_INPUT');
    expect(updateTypo.errors![0]!.message).toContain('"nam"');
    for (const response of [unknownField, missingName, updateTypo]) expect(JSON.stringify(response)).not.toContain(secret);
    // Nothing but the target was created.
    expect((after as { api: unknown[] }).api).toHaveLength((before as { api: unknown[] }).api.length + 1);
    await expectNotRevealed(target.id, [secret]);
  });

  it('are not repeated by a GraphQL coercion error over WebSocket either', async () => {
    const secret = newSecret('ws');
    const client: Client = createClient({
      url: `${s.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${s.adminSecret}` },
    });
    try {
      const result = await new Promise<FormattedExecutionResult>((resolve, reject) => {
        let last: FormattedExecutionResult | null = null;
        client.subscribe(
          {
            query: `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
            variables: { input: { name: 'ws', connectorType: 'http', config: { baseUrl: `${APP}/v1` }, credentials: { type: 'bearer', token: secret }, bogus: 1 } },
          },
          { next: (value) => (last = value), error: reject, complete: () => (last ? resolve(last) : reject(new Error('no result'))) },
        );
      });
      expect(result.errors?.[0]?.message).toContain('"bogus"');
      expect(JSON.stringify(result)).not.toContain(secret);
    } finally {
      await client.dispose();
    }
    expect(logLines.filter((l) => l.includes(secret))).toEqual([]);
  });

  it('are kept when an update leaves them out, replaced when given, removed when null', async () => {
    const first = newSecret('first');
    const second = newSecret('second');
    const c = await created({ name: 'lifecycle', config: { baseUrl: `${api.url}/v1`, ping: { path: '/lifecycle' } }, credentials: { type: 'bearer', token: first } });

    await update(c.id, { name: 'lifecycle renamed' });
    await testConnection(c.id);
    expect(received('/v1/lifecycle').at(-1)?.headers.authorization).toBe(`Bearer ${first}`);

    const replaced = await update(c.id, { credentials: { type: 'bearer', token: second } });
    expect(replaced.data?.updateConnection.hasCredentials).toBe(true);
    await testConnection(c.id);
    expect(received('/v1/lifecycle').at(-1)?.headers.authorization).toBe(`Bearer ${second}`);

    const removed = await update(c.id, { credentials: null });
    expect(removed.data?.updateConnection.hasCredentials).toBe(false);
    await testConnection(c.id);
    expect(received('/v1/lifecycle')).toHaveLength(3);
    expect(received('/v1/lifecycle').at(-1)?.headers).not.toHaveProperty('authorization');
    await expectNotRevealed(c.id, [first, second]);
  });

  it('never reach a log line, while the log does record the connections', async () => {
    const token = newSecret('logged');
    const c = await created({ name: 'logged', config: { baseUrl: `${api.url}/v1`, ping: { path: '/logged' } }, credentials: { type: 'bearer', token } });
    await testConnection(c.id);
    await update(c.id, { credentials: { type: 'basic', username: 'bob', password: token } });
    await testConnection(c.id);
    // The capture works: the creation was logged, with the connection's id.
    expect(logLines.some((l) => l.includes(c.id) && l.includes('connection created'))).toBe(true);
    expect(logLines.filter((l) => l.includes(token))).toEqual([]);
    expect(logLines.filter((l) => l.includes(Buffer.from(`bob:${token}`).toString('base64')))).toEqual([]);
  });
});

describe('testConnection', () => {
  it('sends a bearer token as Authorization to the config’s ping.path, with the config’s headers', async () => {
    const token = newSecret('ping-bearer');
    const c = await created({
      name: 'ping bearer',
      config: { baseUrl: `${api.url}/v1`, headers: { 'X-Tenant': 'acme' }, ping: { path: '/health' } },
      credentials: { type: 'bearer', token },
    });
    const response = await testConnection(c.id);
    expect(response.errors).toBeUndefined();
    expect(response.data!.testConnection.ok).toBe(true);
    expect(response.data!.testConnection.latencyMs).toEqual(expect.any(Number));
    const requests = received('/v1/health');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.method).toBe('GET');
    expect(requests[0]!.headers.authorization).toBe(`Bearer ${token}`);
    expect(requests[0]!.headers['x-tenant']).toBe('acme');
    await expectNotRevealed(c.id, [token]);
  });

  it('sends basic credentials as base64 of username:password', async () => {
    const password = newSecret('ping-basic');
    const c = await created({
      name: 'ping basic',
      config: { baseUrl: `${api.url}/v1`, ping: { path: '/basic' } },
      credentials: { type: 'basic', username: 'alice', password },
    });
    expect((await testConnection(c.id)).data?.testConnection.ok).toBe(true);
    const [request] = received('/v1/basic');
    expect(request?.headers.authorization).toBe(`Basic ${Buffer.from(`alice:${password}`).toString('base64')}`);
  });

  it('sends header credentials under their own header name', async () => {
    const value = newSecret('ping-header');
    const c = await created({
      name: 'ping header',
      config: { baseUrl: `${api.url}/v1`, ping: { path: '/header' } },
      credentials: { type: 'header', name: 'X-Api-Key', value },
    });
    expect((await testConnection(c.id)).data?.testConnection.ok).toBe(true);
    const [request] = received('/v1/header');
    expect(request?.headers['x-api-key']).toBe(value);
    expect(request?.headers).not.toHaveProperty('authorization');
  });

  it('is ok on any 2xx', async () => {
    const c = await created({ name: 'ping 204', config: { baseUrl: `${api.url}/v1`, ping: { path: '/no-content' } } });
    expect((await testConnection(c.id)).data?.testConnection.ok).toBe(true);
    expect(received('/v1/no-content')).toHaveLength(1);
  });

  it('is not ok, with a message, when the application answers 500', async () => {
    const c = await created({ name: 'ping 500', config: { baseUrl: `${api.url}/v1`, ping: { path: '/broken' } } });
    const response = await testConnection(c.id);
    expect(response.errors).toBeUndefined();
    expect(response.data!.testConnection.ok).toBe(false);
    expect(response.data!.testConnection.message).toContain('500');
    expect(received('/v1/broken')).toHaveLength(1);
  });

  it('is not ok, with a message, when nothing listens at baseUrl', async () => {
    const gone = await startFakeApi();
    const url = gone.url;
    await gone.close();
    const c = await created({ name: 'ping closed port', config: { baseUrl: `${url}/v1` } });
    const response = await testConnection(c.id);
    expect(response.errors).toBeUndefined();
    expect(response.data!.testConnection.ok).toBe(false);
    expect(response.data!.testConnection.message).toEqual(expect.stringMatching(/\S/));
  });

  it('cannot use credentials sealed for another connection: they are bound to their connection', async () => {
    const token = newSecret('bound');
    const owner = await created({ name: 'sealed for me', config: { baseUrl: `${api.url}/v1` }, credentials: { type: 'bearer', token } });
    const thief = await created({ name: 'copied onto me', config: { baseUrl: `${api.url}/v1`, ping: { path: '/thief' } } });
    await s.sluice.dataSource.query(`UPDATE connection SET credentials = (SELECT credentials FROM connection WHERE id = $1) WHERE id = $2`, [
      owner.id,
      thief.id,
    ]);
    const result = (await testConnection(thief.id)).data?.testConnection;
    expect(result?.ok).toBe(false);
    expect(received('/v1/thief')).toEqual([]);
    await expectNotRevealed(thief.id, [token]);
  });

  it('is NOT_FOUND for an unknown or malformed id', async () => {
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) expect(codeOf(await testConnection(id))).toBe('NOT_FOUND');
  });
});
