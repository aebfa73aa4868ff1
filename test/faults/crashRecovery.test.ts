/**
 * A worker that dies mid-run (kill -9) loses nothing: its claimed messages
 * keep their lease until it expires, then go back to the head of their queue
 * and another process runs them. Delivery is at-least-once: a call the dead
 * process had made may be made again, always with the same Idempotency-Key.
 * The test ends on the fault suite's invariants (./invariants.ts).
 */
import { startTestSluice, type TestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startSluiceProcess, stopSluiceProcesses } from '../support/sluiceProcess';
import { expectFaultInvariants } from './invariants';

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
    // Every record imported, one Idempotency-Key per record, never more than 3 calls at once.
    const { importedTwice } = expectFaultInvariants({ api, job, recordIds: orders(24).map((o) => o.id as number), level: 3 });
    // What the dead worker held ran again (the API had taken those in already,
    // answering a process that was gone), and nothing else was taken in twice.
    expect(heldAtKill).toHaveLength(3);
    expect(importedTwice).toEqual([...heldAtKill].sort((a, b) => a - b));
  }, 90000); // two process starts and a lease to wait out, on a loaded machine
});
