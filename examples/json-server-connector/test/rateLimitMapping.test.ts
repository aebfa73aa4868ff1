/**
 * The connector's own rate-limit mapping (lib/responseErrors.mjs), through
 * the test kit against a real json-server behind a proxy that answers for
 * it: what each answer becomes, and that a refused write wrote nothing.
 */
import { PermanentError, RateLimitedError, TransientError } from 'sluice/connector-sdk';
import { connectorTestKit } from 'sluice/connector-sdk/testkit';
import { startJsonServer, type JsonServer } from './jsonServer';
import { startLimitingProxy, type LimitingProxy, type Refusal } from './limitingProxy';

const loadConnector = async () => (await import('../index.mjs')).default;
const loadMapping = async () => import('../lib/responseErrors.mjs');

describe('json-server connector rate-limit mapping', () => {
  let app: JsonServer;
  let proxy: LimitingProxy;
  let connector: Awaited<ReturnType<typeof loadConnector>>;
  /** What the proxy answers to the next request, instead of forwarding it. */
  let next: Refusal | undefined;
  const kit = (config: Record<string, unknown> = {}) => connectorTestKit(connector, { config: { baseUrl: proxy.url, ...config } });
  const refuseNext = (refusal: Refusal): void => void (next = refusal);

  beforeAll(async () => {
    connector = await loadConnector();
    app = await startJsonServer({ invoices: [] });
    proxy = await startLimitingProxy(app.url, () => {
      const refusal = next;
      next = undefined;
      return refusal;
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await app?.close();
  });

  it('makes a 429 a rate limit, with the wait its Retry-After asks for', async () => {
    refuseNext({ status: 429, headers: { 'retry-after': '2' } });
    const call = kit().importRecords({ resource: 'invoices' }, [{ id: 1 }]);
    await expect(call).rejects.toBeInstanceOf(RateLimitedError);
    await expect(call).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 2000 });
    expect((await app.db()).invoices).toEqual([]); // refused, so nothing was written
  });

  it('reads a Retry-After that is a date, and takes a 429 without one as a rate limit all the same', async () => {
    refuseNext({ status: 429, headers: { 'retry-after': new Date(Date.now() + 60000).toUTCString() } });
    const dated = await kit().exportPage({ resource: 'invoices' }).catch((e: unknown) => e);
    expect(dated).toBeInstanceOf(RateLimitedError);
    expect((dated as RateLimitedError).retryAfterMs).toBeGreaterThan(50000);
    expect((dated as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(60000);

    refuseNext({ status: 429 });
    await expect(kit().exportPage({ resource: 'invoices' })).rejects.toMatchObject({ name: 'RateLimitedError', retryAfterMs: null });
  });

  it('makes a 503 with Retry-After a rate limit, and one without it transient', async () => {
    refuseNext({ status: 503, headers: { 'retry-after': '1' } });
    await expect(kit().exportPage({ resource: 'invoices' })).rejects.toMatchObject({ name: 'RateLimitedError', retryAfterMs: 1000 });
    refuseNext({ status: 503 });
    const call = kit().exportPage({ resource: 'invoices' });
    await expect(call).rejects.toBeInstanceOf(TransientError);
    await expect(call).rejects.toMatchObject({ code: 'HTTP_503' });
  });

  it('makes other 5xx and 408 transient, and other 4xx permanent', async () => {
    for (const [status, kind] of [[500, TransientError], [502, TransientError], [408, TransientError], [400, PermanentError], [401, PermanentError], [403, PermanentError]] as const) {
      refuseNext({ status });
      const error = await kit().exportPage({ resource: 'invoices' }).catch((e: unknown) => e);
      expect({ status, error }).toEqual({ status, error: expect.any(kind) });
      expect((error as TransientError).code).toBe(`HTTP_${status}`);
    }
  });

  it('makes no answer in time, and no application at all, transient', async () => {
    refuseNext({ status: 200, holdMs: 10000 });
    await expect(kit({ timeoutMs: 200 }).exportPage({ resource: 'invoices' })).rejects.toMatchObject({ name: 'TransientError', code: 'TIMEOUT' });
    const gone = await startLimitingProxy(app.url, () => undefined);
    await gone.close();
    const call = connectorTestKit(connector, { config: { baseUrl: gone.url } }).exportPage({ resource: 'invoices' });
    await expect(call).rejects.toMatchObject({ name: 'TransientError', code: 'NETWORK' });
  });

  it('asks the queue to slow down when a successful answer says the limit is used up', async () => {
    // json-server sends no RateLimit headers; a limiter in front of it would.
    const limited = await startLimitingProxy(app.url, () => undefined, (req) =>
      req.path.startsWith('/invoices?') ? { 'ratelimit-limit': '10', 'ratelimit-remaining': '0', 'ratelimit-reset': '3' } : undefined,
    );
    try {
      const limitedKit = connectorTestKit(connector, { config: { baseUrl: limited.url } });
      expect(await limitedKit.exportPage({ resource: 'invoices' })).toEqual({ records: [], next: null }); // a success all the same
      expect(limitedKit.slowDowns).toEqual([3000]);
      await limitedKit.lookup({ resource: 'invoices', recordField: 'ref', resultField: 'invoice', onMissing: 'null' }, { ref: 1 });
      expect(limitedKit.slowDowns).toEqual([3000, 3000]);
    } finally {
      await limited.close();
    }
  });

  it('reads the other spellings of the reset time', async () => {
    const { slowDownMs } = await loadMapping();
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(slowDownMs(new Headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 7) }), now)).toBe(7000);
    expect(slowDownMs(new Headers({ 'ratelimit-remaining': '0', 'retry-after': '2' }), now)).toBe(2000);
    expect(slowDownMs(new Headers({ 'ratelimit-remaining': '0' }), now)).toBe(1000);
    expect(slowDownMs(new Headers({ 'ratelimit-remaining': '5', 'ratelimit-reset': '3' }), now)).toBeNull();
    expect(slowDownMs(new Headers({}), now)).toBeNull();
  });
});
