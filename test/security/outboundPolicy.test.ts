/**
 * The outbound policy (contract: "outbound calls"; README "Outbound calls"):
 * OUTBOUND_DENY / OUTBOUND_ALLOW are checked on the address a call actually
 * connects to, after DNS, for testConnection's ping and for a flow's calls;
 * a denied call sends nothing and fails with the permanent OUTBOUND_DENIED.
 * Only loopback endpoints: a local HTTP server records that nothing arrived.
 */
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { OutboundPolicy, unmapped } from '../../src/connectors/outbound/outboundPolicy';
import { outboundFetch } from '../../src/connectors/sdk';
import { startFakeApi, type FakeApi } from '../support/fakeApi';
import { createFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { useTestSluice, type TestSluice } from '../support/sluice';

const ECHO = path.resolve(__dirname, '../fixtures/plugins/echo.mjs');
const KEY = Buffer.alloc(32, 7).toString('base64');

interface TestResult {
  ok: boolean;
  code: string | null;
  message: string | null;
}

async function testConnection(s: TestSluice, id: string): Promise<TestResult> {
  const data = await s.ok<{ testConnection: TestResult }>(`mutation($id: ID!) { testConnection(id: $id) { ok code message } }`, { id });
  return data.testConnection;
}

function useEndpoint(): { api: FakeApi } {
  const holder = {} as { api: FakeApi };
  beforeAll(async () => {
    holder.api = await startFakeApi();
  });
  afterAll(() => holder.api.close());
  return holder;
}

describe('OutboundPolicy', () => {
  const policy = (env: Record<string, string>): OutboundPolicy => new OutboundPolicy(loadConfig({ CREDENTIALS_KEY: KEY, ...env }).outbound);

  it('denies the link-local ranges by default, IPv4 and IPv6, and nothing else', () => {
    const p = policy({});
    expect(p.refusal('169.254.169.254')).toMatch(/OUTBOUND_DENY/);
    expect(p.refusal('fe80::1')).toMatch(/OUTBOUND_DENY/);
    expect(p.refusal('127.0.0.1')).toBeNull();
    expect(p.refusal('10.1.2.3')).toBeNull();
    expect(p.refusal('::1')).toBeNull();
  });

  it('checks an IPv4-mapped IPv6 address as the IPv4 address it carries', () => {
    const p = policy({ OUTBOUND_DENY: '127.0.0.0/8' });
    expect(unmapped('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(unmapped('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(p.refusal('::ffff:127.0.0.1')).toMatch(/127\.0\.0\.1 is in OUTBOUND_DENY/);
    expect(p.refusal('::ffff:7f00:1')).toMatch(/OUTBOUND_DENY/);
    expect(policy({ OUTBOUND_ALLOW: '10.0.0.0/8' }).refusal('::ffff:10.0.0.1')).toBeNull();
  });

  it('checks the unspecified addresses (0.0.0.0, ::) as the loopback they reach', () => {
    const p = policy({ OUTBOUND_DENY: '127.0.0.0/8,::1/128' });
    expect(p.refusal('0.0.0.0')).toMatch(/127\.0\.0\.1 is in OUTBOUND_DENY/);
    expect(p.refusal('::')).toMatch(/::1 is in OUTBOUND_DENY/);
    expect(p.refusal('::ffff:0.0.0.0')).toMatch(/OUTBOUND_DENY/);
  });

  it('with OUTBOUND_ALLOW reaches only its ranges, and OUTBOUND_DENY still wins inside them', () => {
    const p = policy({ OUTBOUND_ALLOW: '10.0.0.0/8,fd00::/8', OUTBOUND_DENY: '10.9.0.0/16' });
    expect(p.refusal('10.1.2.3')).toBeNull();
    expect(p.refusal('fd12::1')).toBeNull();
    expect(p.refusal('192.168.1.1')).toMatch(/not in OUTBOUND_ALLOW \(10\.0\.0\.0\/8,fd00::\/8\)/);
    expect(p.refusal('10.9.1.1')).toMatch(/OUTBOUND_DENY/);
  });

  it('OUTBOUND_DENY set but empty denies nothing', () => {
    expect(policy({ OUTBOUND_DENY: '' }).refusal('169.254.169.254')).toBeNull();
  });

  it.each([
    ['OUTBOUND_DENY', '10.0.0.0/33'],
    ['OUTBOUND_DENY', 'not-an-address'],
    ['OUTBOUND_DENY', '10.0.0.0/8/1'],
    ['OUTBOUND_ALLOW', 'fe80::/129'],
    ['OUTBOUND_ALLOW', '10.0.0.0/x'],
  ])('refuses %s=%s at start, naming the variable', (name, value) => {
    expect(() => loadConfig({ CREDENTIALS_KEY: KEY, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ CREDENTIALS_KEY: KEY, [name]: value })).toThrow(new RegExp(`^${name} must be comma-separated CIDR ranges`));
  });
});

describe('OUTBOUND_DENY=127.0.0.0/8,::1/128', () => {
  const s = useTestSluice({ engine: true, env: { OUTBOUND_DENY: '127.0.0.0/8,::1/128', CONNECTOR_PLUGINS: ECHO } });
  const endpoint = useEndpoint();

  it('makes testConnection answer OUTBOUND_DENIED, and nothing reaches the local endpoint', async () => {
    const id = await createHttpConnection(s, `${endpoint.api.url}/v1`, {
      name: 'denied ping',
      credentials: { type: 'bearer', token: 'never-sent-1' },
    });
    const result = await testConnection(s, id);
    expect(result).toMatchObject({ ok: false, code: 'OUTBOUND_DENIED' });
    expect(result.message).toMatch(/127\.0\.0\.1 is in OUTBOUND_DENY/);
    expect(endpoint.api.requests).toEqual([]);
  });

  it('denies a hostname by the address it resolves to (localhost)', async () => {
    const port = new URL(endpoint.api.url).port;
    const id = await createHttpConnection(s, `http://localhost:${port}/v1`, { name: 'denied by name' });
    const result = await testConnection(s, id);
    expect(result).toMatchObject({ ok: false, code: 'OUTBOUND_DENIED' });
    expect(result.message).toMatch(/localhost \((127\.0\.0\.1|::1)\)/);
    expect(endpoint.api.requests).toEqual([]);
  });

  it('denies an IPv4-mapped IPv6 address of a denied IPv4 range', async () => {
    const port = new URL(endpoint.api.url).port;
    const id = await createHttpConnection(s, `http://[::ffff:127.0.0.1]:${port}/v1`, { name: 'denied mapped' });
    expect(await testConnection(s, id)).toMatchObject({ ok: false, code: 'OUTBOUND_DENIED' });
    expect(endpoint.api.requests).toEqual([]);
  });

  it("fails a flow's records with OUTBOUND_DENIED at once (never retried), and nothing reaches the local endpoint", async () => {
    const source = (
      await s.ok<{ createConnection: { id: string } }>(
        `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
        { input: { name: 'echo source', connectorType: 'echo', config: { records: 3 } } },
      )
    ).createConnection.id;
    const target = await createHttpConnection(s, endpoint.api.url, { name: 'denied import', credentials: { type: 'bearer', token: 'never-sent-2' } });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: source, config: {} },
      { kind: 'IMPORT', connectionId: target, config: { path: '/import' } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id));
    expect(job).toMatchObject({ recordsExported: 3, recordsSucceeded: 0, recordsFailed: 3 });
    expect(job.errors.map((e) => e.code)).toEqual(['OUTBOUND_DENIED', 'OUTBOUND_DENIED', 'OUTBOUND_DENIED']);
    // A transient error that ran out of attempts says so; a permanent one fails on its first.
    for (const error of job.errors) expect(error.message).not.toMatch(/gave up after/);
    expect(endpoint.api.requests).toEqual([]);
  });

  it('denies 0.0.0.0, which reaches this host, as loopback', async () => {
    const port = new URL(endpoint.api.url).port;
    const id = await createHttpConnection(s, `http://0.0.0.0:${port}/v1`, { name: 'denied unspecified' });
    expect(await testConnection(s, id)).toMatchObject({ ok: false, code: 'OUTBOUND_DENIED' });
    expect(endpoint.api.requests).toEqual([]);
  });

  it("holds for plugins through the SDK's outboundFetch: rejects with OUTBOUND_DENIED and sends nothing", async () => {
    await expect(outboundFetch(`${endpoint.api.url}/plugin`)).rejects.toMatchObject({ code: 'OUTBOUND_DENIED' });
    expect(endpoint.api.requests).toEqual([]);
  });

  it("fails an export from a denied endpoint as the job's source error", async () => {
    const conn = await createHttpConnection(s, endpoint.api.url, { name: 'denied export' });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id));
    expect(job.status).toBe('FAILED');
    expect(job.errors.map((e) => e.code)).toEqual(['OUTBOUND_DENIED']);
    expect(endpoint.api.requests).toEqual([]);
  });
});

describe('OUTBOUND_ALLOW', () => {
  describe('=10.0.0.0/8 (loopback not in it)', () => {
    const s = useTestSluice({ env: { OUTBOUND_ALLOW: '10.0.0.0/8' } });
    const endpoint = useEndpoint();

    it('denies every address outside it, naming OUTBOUND_ALLOW, and sends nothing', async () => {
      const id = await createHttpConnection(s, endpoint.api.url, { name: 'outside allow' });
      const result = await testConnection(s, id);
      expect(result).toMatchObject({ ok: false, code: 'OUTBOUND_DENIED' });
      expect(result.message).toMatch(/127\.0\.0\.1 is not in OUTBOUND_ALLOW \(10\.0\.0\.0\/8\)/);
      expect(endpoint.api.requests).toEqual([]);
    });
  });

  describe('=127.0.0.1/32', () => {
    const s = useTestSluice({ env: { OUTBOUND_ALLOW: '127.0.0.1/32' } });
    const endpoint = useEndpoint();

    it('reaches an address inside it', async () => {
      const id = await createHttpConnection(s, endpoint.api.url, { name: 'inside allow' });
      expect(await testConnection(s, id)).toMatchObject({ ok: true, code: null });
      expect(endpoint.api.requests).toHaveLength(1);
    });
  });
});

describe('the default policy', () => {
  const s = useTestSluice();

  it.each([
    ['169.254.169.254', 'http://169.254.169.254/latest/meta-data'],
    ['fe80::1', 'http://[fe80::1]:8080/'],
  ])('denies the link-local %s (cloud metadata) without trying to connect', async (_what, baseUrl) => {
    const id = await createHttpConnection(s, baseUrl, { name: `link-local ${_what}` });
    const started = Date.now();
    const result = await testConnection(s, id);
    expect(result).toMatchObject({ ok: false, code: 'OUTBOUND_DENIED' });
    expect(result.message).toMatch(/OUTBOUND_DENY \(169\.254\.0\.0\/16,fe80::\/10\)/);
    // Refused before any connect: no connect timeout, no network error.
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
