/**
 * API tokens: a secret is shown once and stored only as a hash; revocation
 * takes effect on the next request; BOOTSTRAP_ADMIN_TOKEN is an ADMINISTER
 * token that exists after start (and stays revoked once revoked:
 * test/security/bootstrapTokenRevoked.test.ts).
 */
import { startSluice } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { waitUntil } from '../support/flows';
import { codeOf, startTestSluice, type TestSluice } from '../support/sluice';

const TOKEN_FIELDS = `id name role createdAt lastUsedAt`;

interface TokenView {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  lastUsedAt: string | null;
}

interface Created {
  token: TokenView;
  secret: string;
}

async function createToken(s: TestSluice, name: string, role: string): Promise<Created> {
  const data = await s.ok<{ createApiToken: Created }>(
    `mutation($name: String!, $role: Role!) { createApiToken(name: $name, role: $role) { secret token { ${TOKEN_FIELDS} } } }`,
    { name, role },
  );
  return data.createApiToken;
}

async function listTokens(s: TestSluice): Promise<TokenView[]> {
  return (await s.ok<{ apiTokens: TokenView[] }>(`{ apiTokens { ${TOKEN_FIELDS} } }`)).apiTokens;
}

/** Every rendering of every column of every api_token row: text, bytea as hex, as UTF-8 and as base64. */
async function storedTokenText(s: TestSluice): Promise<string> {
  const rows: Record<string, unknown>[] = await s.sluice.dataSource.query(`SELECT t.*, t::text AS whole FROM api_token t`);
  const parts: string[] = [];
  for (const row of rows) {
    for (const value of Object.values(row)) {
      if (Buffer.isBuffer(value)) parts.push(value.toString('utf8'), value.toString('hex'), value.toString('base64'), value.toString('base64url'));
      else parts.push(String(value));
    }
  }
  return parts.join('\n');
}

describe('API tokens', () => {
  let s: TestSluice;

  beforeAll(async () => {
    s = await startTestSluice();
  });

  afterAll(() => s?.close());

  it('returns the secret once, with the token, and the secret works as a bearer of that role', async () => {
    const created = await createToken(s, 'ci', 'MANAGE');
    expect(created.secret.length).toBeGreaterThanOrEqual(32);
    expect(created.token).toMatchObject({ name: 'ci', role: 'MANAGE', lastUsedAt: null });
    expect(await s.ok(`{ viewer { role tokenName } }`, {}, created.secret)).toEqual({ viewer: { role: 'MANAGE', tokenName: 'ci' } });
    const again = await createToken(s, 'ci', 'MANAGE');
    expect(again.secret).not.toBe(created.secret);
    expect(again.token.id).not.toBe(created.token.id);
  });

  it('never lists a secret: ApiToken has no field for it and no listing contains it', async () => {
    const created = await createToken(s, 'listed', 'MONITOR');
    const type = await s.ok<{ __type: { fields: { name: string }[] } }>(`{ __type(name: "ApiToken") { fields { name } } }`);
    expect(type.__type.fields.map((field) => field.name).sort()).toEqual(['createdAt', 'id', 'lastUsedAt', 'name', 'role']);
    const response = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.adminSecret}` },
      body: JSON.stringify({ query: `{ apiTokens { ${TOKEN_FIELDS} } }` }),
    });
    const text = await response.text();
    expect(text).toContain(created.token.id);
    expect(text).not.toContain(created.secret);
    expect(text).not.toContain(s.adminSecret);
  });

  it('stores only a hash: no column of api_token holds a secret', async () => {
    const created = await createToken(s, 'stored', 'MANAGE');
    const stored = await storedTokenText(s);
    expect(stored).toContain(created.token.id);
    expect(stored).not.toContain(created.secret);
    expect(stored).not.toContain(s.adminSecret);
    // Nor the random part of the secret without its prefix.
    expect(stored).not.toContain(created.secret.slice(created.secret.length - 24));
  });

  it('revokes a token: it stops working on the next request and leaves the list', async () => {
    const created = await createToken(s, 'revoked', 'ADMINISTER');
    expect(await s.ok(`{ viewer { role } }`, {}, created.secret)).toEqual({ viewer: { role: 'ADMINISTER' } });
    expect(await s.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: created.token.id })).toEqual({ revokeApiToken: true });
    const refused = await s.gql(`{ viewer { role } }`, {}, created.secret);
    expect({ status: refused.status, code: codeOf(refused), data: refused.data ?? null }).toEqual({ status: 401, code: 'UNAUTHENTICATED', data: null });
    const mutation = await s.gql(`mutation { createApiToken(name: "by the revoked", role: ADMINISTER) { secret } }`, {}, created.secret);
    expect(codeOf(mutation)).toBe('UNAUTHENTICATED');
    const names = (await listTokens(s)).map((t) => t.id);
    expect(names).not.toContain(created.token.id);
    expect((await listTokens(s)).map((t) => t.name)).not.toContain('by the revoked');
  });

  it.each([
    ['an unknown id', '00000000-0000-4000-8000-000000000000'],
    ['a malformed id', 'not-a-token-id'],
  ])('refuses to revoke %s with NOT_FOUND and revokes nothing', async (_what, id) => {
    const before = await listTokens(s);
    const response = await s.gql(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id });
    expect(codeOf(response)).toBe('NOT_FOUND');
    expect(await listTokens(s)).toEqual(before);
  });

  it('refuses to revoke a token twice with NOT_FOUND', async () => {
    const created = await createToken(s, 'twice', 'MONITOR');
    await s.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: created.token.id });
    expect(codeOf(await s.gql(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: created.token.id }))).toBe('NOT_FOUND');
  });

  it('sets lastUsedAt once the token is used', async () => {
    const created = await createToken(s, 'used', 'MONITOR');
    const lastUsed = async (): Promise<string | null> => (await listTokens(s)).find((t) => t.id === created.token.id)!.lastUsedAt;
    expect(await lastUsed()).toBeNull();
    const before = Date.now();
    await s.ok(`{ limits { maxConcurrencyLevel } }`, {}, created.secret);
    await waitUntil(async () => (await lastUsed()) !== null, 5000, 'lastUsedAt');
    const at = Date.parse((await lastUsed())!);
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it.each([
    ['an empty name', ''],
    ['a blank name', '   '],
    ['a name over 200 characters', 'x'.repeat(201)],
  ])('refuses %s with BAD_USER_INPUT and creates nothing', async (_what, name) => {
    const before = await listTokens(s);
    const response = await s.gql(`mutation($name: String!) { createApiToken(name: $name, role: MONITOR) { secret } }`, { name });
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    expect(response.data ?? null).toBeNull();
    expect(await listTokens(s)).toEqual(before);
  });
});

describe('BOOTSTRAP_ADMIN_TOKEN', () => {
  let s: TestSluice;

  beforeAll(async () => {
    s = await startTestSluice();
  });

  afterAll(() => s?.close());

  it('is an ADMINISTER token that may manage tokens', async () => {
    expect(await s.ok(`{ viewer { role } }`, {}, s.adminSecret)).toEqual({ viewer: { role: 'ADMINISTER' } });
    const created = await createToken(s, 'made by bootstrap', 'MONITOR');
    expect((await listTokens(s)).map((t) => t.id)).toContain(created.token.id);
  });

  it('stops working at once in the process that revoked it, and within a second in another', async () => {
    const token = await createToken(s, 'shared', 'MONITOR');
    const other = await startSluice(
      loadConfig({ DATABASE_URL: s.databaseUrl, CREDENTIALS_KEY: s.credentialsKey, PORT: '0', ROLE: 'api' }),
      createLogger('silent'),
    );
    const viewerThere = async (): Promise<string | undefined> => {
      const response = await fetch(`${other.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token.secret}` },
        body: JSON.stringify({ query: `{ viewer { role } }` }),
      });
      const body = (await response.json()) as { data?: { viewer: { role: string } }; errors?: { extensions?: { code?: string } }[] };
      return body.errors?.[0]?.extensions?.code ?? body.data?.viewer.role;
    };
    try {
      // Both processes have seen (and may have cached) the live token.
      expect(await s.ok(`{ viewer { role } }`, {}, token.secret)).toEqual({ viewer: { role: 'MONITOR' } });
      expect(await viewerThere()).toBe('MONITOR');
      await s.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: token.token.id });
      const revokedAt = Date.now();
      expect(codeOf(await s.gql(`{ viewer { role } }`, {}, token.secret))).toBe('UNAUTHENTICATED');
      await waitUntil(async () => (await viewerThere()) === 'UNAUTHENTICATED', 5000, 'the other process to refuse the token');
      // Its cache holds a token for a second at most (src/schema/token/token.service.ts), plus a loaded machine's slack.
      expect(Date.now() - revokedAt).toBeLessThan(3000);
    } finally {
      await other.close();
    }
  });
});
