/**
 * The connector's calls against a real json-server, through the SDK's test
 * kit (no Sluice server): paging, lookup, and the upserting import.
 */
import { PermanentError } from 'sluice/connector-sdk';
import { connectorTestKit, TestKitValidationError } from 'sluice/connector-sdk/testkit';
import { startJsonServer, type JsonServer } from './jsonServer';

/** The plugin is an ES module; this test file is CommonJS. */
const loadConnector = async () => (await import('../index.mjs')).default;

const customers = ['Ada', 'Grace', 'Edsger'].map((name, i) => ({ id: `c${i + 1}`, name }));
const orders = Array.from({ length: 25 }, (_, i) => ({ id: i + 1, customerId: `c${(i % 3) + 1}`, total: (i + 1) * 10 }));

describe('json-server connector (test kit, against a real json-server)', () => {
  let app: JsonServer;
  let connector: Awaited<ReturnType<typeof loadConnector>>;
  const kit = (config: Record<string, unknown> = {}) => connectorTestKit(connector, { config: { baseUrl: app.url, ...config } });

  beforeAll(async () => {
    connector = await loadConnector();
    app = await startJsonServer({ orders, customers, invoices: [] });
  });
  afterAll(() => app?.close());

  it('exports a collection page by page, in order, and says when the last page is reached', async () => {
    const first = await kit().exportPage({ resource: 'orders', pageSize: 10 });
    expect(first.records.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(first.next).toBe(2);
    const last = await kit().exportPage({ resource: 'orders', pageSize: 10 }, 3);
    expect(last).toEqual({ records: orders.slice(20), next: null });
    expect(await kit().exportAll({ resource: 'orders', pageSize: 10 })).toEqual(orders);
  });

  it('exports only what the filter lets through', async () => {
    const records = await kit().exportAll({ resource: 'orders', pageSize: 4, filter: { customerId: 'c2' } });
    expect(records).toEqual(orders.filter((o) => o.customerId === 'c2'));
  });

  it('ends an export of an empty collection on its first page', async () => {
    expect(await kit().exportPage({ resource: 'invoices' })).toEqual({ records: [], next: null });
  });

  it('looks up the item a record refers to and adds it to the record', async () => {
    const step = { resource: 'customers', recordField: 'customerId', resultField: 'customer' };
    expect(await kit().lookup(step, orders[1]!)).toEqual({ ...orders[1], customer: { id: 'c2', name: 'Grace' } });
    expect(await kit().lookup({ ...step, resource: 'orders', recordField: 'ref', matchField: 'total' }, { ref: 30 })).toMatchObject({
      customer: { id: 3, total: 30 },
    });
  });

  it('fails a lookup that finds nothing for good, unless told to add null', async () => {
    const step = { resource: 'customers', recordField: 'customerId', resultField: 'customer' };
    const missing = kit().lookup(step, { id: 99, customerId: 'c404' });
    await expect(missing).rejects.toBeInstanceOf(PermanentError);
    await expect(missing).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await kit().lookup({ ...step, onMissing: 'null' }, { id: 99, customerId: 'c404' })).toEqual({ id: 99, customerId: 'c404', customer: null });
    await expect(kit().lookup(step, { id: 99 })).rejects.toMatchObject({ code: 'MISSING_FIELD' });
  });

  it('imports by upserting: creates what is new, replaces what exists', async () => {
    await kit().importRecords({ resource: 'invoices' }, [{ id: 1, total: 10 }]);
    await kit().importRecords({ resource: 'invoices' }, [{ id: 1, total: 11 }]);
    await kit().importRecords({ resource: 'invoices', batchSize: 2 }, [{ id: 2, total: 20 }, { id: 'x-3', total: 30 }]);
    expect((await app.db()).invoices).toEqual([{ id: 1, total: 11 }, { id: 2, total: 20 }, { id: 'x-3', total: 30 }]);
  });

  it('gives a record without an id the idempotency key, so a retry does not write it twice', async () => {
    await kit().importRecords({ resource: 'customers' }, [{ name: 'Barbara' }], 'key-1');
    await kit().importRecords({ resource: 'customers' }, [{ name: 'Barbara' }], 'key-1'); // the same message, retried
    await kit().importRecords({ resource: 'customers', batchSize: 2 }, [{ name: 'Alan' }, { name: 'Frances' }], 'key-2');
    const added = (await app.db()).customers!.filter((c) => !customers.some((known) => known.id === c.id));
    expect(added).toEqual([
      { name: 'Barbara', id: 'key-1' },
      { name: 'Alan', id: 'key-2-0' },
      { name: 'Frances', id: 'key-2-1' },
    ]);
  });

  it('fails an import to a collection the application does not have for good, with its status', async () => {
    await expect(kit().importRecords({ resource: 'nowhere' }, [{ id: 1 }])).rejects.toMatchObject({ name: 'PermanentError', code: 'HTTP_404' });
  });

  it('refuses step configs it would refuse in Sluice, before any call', async () => {
    await expect(kit().exportPage({ resource: 'orders?_limit=1000' })).rejects.toThrow(TestKitValidationError);
    await expect(kit().exportPage({ resource: 'orders', filter: { _page: 3 } })).rejects.toThrow(TestKitValidationError);
    await expect(kit().lookup({ resource: 'customers' }, {})).rejects.toThrow(/must have required property 'recordField'/);
    expect(() => kit({ baseUrl: 'ftp://example' })).toThrow(TestKitValidationError);
  });

  it('pings the application, and says so when it is not there', async () => {
    expect(await kit().ping()).toEqual({ ok: true });
    const gone = await startJsonServer({});
    const url = gone.url;
    await gone.close();
    const ping = await connectorTestKit(connector, { config: { baseUrl: url } }).ping();
    expect(ping).toMatchObject({ ok: false, message: expect.stringMatching(/could not reach the application/) });
  });
});
