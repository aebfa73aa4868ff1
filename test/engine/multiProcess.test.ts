/**
 * Several engine processes on one database share every queue: the level holds
 * across all of them, because claims are made in the database (under a
 * per-queue advisory lock), not in any one process; and a cancel reaches the
 * calls of whichever process runs them.
 */
import { startTestSluice, type TestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, getJob, messagesOf, runFlow, waitForJob, waitUntil } from '../support/flows';
import { holdUnlessAborted, json, orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startSluiceProcess, stopSluiceProcesses, type SluiceProcess } from '../support/sluiceProcess';

async function startedTotal(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('sluice_messages_started_total{'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('engine processes sharing a database', () => {
  let s: TestSluice;
  let worker: SluiceProcess;
  let api: RecordingApi;

  beforeAll(async () => {
    // This process may run at most 2 of the queue's 3 slots, so the third can
    // only be the worker's: otherwise whichever process frees a slot refills it
    // in the same claim, and one process can keep the whole level.
    s = await startTestSluice({ engine: true, env: { MAX_CALLS_PER_QUEUE: '2' } });
    worker = await startSluiceProcess(s);
  });
  afterAll(async () => {
    await stopSluiceProcesses();
    await s.close();
  });
  afterEach(async () => {
    await api.close();
  });

  it('never exceed the level together, and both do work', async () => {
    // Imports are answered in gathers of 3, the level (test/support/recordingApi.ts).
    api = await startRecordingApi({ orders: orders(60), latencyMs: 80, gather: { match: (p) => p.startsWith('/import'), count: 3 } });
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 3, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id));
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 60, recordsSucceeded: 60, recordsFailed: 0 });
    expect(api.maxInFlight).toBe(3);
    expect(api.peakInFlight((p) => p.startsWith('/import'))).toBe(3);
    // Every record once: the two processes never ran the same message.
    expect((api.imported as { id: number }[]).map((r) => r.id).sort((a, b) => a - b)).toEqual(orders(60).map((o) => o.id));

    const inWorker = await worker.metric('sluice_messages_started_total');
    const inServer = await startedTotal(s.url);
    expect(inWorker).toBeGreaterThan(0);
    expect(inServer).toBeGreaterThan(0);
    expect(inWorker + inServer).toBe(61);
  });
});

describe('a cancel made in one process', () => {
  let s: TestSluice;
  let worker: SluiceProcess;
  let api: RecordingApi;

  beforeAll(async () => {
    // The API here, the engine in the worker: the cancel reaches the worker
    // through the database only.
    s = await startTestSluice({ engine: false });
    worker = await startSluiceProcess(s);
  });
  afterAll(async () => {
    await stopSluiceProcesses();
    await s.close();
    await api.close();
  });

  it('aborts the job’s running calls in another process', async () => {
    api = await startRecordingApi({ orders: orders(30) });
    api.options.override = async (req, res) => {
      if (req.path !== '/import') return false;
      if (await holdUnlessAborted(res, 60000)) json(res, 201, { ok: true });
      return true;
    };
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 6, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const jobId = await runFlow(s, flow.id);
    await waitUntil(() => api.inFlight === 6, 10000, 'six imports held');
    expect(await worker.metric('sluice_messages_in_flight')).toBe(6);
    await s.ok(`mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: jobId });

    await waitUntil(() => api.aborted.length === 6, 10000, 'all six held calls to be aborted');
    await waitUntil(async () => (await messagesOf(s, jobId)) === 0, 10000, 'the job’s messages to be gone');
    expect((await getJob(s, jobId)).status).toBe('CANCELED');
    expect(api.arrivals.filter((p) => p === '/import')).toHaveLength(6);
    expect(await worker.metric('sluice_messages_in_flight')).toBe(0);
  });
});
