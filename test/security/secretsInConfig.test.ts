/**
 * Secrets have one place: credentials (contract: "Credentials belong to
 * their application"; README "Secrets and credentials"). A secret-looking
 * config.headers entry or user info in baseUrl is BAD_USER_INPUT, and so is
 * a header that cannot be sent (a name that is not a token, CR/LF/NUL in a
 * value, in config.headers or in header credentials); nothing is stored and
 * the error never repeats the value.
 */
import { codeOf, useTestSluice, type GraphQLResponse, type TestSluice } from '../support/sluice';

const APP = 'http://127.0.0.1:9';

async function connectionsCount(s: TestSluice): Promise<number> {
  const rows = (await s.sluice.dataSource.query(`SELECT count(*)::int AS n FROM connection`)) as { n: number }[];
  return rows[0]!.n;
}

function create(s: TestSluice, input: Record<string, unknown>): Promise<GraphQLResponse> {
  return s.gql(`mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`, {
    input: { name: 'secret-test', connectorType: 'http', ...input },
  });
}

function update(s: TestSluice, id: string, input: Record<string, unknown>): Promise<GraphQLResponse> {
  return s.gql(`mutation($id: ID!, $input: UpdateConnectionInput!) { updateConnection(id: $id, input: $input) { id } }`, { id, input });
}

/** The whole response as text: what a client sees, errors and all. */
const seen = (response: GraphQLResponse): string => JSON.stringify(response);

describe('secrets in config', () => {
  const s = useTestSluice();

  it.each([
    ['Authorization', 'Bearer leaked-1'],
    ['proxy-authorization', 'Basic leaked-2'],
    ['Cookie', 'sid=leaked-3'],
    ['X-Api-Key', 'leaked-4'],
    ['X-Auth-Token', 'leaked-5'],
    ['Client-Secret', 'leaked-6'],
    ['X-PASSWORD', 'leaked-7'],
    ['X-Session-Id', 'leaked-8'],
  ])('a config.headers entry named %s is BAD_USER_INPUT, names credentials, and nothing is stored', async (name, value) => {
    const before = await connectionsCount(s);
    const response = await create(s, { config: { baseUrl: APP, headers: { [name]: value } } });
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toContain(`config.headers.${name} looks like a secret`);
    expect(response.errors?.[0]?.message).toContain('"type": "header"');
    expect(seen(response)).not.toContain(value);
    expect(await connectionsCount(s)).toBe(before);
  });

  it('a baseUrl with a user name or password is BAD_USER_INPUT, and nothing is stored', async () => {
    const before = await connectionsCount(s);
    for (const baseUrl of ['http://alice:leaked-pw@127.0.0.1:9/v1', 'http://leaked-user@127.0.0.1:9/v1']) {
      const response = await create(s, { config: { baseUrl } });
      expect(codeOf(response)).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.message).toContain('config.baseUrl has a user name or password');
      expect(seen(response)).not.toMatch(/leaked-(pw|user)/);
    }
    expect(await connectionsCount(s)).toBe(before);
  });

  it('updateConnection refuses the same, and the connection stays as it was', async () => {
    const id = (await s.ok<{ createConnection: { id: string } }>(
      `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
      { input: { name: 'clean', connectorType: 'http', config: { baseUrl: APP, headers: { 'X-Tenant': 'acme' } } } },
    )).createConnection.id;
    const before = await s.ok(`query($id: ID!) { connection(id: $id) { config hasCredentials } }`, { id });
    expect(codeOf(await update(s, id, { config: { baseUrl: APP, headers: { 'X-Api-Key': 'leaked-9' } } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await update(s, id, { config: { baseUrl: 'http://u:leaked-10@127.0.0.1:9' }, credentials: null }))).toBe('BAD_USER_INPUT');
    expect(await s.ok(`query($id: ID!) { connection(id: $id) { config hasCredentials } }`, { id })).toEqual(before);
  });

  it('the same secret as credentials of type header is accepted, and never returned', async () => {
    const response = await create(s, {
      name: 'secret where it belongs',
      config: { baseUrl: APP, headers: { 'X-Tenant': 'acme' } },
      credentials: { type: 'header', name: 'X-Api-Key', value: 'kept-secret-11' },
    });
    expect(response.errors).toBeUndefined();
    const id = (response.data as { createConnection: { id: string } }).createConnection.id;
    const read = await s.gql(`query($id: ID!) { connection(id: $id) { config hasCredentials } }`, { id });
    expect(read.data).toMatchObject({ connection: { config: { baseUrl: APP, headers: { 'X-Tenant': 'acme' } }, hasCredentials: true } });
    expect(seen(read)).not.toContain('kept-secret-11');
  });
});

describe('headers that cannot be sent', () => {
  const s = useTestSluice();

  it.each([
    ['a CR/LF in a config.headers name', { config: { baseUrl: APP, headers: { 'X-Evil\r\nInjected-inj1': 'v' } } }, 'inj1', 'not an RFC 7230 token'],
    ['a space in a config.headers name', { config: { baseUrl: APP, headers: { 'X Tenant-inj2': 'v' } } }, 'inj2', 'not an RFC 7230 token'],
    ['a CR/LF in a config.headers value', { config: { baseUrl: APP, headers: { 'X-Tenant': 'acme\r\nX-Injected: inj3' } } }, 'inj3', 'CR, LF or NUL'],
    ['a NUL in a config.headers value', { config: { baseUrl: APP, headers: { 'X-Tenant': 'acme\u0000inj4' } } }, 'inj4', 'holds a NUL character'], // refused before it runs, as every string argument is (badStrings.test.ts)
    [
      'a CR/LF in a credential header value',
      { config: { baseUrl: APP }, credentials: { type: 'header', name: 'X-Api-Key', value: 'k\r\nX-Injected: inj5' } },
      'inj5',
      'credentials.value (for "X-Api-Key") has CR, LF or NUL',
    ],
    [
      'a CR/LF in a credential header name',
      { config: { baseUrl: APP }, credentials: { type: 'header', name: 'X-Api-Key\r\nX-inj6', value: 'v' } },
      'inj6',
      'credentials.name is not an RFC 7230 token',
    ],
    ['a CR/LF in a bearer token', { config: { baseUrl: APP }, credentials: { type: 'bearer', token: 't\r\nX-Injected: inj7' } }, 'inj7', 'credentials.token has CR, LF or NUL'],
  ])('%s is BAD_USER_INPUT when stored, and the error does not echo it', async (_what, input, marker, says) => {
    const before = (await s.sluice.dataSource.query(`SELECT count(*)::int AS n FROM connection`)) as { n: number }[];
    const response = await create(s, input);
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toContain(says);
    expect(seen(response)).not.toContain(marker);
    expect(await s.sluice.dataSource.query(`SELECT count(*)::int AS n FROM connection`)).toEqual(before);
  });

  it('updateConnection refuses new credentials with a CR/LF and keeps the old ones', async () => {
    const id = (await s.ok<{ createConnection: { id: string } }>(
      `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
      { input: { name: 'keeps its credentials', connectorType: 'http', config: { baseUrl: APP }, credentials: { type: 'bearer', token: 'old' } } },
    )).createConnection.id;
    const [before] = (await s.sluice.dataSource.query(`SELECT credentials FROM connection WHERE id = $1`, [id])) as { credentials: Buffer }[];
    const response = await update(s, id, { credentials: { type: 'header', name: 'X-Key', value: 'new\ninj8' } });
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    expect(seen(response)).not.toContain('inj8');
    const [after] = (await s.sluice.dataSource.query(`SELECT credentials FROM connection WHERE id = $1`, [id])) as { credentials: Buffer }[];
    expect(after!.credentials.equals(before!.credentials)).toBe(true);
  });
});
