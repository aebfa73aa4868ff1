/**
 * Creating, updating and deleting connections through the API: configs are
 * validated against the connector's JSON Schema, the http connector derives
 * `application` from baseUrl, left-out fields stay, and a rejected mutation
 * changes nothing.
 */
import { codeOf, useTestSluice } from '../support/sluice';
import {
  APP,
  MALFORMED_ID,
  NO_SUCH_ID,
  OTHER_APP,
  borrow,
  createConnection,
  createConnectionRaw,
  deleteConnectionRaw,
  flowOn,
  getConnection,
  policyOf,
  updateConnectionRaw,
  world,
} from './connectionApi';

const s = useTestSluice();

describe('createConnection', () => {
  it('stores an http connection with its config, and lists it', async () => {
    const created = await createConnection(s, {
      name: 'orders api',
      config: { baseUrl: `${APP}/v1`, headers: { 'X-Tenant': 'acme' }, timeoutMs: 5000 },
    });
    expect(created).toMatchObject({
      name: 'orders api',
      connectorType: 'http',
      config: { baseUrl: `${APP}/v1`, headers: { 'X-Tenant': 'acme' }, timeoutMs: 5000 },
      hasCredentials: false,
      borrowConcurrencyFrom: null,
      borrowers: [],
      queueOwner: { id: created.id },
      queueSize: 0,
      inFlight: 0,
      flows: [],
      steps: [],
    });
    expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);

    const listed = await s.ok<{ connections: { id: string; name: string }[] }>(`{ connections { id name } }`);
    expect(listed.connections).toContainEqual({ id: created.id, name: 'orders api' });
    expect(await getConnection(s, created.id)).toEqual(created);
  });

  it('derives application from the origin of baseUrl', async () => {
    const cases: [string, string][] = [
      ['https://API.Example.com/v1/orders?x=1', 'https://api.example.com'],
      ['https://api.example.com:443/v1', 'https://api.example.com'],
      ['http://api.example.com:8080', 'http://api.example.com:8080'],
      [`${APP}/v2`, APP],
    ];
    for (const [baseUrl, application] of cases) {
      const created = await createConnection(s, { name: `app ${baseUrl}` }, baseUrl);
      expect({ baseUrl, application: created.application }).toEqual({ baseUrl, application });
    }
  });

  it('defaults to auto-recovery with the maximum level as its target', async () => {
    const limits = await s.ok<{ limits: { maxConcurrencyLevel: number } }>(`{ limits { maxConcurrencyLevel } }`);
    expect(limits.limits.maxConcurrencyLevel).toBe(25);
    const created = await createConnection(s, { name: 'defaults' });
    expect(policyOf(created)).toEqual({
      autoRecoverRateLimitErrors: true,
      targetConcurrencyLevel: 25,
      concurrencyLevel: 25,
      rateLimit: null,
    });
  });

  it('takes a target level with auto-recovery, a fixed level or burst mode without it, and a rate limit', async () => {
    const target = await createConnection(s, { name: 'target', concurrencyLevel: 7 });
    expect(policyOf(target)).toEqual({ autoRecoverRateLimitErrors: true, targetConcurrencyLevel: 7, concurrencyLevel: 7, rateLimit: null });

    const fixed = await createConnection(s, { name: 'fixed', concurrencyLevel: 3, autoRecoverRateLimitErrors: false });
    expect(policyOf(fixed)).toEqual({ autoRecoverRateLimitErrors: false, targetConcurrencyLevel: null, concurrencyLevel: 3, rateLimit: null });

    const burst = await createConnection(s, { name: 'burst', concurrencyLevel: null, autoRecoverRateLimitErrors: false });
    expect(policyOf(burst)).toEqual({ autoRecoverRateLimitErrors: false, targetConcurrencyLevel: null, concurrencyLevel: null, rateLimit: null });

    const limited = await createConnection(s, { name: 'limited', concurrencyLevel: 25, rateLimit: { requests: 10, perMilliseconds: 1000 } });
    expect(policyOf(limited)).toEqual({
      autoRecoverRateLimitErrors: true,
      targetConcurrencyLevel: 25,
      concurrencyLevel: 25,
      rateLimit: { requests: 10, perMilliseconds: 1000 },
    });
    // Read back, not only echoed by the mutation.
    expect(policyOf(await getConnection(s, limited.id))).toEqual(policyOf(limited));
    expect(policyOf(await getConnection(s, burst.id))).toEqual(policyOf(burst));
  });

  it('refuses a config that does not match the http configSchema, creating nothing', async () => {
    const before = await world(s);
    const bad: [string, unknown][] = [
      ['missing baseUrl', { headers: { 'X-Tenant': 'acme' } }],
      ['no config at all', undefined],
      ['null config', null],
      ['not a URL', { baseUrl: 'not a url' }],
      ['not http(s)', { baseUrl: 'ftp://files.example.com/' }],
      ['no host', { baseUrl: 'https://' }],
      ['unknown property', { baseUrl: `${APP}/v1`, baseURL: `${APP}/v1` }],
      ['header value not a string', { baseUrl: `${APP}/v1`, headers: { 'X-Tenant': 1 } }],
      ['timeoutMs out of range', { baseUrl: `${APP}/v1`, timeoutMs: 0 }],
      ['not an object', 'https://api.example.com'],
    ];
    for (const [what, config] of bad) {
      const response = await createConnectionRaw(s, { name: `bad config: ${what}`, config });
      expect({ what, code: codeOf(response) }).toEqual({ what, code: 'BAD_USER_INPUT' });
    }
    expect(await world(s)).toEqual(before);
  });

  it('refuses an unknown connectorType, naming the installed ones', async () => {
    const before = await world(s);
    const response = await createConnectionRaw(s, { name: 'unknown type', connectorType: 'smtp' });
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    expect(response.errors![0]!.message).toContain('http');
    expect(await world(s)).toEqual(before);
  });

  it('refuses an empty or overlong name', async () => {
    const before = await world(s);
    expect(codeOf(await createConnectionRaw(s, { name: '   ' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await createConnectionRaw(s, { name: 'x'.repeat(201) }))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('refuses a level outside 1..maxConcurrencyLevel, with or without auto-recovery', async () => {
    const before = await world(s);
    for (const concurrencyLevel of [0, 26, -1, 1000]) {
      for (const autoRecoverRateLimitErrors of [true, false]) {
        const response = await createConnectionRaw(s, { name: 'bad level', concurrencyLevel, autoRecoverRateLimitErrors });
        expect({ concurrencyLevel, autoRecoverRateLimitErrors, code: codeOf(response) }).toEqual({
          concurrencyLevel,
          autoRecoverRateLimitErrors,
          code: 'BAD_USER_INPUT',
        });
      }
    }
    expect(await world(s)).toEqual(before);
  });

  it('refuses a rate limit with a number that is not positive', async () => {
    const before = await world(s);
    const bad = [
      { requests: 0, perMilliseconds: 1000 },
      { requests: -5, perMilliseconds: 1000 },
      { requests: 10, perMilliseconds: 0 },
      { requests: 10, perMilliseconds: -1 },
    ];
    for (const rateLimit of bad) {
      const response = await createConnectionRaw(s, { name: 'bad rate', rateLimit });
      expect({ rateLimit, code: codeOf(response) }).toEqual({ rateLimit, code: 'BAD_USER_INPUT' });
    }
    expect(await world(s)).toEqual(before);
  });

  it('refuses to borrow from an unknown connection (NOT_FOUND) or one of another application (BAD_USER_INPUT)', async () => {
    const other = await createConnection(s, { name: 'other app' }, `${OTHER_APP}/v1`);
    const before = await world(s);
    expect(codeOf(await createConnectionRaw(s, { name: 'b', borrowConcurrencyFromId: NO_SUCH_ID }))).toBe('NOT_FOUND');
    expect(codeOf(await createConnectionRaw(s, { name: 'b', borrowConcurrencyFromId: MALFORMED_ID }))).toBe('NOT_FOUND');
    expect(codeOf(await createConnectionRaw(s, { name: 'b', borrowConcurrencyFromId: other.id }))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });
});

describe('updateConnection', () => {
  it('changes the name, config and credentials it is given and keeps the rest', async () => {
    const c = await createConnection(s, {
      name: 'to update',
      config: { baseUrl: `${APP}/v1`, headers: { 'X-Tenant': 'acme' } },
      concurrencyLevel: 4,
      autoRecoverRateLimitErrors: false,
      rateLimit: { requests: 5, perMilliseconds: 100 },
    });

    const renamed = await updateConnectionRaw(s, c.id, { name: 'renamed' });
    expect(renamed.errors).toBeUndefined();
    expect(renamed.data!.updateConnection).toMatchObject({ name: 'renamed', config: c.config, hasCredentials: false });

    // Another application: credentials (here none) must be given again (test/security/credentialsBoundToApplication.test.ts).
    const reconfigured = await updateConnectionRaw(s, c.id, { config: { baseUrl: `${OTHER_APP}/v2`, timeoutMs: 1234 }, credentials: null });
    expect(reconfigured.errors).toBeUndefined();
    expect(reconfigured.data!.updateConnection).toMatchObject({
      name: 'renamed',
      application: OTHER_APP,
      config: { baseUrl: `${OTHER_APP}/v2`, timeoutMs: 1234 },
      hasCredentials: false,
    });
    // The config is replaced as a whole, not merged.
    expect(reconfigured.data!.updateConnection.config).not.toHaveProperty('headers');

    const withCredentials = await updateConnectionRaw(s, c.id, { credentials: { type: 'bearer', token: 'tok-1' } });
    expect(withCredentials.errors).toBeUndefined();
    expect(withCredentials.data!.updateConnection).toMatchObject({ name: 'renamed', hasCredentials: true });

    const stored = await getConnection(s, c.id);
    expect(stored).toMatchObject({
      name: 'renamed',
      connectorType: 'http',
      application: OTHER_APP,
      config: { baseUrl: `${OTHER_APP}/v2`, timeoutMs: 1234 },
      hasCredentials: true,
      createdAt: c.createdAt,
    });
    // Policy is setConcurrency's business: an update leaves it alone.
    expect(policyOf(stored)).toEqual(policyOf(c));
    expect(new Date(stored.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(c.updatedAt).getTime());
  });

  it('keeps everything when the input is empty', async () => {
    const c = await createConnection(s, { name: 'empty update', credentials: { type: 'bearer', token: 'keep-me' } });
    const response = await updateConnectionRaw(s, c.id, {});
    expect(response.errors).toBeUndefined();
    const { updatedAt: _u, ...kept } = await getConnection(s, c.id);
    const { updatedAt: _c, ...original } = c;
    expect(kept).toEqual(original);
  });

  it('removes the credentials when given credentials: null', async () => {
    const c = await createConnection(s, { name: 'drop credentials', credentials: { type: 'bearer', token: 'secret-to-drop' } });
    expect(c.hasCredentials).toBe(true);
    const response = await updateConnectionRaw(s, c.id, { credentials: null });
    expect(response.errors).toBeUndefined();
    expect(response.data!.updateConnection.hasCredentials).toBe(false);
    expect((await getConnection(s, c.id)).hasCredentials).toBe(false);
    const rows: { credentials: Buffer | null }[] = await s.sluice.dataSource.query(`SELECT credentials FROM connection WHERE id = $1`, [c.id]);
    expect(rows[0]!.credentials).toBeNull();
  });

  it('refuses an invalid config, name or credentials, changing nothing', async () => {
    const c = await createConnection(s, { name: 'update refused', credentials: { type: 'bearer', token: 'original' } });
    const before = await world(s);
    const bad: [string, Record<string, unknown>][] = [
      ['missing baseUrl', { config: { timeoutMs: 10 } }],
      ['bad URL', { config: { baseUrl: 'nope' } }],
      ['unknown property', { config: { baseUrl: `${APP}/v1`, retries: 3 } }],
      ['null config', { config: null }],
      ['empty name', { name: '' }],
      ['null name', { name: null }],
      ['bad credentials', { credentials: { type: 'bearer' } }],
      // A valid part does not get through beside an invalid one.
      ['valid name, bad config', { name: 'new name', config: { baseUrl: 'nope' } }],
      ['valid config, bad credentials', { config: { baseUrl: `${APP}/v9` }, credentials: { type: 'basic' } }],
    ];
    for (const [what, input] of bad) {
      const response = await updateConnectionRaw(s, c.id, input);
      expect({ what, code: codeOf(response) }).toEqual({ what, code: 'BAD_USER_INPUT' });
    }
    expect(await world(s)).toEqual(before);
  });

  it('is NOT_FOUND for an unknown or malformed id', async () => {
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      expect(codeOf(await updateConnectionRaw(s, id, { name: 'x' }))).toBe('NOT_FOUND');
    }
    expect(await world(s)).toEqual(before);
  });
});

describe('deleteConnection', () => {
  it('deletes an unused connection', async () => {
    const c = await createConnection(s, { name: 'to delete', credentials: { type: 'bearer', token: 't' } });
    const response = await deleteConnectionRaw(s, c.id);
    expect(response.errors).toBeUndefined();
    expect(response.data!.deleteConnection).toBe(true);
    expect(codeOf(await s.gql(`query($id: ID!) { connection(id: $id) { id } }`, { id: c.id }))).toBe('NOT_FOUND');
    const listed = await s.ok<{ connections: { id: string }[] }>(`{ connections { id } }`);
    expect(listed.connections.map((x) => x.id)).not.toContain(c.id);
    // Deleting it again: it names nothing now.
    expect(codeOf(await deleteConnectionRaw(s, c.id))).toBe('NOT_FOUND');
  });

  it('is CONFLICT while a flow step uses it, and succeeds once the flow is gone', async () => {
    const c = await createConnection(s, { name: 'used by a step' });
    const flow = await flowOn(s, [c.id], 'uses it');
    const before = await world(s);
    expect(codeOf(await deleteConnectionRaw(s, c.id))).toBe('CONFLICT');
    expect(await world(s)).toEqual(before);

    await s.ok(`mutation($id: ID!) { deleteFlow(id: $id) }`, { id: flow.id });
    expect((await deleteConnectionRaw(s, c.id)).data?.deleteConnection).toBe(true);
  });

  it('is CONFLICT while a step of a later position uses it', async () => {
    const source = await createConnection(s, { name: 'source' });
    const sink = await createConnection(s, { name: 'sink' });
    await flowOn(s, [source.id, sink.id], 'sink is used');
    const before = await world(s);
    expect(codeOf(await deleteConnectionRaw(s, sink.id))).toBe('CONFLICT');
    expect(await world(s)).toEqual(before);
  });

  it('is CONFLICT while a connection borrows from it, and succeeds once it stops', async () => {
    const owner = await createConnection(s, { name: 'lender' });
    const borrower = await createConnection(s, { name: 'borrower', borrowConcurrencyFromId: owner.id });
    const before = await world(s);
    expect(codeOf(await deleteConnectionRaw(s, owner.id))).toBe('CONFLICT');
    expect(await world(s)).toEqual(before);

    await borrow(s, borrower.id, null);
    expect((await deleteConnectionRaw(s, owner.id)).data?.deleteConnection).toBe(true);
    // The borrower, not borrowing any more, can go too.
    expect((await deleteConnectionRaw(s, borrower.id)).data?.deleteConnection).toBe(true);
  });

  it('is NOT_FOUND for an unknown or malformed id', async () => {
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) expect(codeOf(await deleteConnectionRaw(s, id))).toBe('NOT_FOUND');
    expect(await world(s)).toEqual(before);
  });
});

describe('connection', () => {
  it('is NOT_FOUND for an unknown or malformed id', async () => {
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      expect(codeOf(await s.gql(`query($id: ID!) { connection(id: $id) { id } }`, { id }))).toBe('NOT_FOUND');
    }
  });

  it('lists the flows and steps that use it', async () => {
    const a = await createConnection(s, { name: 'in two flows' });
    const b = await createConnection(s, { name: 'in one flow' });
    const first = await flowOn(s, [a.id, b.id], 'first');
    const second = await flowOn(s, [a.id, a.id], 'second');
    const view = await getConnection(s, a.id);
    expect(view.flows.map((f) => f.id).sort()).toEqual([first.id, second.id].sort());
    expect(view.steps.map((st) => st.id).sort()).toEqual([first.stepIds[0], ...second.stepIds].sort());
    expect((await getConnection(s, b.id)).steps).toEqual([{ id: first.stepIds[1] }]);
  });
});
