/**
 * The plugin loaded into a real Sluice by its package name in
 * CONNECTOR_PLUGINS, running flows between two real json-servers: a shop
 * whose orders are exported and whose customers are looked up, and the
 * books they are imported into; then the same with a rate limiter in front
 * of the books; then in a worker process started as an operator starts one.
 * (These tests use the repository's test support: a Sluice on an embedded
 * PostgreSQL.)
 */
import { createFlow, runFlow, waitForJob } from '../../../test/support/flows';
import { startTestSluice, type TestSluice } from '../../../test/support/sluice';
import { startSluiceProcess, stopSluiceProcesses } from '../../../test/support/sluiceProcess';
import { startJsonServer, type JsonServer } from './jsonServer';
import { startLimitingProxy, type LimitingProxy, type Refusal } from './limitingProxy';

const customers = ['Ada', 'Grace', 'Edsger', 'Barbara', 'Alan'].map((name, i) => ({ id: `c${i + 1}`, name }));
const orders = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1, customerId: `c${(i % 5) + 1}`, total: (i + 1) * 10 }));

/** The order as the books should hold it: with its customer looked up. */
const invoiceOf = (order: { id: number; customerId: string; total: number }) => ({ ...order, customer: customers.find((c) => c.id === order.customerId) });

async function createConnection(s: TestSluice, name: string, baseUrl: string, concurrencyLevel: number): Promise<string> {
  const data = await s.ok<{ createConnection: { id: string } }>(
    `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
    { input: { name, connectorType: 'json-server', config: { baseUrl }, concurrencyLevel } },
  );
  return data.createConnection.id;
}

/** A flow: shop orders → look up each one's customer in the shop → upsert into the books' invoices. */
async function ordersToInvoices(s: TestSluice, shop: string, books: string): Promise<string> {
  const flow = await createFlow(s, [
    { kind: 'EXPORT', connectionId: shop, config: { resource: 'orders', pageSize: 10 } },
    { kind: 'LOOKUP', connectionId: shop, config: { resource: 'customers', recordField: 'customerId', resultField: 'customer' } },
    { kind: 'IMPORT', connectionId: books, config: { resource: 'invoices' } },
  ]);
  return flow.id;
}

/** A counter from the /metrics of the Sluice at `url` for one queue owner (a connection that borrows nothing is its own). */
async function counter(url: string, name: string, owner: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`queue_owner="${owner}"`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('json-server connector in Sluice (CONNECTOR_PLUGINS=sluice-connector-json-server)', () => {
  let s: TestSluice;
  let shop: JsonServer;
  let books: JsonServer;
  let proxy: LimitingProxy | undefined;

  beforeAll(async () => {
    s = await startTestSluice({ engine: true, env: { CONNECTOR_PLUGINS: 'sluice-connector-json-server' } });
    shop = await startJsonServer({ orders: orders(45), customers });
  });
  afterAll(async () => {
    await proxy?.close();
    await books?.close();
    await shop?.close();
    await s?.close();
  });

  it('is listed with the step kinds it implements, and its connection tests ok', async () => {
    const data = await s.ok<{ connectors: { type: string; version: string; supportedStepKinds: string[] }[] }>(
      `{ connectors { type version supportedStepKinds } }`,
    );
    expect(data.connectors).toContainEqual({ type: 'json-server', version: '1.0.0', supportedStepKinds: ['EXPORT', 'LOOKUP', 'IMPORT'] });
    const conn = await createConnection(s, 'shop (ping)', shop.url, 1);
    const test = await s.ok<{ testConnection: { ok: boolean } }>(`mutation($id: ID!) { testConnection(id: $id) { ok } }`, { id: conn });
    expect(test.testConnection.ok).toBe(true);
  });

  it('exports every order, looks up its customer and imports it into the books', async () => {
    books = await startJsonServer({ invoices: [] });
    const flowId = await ordersToInvoices(s, await createConnection(s, 'shop', shop.url, 3), await createConnection(s, 'books', books.url, 2));
    const job = await waitForJob(s, await runFlow(s, flowId), 60000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 45, recordsSucceeded: 45, recordsFailed: 0, errors: [] });
    const invoices = (await books.db()).invoices!;
    expect([...invoices].sort((a, b) => (a.id as number) - (b.id as number))).toEqual(orders(45).map(invoiceOf));

    // Run again: the import upserts, so the books still hold each invoice once.
    const again = await waitForJob(s, await runFlow(s, flowId), 60000);
    expect(again).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 45 });
    expect((await books.db()).invoices).toHaveLength(45);
  }, 90000);

  it('loses no record when the books answer 429 and 503 with Retry-After, and a 500', async () => {
    const target = await startJsonServer({ invoices: [] });
    // Every 4th write is refused, six times in all: 429, 503 (both rate limits) and one 500 (transient).
    let writes = 0;
    const refusals = [429, 429, 503, 429, 503, 500];
    proxy = await startLimitingProxy(target.url, (req): Refusal | undefined => {
      if (req.method === 'GET') return undefined;
      writes++;
      const status = writes % 4 === 0 ? refusals[writes / 4 - 1] : undefined;
      if (status === undefined) return undefined;
      return { status, headers: status === 500 ? {} : { 'retry-after': '1' } };
    });
    try {
      const booksConn = await createConnection(s, 'limited books', proxy.url, 2);
      const flowId = await ordersToInvoices(s, await createConnection(s, 'shop 2', shop.url, 3), booksConn);
      const job = await waitForJob(s, await runFlow(s, flowId), 90000);

      expect(proxy.refused.map((r) => r.status)).toEqual(refusals);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 45, recordsSucceeded: 45, recordsFailed: 0, errors: [] });
      const invoices = (await target.db()).invoices!;
      expect([...invoices].sort((a, b) => (a.id as number) - (b.id as number))).toEqual(orders(45).map(invoiceOf));
      // Sluice took the 429s and 503s as rate limits (retried with the attempt given back, the queue paused)
      // and the 500 as transient: the connector's mapping reached the engine.
      expect(await counter(s.url, 'sluice_messages_retried_total', booksConn, 'reason="rate_limited"')).toBe(5);
      expect(await counter(s.url, 'sluice_messages_retried_total', booksConn, 'reason="error"')).toBe(1);
      expect(await counter(s.url, 'sluice_level_adjustments_total', booksConn, 'reason="rate-limited"')).toBeGreaterThanOrEqual(1);
    } finally {
      await proxy.close();
      proxy = undefined;
      await target.close();
    }
  }, 120000);
});

describe('json-server connector in a Sluice worker process', () => {
  let s: TestSluice;
  let shop: JsonServer;
  let books: JsonServer;
  let proxy: LimitingProxy;

  beforeAll(async () => {
    // The API here; the engine only in the worker below, which loads the plugin as `node src/main.ts` does.
    s = await startTestSluice({ engine: false, env: { CONNECTOR_PLUGINS: 'sluice-connector-json-server' } });
    shop = await startJsonServer({ orders: orders(12), customers });
    books = await startJsonServer({ invoices: [] });
  });
  afterAll(async () => {
    await stopSluiceProcesses();
    await proxy?.close();
    await books?.close();
    await shop?.close();
    await s?.close();
  });

  it('runs the flow there, and its rate limits reach that engine as rate limits', async () => {
    const worker = await startSluiceProcess(s, { CONNECTOR_PLUGINS: 'sluice-connector-json-server' });
    let writes = 0;
    proxy = await startLimitingProxy(books.url, (req): Refusal | undefined =>
      req.method !== 'GET' && ++writes % 5 === 0 && writes <= 10 ? { status: 429, headers: { 'retry-after': '1' } } : undefined,
    );
    const booksConn = await createConnection(s, 'books (worker)', proxy.url, 2);
    const flowId = await ordersToInvoices(s, await createConnection(s, 'shop (worker)', shop.url, 2), booksConn);
    const job = await waitForJob(s, await runFlow(s, flowId), 60000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 12, recordsSucceeded: 12, recordsFailed: 0, errors: [] });
    expect((await books.db()).invoices).toHaveLength(12);
    expect(proxy.refused).toHaveLength(2);
    expect(await counter(worker.url, 'sluice_messages_retried_total', booksConn, 'reason="rate_limited"')).toBe(2);
  }, 90000);
});
