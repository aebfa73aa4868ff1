/**
 * A worker that dies mid-run (kill -9) loses nothing: its claimed messages
 * keep their lease until it expires, then go back to the head of their queue
 * and another process runs them. Delivery is at-least-once: a call the dead
 * process had made may be made again, always with the same Idempotency-Key.
 */
import { startTestSluice, type TestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startSluiceProcess, stopSluiceProcesses } from '../support/sluiceProcess';

const LEASE = { MESSAGE_LEASE_MS: '2000' };

describe('crash recovery', () => {
  let s: TestSluice;
  let api: RecordingApi;

  beforeAll(async () => {
    // The API only: the workers below are the only engines.
    s = await startTestSluice({ engine: false });
  });
  afterAll(async () => {
    await stopSluiceProcesses();
    await s.close();
    await api.close();
  });

  it('reruns the messages a killed worker held, and completes the job with every record imported', async () => {
    api = await startRecordingApi({ orders: orders(24), latencyMs: 300 });
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 3, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const doomed = await startSluiceProcess(s, LEASE);
    const jobId = await runFlow(s, flow.id);
    await waitUntil(() => api.arrivals.filter((p) => p === '/import').length === 3, 10000, 'three imports in flight');
    const heldAtKill = api.requests.filter((r) => r.path === '/import').map((r) => (JSON.parse(r.body) as { id: number }).id);
    doomed.signal('SIGKILL');
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });

    await startSluiceProcess(s, LEASE);
    const job = await waitForJob(s, jobId, 25000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 24, recordsSucceeded: 24, recordsFailed: 0, errors: [] });

    // Every record reached the API; a record sent twice carried one key both times.
    const imports = api.requests.filter((r) => r.path === '/import');
    const keysById = new Map<number, Set<string>>();
    for (const r of imports) {
      const { id } = JSON.parse(r.body) as { id: number };
      keysById.set(id, (keysById.get(id) ?? new Set()).add(String(r.headers['idempotency-key'])));
    }
    expect([...keysById.keys()].sort((a, b) => a - b)).toEqual(orders(24).map((o) => o.id));
    for (const keys of keysById.values()) expect(keys.size).toBe(1);
    // What the dead worker held ran again (the API saw those calls twice),
    // and nothing else ran twice.
    expect(heldAtKill).toHaveLength(3);
    const twice = [...new Set(imports.map((r) => (JSON.parse(r.body) as { id: number }).id))].filter(
      (id) => imports.filter((r) => (JSON.parse(r.body) as { id: number }).id === id).length > 1,
    );
    expect(twice.sort((a, b) => a - b)).toEqual([...heldAtKill].sort((a, b) => a - b));
  });
});
