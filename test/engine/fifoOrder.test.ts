/**
 * Messages start in the order they were enqueued, within one queue: a job's
 * records in export order, and one job's queued messages before those of a
 * job run later through the same connection.
 */
import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';

describe('queue FIFO order', () => {
  const s = useTestSluice({ engine: true });
  let api: RecordingApi;
  beforeEach(async () => {
    api = await startRecordingApi({ latencyMs: 15 });
  });
  afterEach(async () => {
    await api.close();
  });

  function exportImport(conn: string, marker: string): Promise<{ id: string }> {
    return createFlow(
      s,
      [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', query: { flow: marker }, recordsPath: 'data' } },
        { kind: 'IMPORT', connectionId: conn, config: { path: `/import/${marker}` } },
      ],
      `flow-${marker}`,
    );
  }

  it('starts a job’s imports in record order at level 1', async () => {
    api.options.orders = orders(15);
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    const flow = await exportImport(conn, 'a');
    const job = await waitForJob(s, await runFlow(s, flow.id));
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 15 });
    expect((api.imported as { id: number }[]).map((r) => r.id)).toEqual(orders(15).map((o) => o.id));
    expect(new Set(api.importKeys).size).toBe(15);
  });

  it('starts a second job’s messages only after the first job’s messages that were queued before it', async () => {
    api.options.orders = orders(10);
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    const flowA = await exportImport(conn, 'a');
    const flowB = await exportImport(conn, 'b');

    const jobA = await runFlow(s, flowA.id);
    // A's first import has started: all ten of A's imports are queued now
    // (they were enqueued together, when A's page was answered).
    await waitUntil(() => api.arrivals.includes('/import/a'), 10000, 'the first import of job A');
    const jobB = await runFlow(s, flowB.id);

    const [a, b] = await Promise.all([waitForJob(s, jobA), waitForJob(s, jobB)]);
    expect(a).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 10 });
    expect(b).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 10 });
    expect(api.arrivals).toEqual([
      '/orders?flow=a',
      ...Array<string>(10).fill('/import/a'),
      '/orders?flow=b',
      ...Array<string>(10).fill('/import/b'),
    ]);
    // Within each job, record order too.
    const ids = (api.imported as { id: number }[]).map((r) => r.id);
    expect(ids).toEqual([...orders(10), ...orders(10)].map((o) => o.id));
  });
});
