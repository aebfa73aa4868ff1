/**
 * One connection state for every process: two worker processes sharing a
 * queue see one OFFLINE state and send one probe at a time between them; the
 * state survives a restart of every process; and once the application is
 * back, whichever process probes it brings it ONLINE for all.
 */
import { startTestSluice, type TestSluice } from '../support/sluice';
import { stateOf } from './stateApi';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil, ORDERS_PAGING } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startSluiceProcess, stopSluiceProcesses, type SluiceProcess } from '../support/sluiceProcess';


describe('connection state across processes', () => {
  let s: TestSluice;
  let source: RecordingApi;
  let destination: RecordingApi;
  const workers: SluiceProcess[] = [];
  const WORKER_ENV = { PROBE_MAX_BACKOFF_MS: '2000' };

  beforeAll(async () => {
    s = await startTestSluice(); // the API only: the two workers below run every call
    source = await startRecordingApi();
    destination = await startRecordingApi({ latencyMs: 5 });
    workers.push(await startSluiceProcess(s, WORKER_ENV), await startSluiceProcess(s, WORKER_ENV));
  });
  afterAll(async () => {
    await stopSluiceProcesses();
    await source.close();
    await destination.close();
    await s.close();
  });

  it('share one OFFLINE state and one probe at a time, keep it over a restart of every process, and resume together', async () => {
    source.options.orders = orders(100);
    const from = await createHttpConnection(s, source.url, { name: 'web store', concurrencyLevel: 1 });
    const to = await createHttpConnection(s, destination.url, {
      name: 'erp',
      concurrencyLevel: 4,
      autoRecoverRateLimitErrors: false,
      config: { ping: { path: '/health' } },
    });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: from, config: { path: '/orders', recordsPath: 'data', paging: ORDERS_PAGING } },
      { kind: 'IMPORT', connectionId: to, config: { path: '/import' } },
    ]);
    let down = false;
    destination.options.fault = () => (down ? 'drop' : undefined);
    const jobId = await runFlow(s, flow.id);
    await waitUntil(() => destination.imported.length >= 20, 20000, '20 records imported');
    down = true;
    await waitUntil(async () => (await stateOf(s, to)).state === 'OFFLINE', 15000, 'the connection OFFLINE');

    const offlineSeenAt = Date.now();
    // Probes by ping (the config names one), one at a time across both processes.
    const pingsFrom = destination.arrivalTimes.length;
    await waitUntil(() => destination.arrivalTimes.slice(pingsFrom).filter((a) => a.path === '/health').length >= 3, 20000, 'three probes');
    const pings = destination.arrivalTimes.slice(pingsFrom).filter((a) => a.path === '/health').map((a) => a.at);
    for (let i = 1; i < pings.length; i++) expect(pings[i]! - pings[i - 1]!).toBeGreaterThanOrEqual(500);
    // Nothing but probes reaches the application while it is OFFLINE, once
    // the calls that had started before (in either process) have arrived.
    const settledAt = offlineSeenAt + 1000;
    const importsWhileOffline = destination.arrivalTimes.filter((a) => a.at > settledAt && a.path.startsWith('/import'));
    expect(importsWhileOffline).toHaveLength(0);

    // Every process restarts (stopped as a supervisor stops it): the state is in the database, not in them.
    for (const w of workers.splice(0)) {
      w.signal('SIGTERM');
      expect((await w.exited).code).toBe(0);
    }
    expect((await stateOf(s, to)).state).toBe('OFFLINE');
    workers.push(await startSluiceProcess(s, WORKER_ENV), await startSluiceProcess(s, WORKER_ENV));
    expect((await stateOf(s, to)).state).toBe('OFFLINE');

    down = false;
    const job = await waitForJob(s, jobId, 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 100, recordsSucceeded: 100, recordsFailed: 0, errors: [] });
    expect((await stateOf(s, to)).state).toBe('ONLINE');
    expect(new Set((destination.imported as { id: number }[]).map((r) => r.id)).size).toBe(100);
  }, 120000);
});
