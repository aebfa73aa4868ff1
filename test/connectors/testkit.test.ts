/**
 * The plugin test kit runs a connector's calls against a live endpoint with
 * no Sluice server: here the built-in http connector against a real local
 * HTTP server, and a CommonJS plugin.
 */
import path from 'node:path';
import { httpConnector } from '../../src/connectors/http';
import type { Connector } from '../../src/connectors/sdk';
import { connectorTestKit, TestKitValidationError } from '../../src/connectors/sdk/testkit';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';

const http = httpConnector as unknown as Connector;

describe('connector test kit', () => {
  let api: RecordingApi;

  beforeAll(async () => {
    api = await startRecordingApi({ orders: orders(25) });
  });
  afterAll(() => api.close());

  it('exports every page, looks up and imports through the http connector, with its credentials', async () => {
    const kit = connectorTestKit(http, { config: { baseUrl: api.url }, credentials: { type: 'bearer', token: 'kit-token' } });
    const records = await kit.exportAll({
      path: '/orders',
      recordsPath: 'data',
      paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 10 },
    });
    expect(records.map((r) => r.id)).toEqual(orders(25).map((o) => o.id));
    const enriched = await kit.lookup({ path: '/customers/{{record.customerId}}', resultField: 'customer' }, { customerId: 'a b' });
    expect(enriched).toEqual({ customerId: 'a b', customer: { path: '/customers/a%20b' } });
    await kit.importRecords({ path: '/import' }, [{ id: 7 }], 'key-7');
    const last = api.requests[api.requests.length - 1]!;
    expect(last.headers['idempotency-key']).toBe('key-7');
    expect(last.headers.authorization).toBe('Bearer kit-token');
    expect(await kit.ping()).toMatchObject({ ok: true });
  });

  it('refuses configs the connector would refuse, before any call', async () => {
    expect(() => connectorTestKit(http, { config: { baseUrl: 'not a url' } })).toThrow(TestKitValidationError);
    const kit = connectorTestKit(http, { config: { baseUrl: api.url } });
    const before = api.requests.length;
    await expect(kit.importRecords({ method: 'DELETE', path: '/import' }, [{ id: 1 }])).rejects.toThrow(/step config does not match/);
    expect(api.requests.length).toBe(before);
  });

  it('runs a plugin loaded from its own module', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const plugin = require(path.join(__dirname, '..', 'fixtures', 'plugins', 'echo-cjs.cjs')) as Connector;
    const kit = connectorTestKit(plugin, { config: {} });
    expect(await kit.lookup({}, { id: 1 })).toEqual({ id: 1, seen: true });
    await expect(kit.exportPage({})).rejects.toThrow(/has no EXPORT step/);
  });
});
