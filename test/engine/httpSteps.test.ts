/**
 * The built-in http connector's steps, end to end through the engine against
 * a real HTTP server: paging by page and by cursor, records at a dot path,
 * downloaded files, lookups merged into records, batched imports, and the
 * connection's headers and credentials on every request.
 */
import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob, type ConnectionOptions, type StepSpec } from '../support/flows';
import { json, orders, useRecordingApi } from '../support/recordingApi';

const PAGING = { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 10 };

describe('http connector steps', () => {
  const s = useTestSluice({ engine: true });
  const api = useRecordingApi();

  async function run(steps: (conn: string) => StepSpec[], options: ConnectionOptions = {}) {
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 5, autoRecoverRateLimitErrors: false, ...options });
    const flow = await createFlow(s, steps(conn));
    return waitForJob(s, await runFlow(s, flow.id));
  }
  const importTo = (conn: string, config: Record<string, unknown> = {}): StepSpec => ({
    kind: 'IMPORT',
    connectionId: conn,
    config: { path: '/import', ...config },
  });
  const importedIds = (): unknown[] => (api.imported as { id: unknown }[]).map((r) => r.id).sort((a, b) => Number(a) - Number(b));

  describe('EXPORT', () => {
    it('asks for pages until a short one, with the step’s query', async () => {
      api.options.orders = orders(25);
      const job = await run((conn) => [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', query: { status: 'open' }, recordsPath: 'data', paging: PAGING } },
        importTo(conn),
      ]);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 25, recordsSucceeded: 25, recordsFailed: 0 });
      expect(api.arrivals.filter((p) => p.startsWith('/orders'))).toEqual([
        '/orders?status=open&page=1&per_page=10',
        '/orders?status=open&page=2&per_page=10',
        '/orders?status=open&page=3&per_page=10',
      ]);
      expect(importedIds()).toEqual(orders(25).map((o) => o.id));
    });

    it('stops at an empty page when the last full page was exactly pageSize', async () => {
      api.options.orders = orders(20);
      const job = await run((conn) => [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data', paging: PAGING } },
        importTo(conn),
      ]);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 20, recordsSucceeded: 20 });
      expect(api.arrivals.filter((p) => p.startsWith('/orders'))).toHaveLength(3);
    });

    it('follows the next cursor at nextCursorPath, URL-encoded, until it is null, reading records at a nested recordsPath', async () => {
      const pages: Record<string, { items: { id: number }[]; next: string | null }> = {
        '': { items: [{ id: 1 }, { id: 2 }], next: 'p2 &/=' },
        'p2 &/=': { items: [{ id: 3 }], next: 'p3' },
        p3: { items: [{ id: 4 }, { id: 5 }], next: null },
      };
      api.options.override = (req, res) => {
        const url = new URL(req.path, 'http://x');
        if (url.pathname !== '/feed') return false;
        const page = pages[url.searchParams.get('after') ?? ''];
        if (!page) return (json(res, 400, { error: `unknown cursor ${req.path}` }), true);
        json(res, 200, { result: { items: page.items }, meta: { next: page.next } });
        return true;
      };
      const job = await run((conn) => [
        {
          kind: 'EXPORT',
          connectionId: conn,
          config: { path: '/feed', recordsPath: 'result.items', paging: { type: 'cursor', cursorParam: 'after', nextCursorPath: 'meta.next' } },
        },
        importTo(conn),
      ]);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 5, recordsSucceeded: 5, recordsFailed: 0 });
      expect(api.arrivals.filter((p) => p.startsWith('/feed'))).toEqual(['/feed', '/feed?after=p2+%26%2F%3D', '/feed?after=p3']);
      expect(importedIds()).toEqual([1, 2, 3, 4, 5]);
    });
  });

  describe('DOWNLOAD', () => {
    it.each([
      {
        format: 'csv',
        file: 'id,name,note\r\n1,Ann,"a, b"\r\n2,Bob,"say ""hi"""\r\n\r\n3,Cy,\r\n',
        records: [
          { id: '1', name: 'Ann', note: 'a, b' },
          { id: '2', name: 'Bob', note: 'say "hi"' },
          { id: '3', name: 'Cy', note: '' },
        ],
      },
      {
        format: 'ndjson',
        file: '{"id":1,"tags":["x"]}\n\n{"id":2,"nested":{"a":true}}\n{"id":3}\n',
        records: [{ id: 1, tags: ['x'] }, { id: 2, nested: { a: true } }, { id: 3 }],
      },
      {
        format: 'json',
        file: '[{"id":1},{"id":2,"name":"two"},{"id":3}]',
        records: [{ id: 1 }, { id: 2, name: 'two' }, { id: 3 }],
      },
    ])('reads every record of a $format file', async ({ format, file, records }) => {
      api.options.override = (req, res) => {
        if (!req.path.startsWith('/files/')) return false;
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(file);
        return true;
      };
      const job = await run((conn) => [
        { kind: 'DOWNLOAD', connectionId: conn, config: { path: `/files/orders.${format}`, format } },
        importTo(conn),
      ]);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 3, recordsSucceeded: 3, recordsFailed: 0 });
      expect(api.arrivals.filter((p) => p.startsWith('/files'))).toEqual([`/files/orders.${format}`]);
      expect([...api.imported].sort((a, b) => Number((a as { id: unknown }).id) - Number((b as { id: unknown }).id))).toEqual(records);
    });
  });

  describe('LOOKUP', () => {
    it('fills {{record.x}} URL-encoded into the path and sets the response on the record under resultField', async () => {
      api.options.orders = [
        { id: 1, customerId: 'a b/c' },
        { id: 2, customerId: 'x?y#z' },
        { id: 3, customerId: 42 },
      ];
      api.options.override = (req, res) => {
        const url = new URL(req.path, 'http://x');
        if (!url.pathname.startsWith('/customers/')) return false;
        json(res, 200, { key: decodeURIComponent(url.pathname.slice('/customers/'.length)), tier: 'gold' });
        return true;
      };
      const job = await run((conn) => [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
        { kind: 'LOOKUP', connectionId: conn, config: { path: '/customers/{{record.customerId}}', resultField: 'customer' } },
        importTo(conn),
      ]);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 3, recordsSucceeded: 3, recordsFailed: 0 });
      expect(api.arrivals.filter((p) => p.startsWith('/customers/')).sort()).toEqual([
        '/customers/42',
        '/customers/a%20b%2Fc',
        '/customers/x%3Fy%23z',
      ]);
      expect([...api.imported].sort((a, b) => (a as { id: number }).id - (b as { id: number }).id)).toEqual([
        { id: 1, customerId: 'a b/c', customer: { key: 'a b/c', tier: 'gold' } },
        { id: 2, customerId: 'x?y#z', customer: { key: 'x?y#z', tier: 'gold' } },
        { id: 3, customerId: 42, customer: { key: '42', tier: 'gold' } },
      ]);
    });

    it('fails a record without the field its path needs, and only that record', async () => {
      api.options.orders = [{ id: 1, customerId: 'c1' }, { id: 2 }];
      const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 5, autoRecoverRateLimitErrors: false });
      const flow = await createFlow(s, [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
        { kind: 'LOOKUP', connectionId: conn, config: { path: '/customers/{{record.customerId}}', resultField: 'customer' } },
        importTo(conn),
      ]);
      const job = await waitForJob(s, await runFlow(s, flow.id));
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 2, recordsSucceeded: 1, recordsFailed: 1 });
      expect(job.errors).toEqual([expect.objectContaining({ code: 'INVALID_RECORD', record: { id: 2 }, step: { id: flow.stepIds[1] } })]);
      expect(api.imported).toEqual([{ id: 1, customerId: 'c1', customer: { path: '/customers/c1' } }]);
    });
  });

  describe('IMPORT', () => {
    it('sends batches of at most batchSize records, each record once, one idempotency key per batch', async () => {
      api.options.orders = orders(25);
      const job = await run((conn) => [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
        importTo(conn, { batchSize: 10 }),
      ]);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 25, recordsSucceeded: 25, recordsFailed: 0 });
      const bodies = api.imported as { id: number }[][];
      for (const body of bodies) expect(Array.isArray(body)).toBe(true);
      expect(bodies.map((b) => b.length).sort((a, b) => a - b)).toEqual([5, 10, 10]);
      expect(bodies.flat().map((r) => r.id).sort((a, b) => a - b)).toEqual(orders(25).map((o) => o.id));
      expect(new Set(api.importKeys).size).toBe(3);
    });

    it('sends a single record as the body (not an array) with batchSize 1, with the method asked for', async () => {
      api.options.orders = orders(2);
      const job = await run((conn) => [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
        importTo(conn, { method: 'PUT', path: '/import/{{record.id}}' }),
      ]);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 2 });
      const imports = api.requests.filter((r) => r.path.startsWith('/import'));
      expect(imports.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['PUT /import/1', 'PUT /import/2']);
      expect(imports.map((r) => r.headers['content-type'])).toEqual(['application/json', 'application/json']);
      expect([...api.imported].sort((a, b) => (a as { id: number }).id - (b as { id: number }).id)).toEqual(orders(2));
    });
  });

  describe('credentials and headers', () => {
    it.each([
      { credentials: { type: 'bearer', token: 'tok-123' }, header: 'authorization', value: 'Bearer tok-123' },
      { credentials: { type: 'basic', username: 'ann', password: 'p:w' }, header: 'authorization', value: `Basic ${Buffer.from('ann:p:w').toString('base64')}` },
      { credentials: { type: 'header', name: 'X-Api-Key', value: 'k-9' }, header: 'x-api-key', value: 'k-9' },
    ])('sends $credentials.type credentials and the configured headers on every request', async ({ credentials, header, value }) => {
      api.options.orders = orders(12);
      const job = await run(
        (conn) => [
          { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data', paging: PAGING } },
          { kind: 'LOOKUP', connectionId: conn, config: { path: '/customers/{{record.customerId}}', resultField: 'customer' } },
          importTo(conn),
        ],
        { credentials, config: { headers: { 'X-Tenant': 'acme' } } },
      );
      expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 12 });
      // 2 pages, 12 lookups, 12 imports.
      expect(api.requests).toHaveLength(26);
      for (const req of api.requests) {
        expect(req.headers[header]).toBe(value);
        expect(req.headers['x-tenant']).toBe('acme');
      }
    });
  });
});
