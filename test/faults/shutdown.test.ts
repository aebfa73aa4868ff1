/**
 * Graceful shutdown of a worker (SIGTERM): it stops taking messages, lets the
 * running calls finish (up to the grace period; past it, they are aborted and
 * released to the queue), then exits 0. Another process finishes the job and
 * no record is lost; each test ends on the fault suite's invariants
 * (./invariants.ts).
 */
import { startTestSluice, type TestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { holdUnlessAborted, json, orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startSluiceProcess, stopSluiceProcesses } from '../support/sluiceProcess';
import { expectFaultInvariants } from './invariants';

const idOf = (body: string): number => (JSON.parse(body) as { id: number }).id;
const idsOf = (n: number): number[] => orders(n).map((o) => o.id as number);

describe('worker shutdown', () => {
  let s: TestSluice;
  let api: RecordingApi;

  beforeAll(async () => {
    // The API only: the workers below are the only engines.
    s = await startTestSluice({ engine: false });
  });
  afterAll(async () => {
    await s.close();
  });
  afterEach(async () => {
    // Each test's workers go with it: a worker left over would run the next test's job.
    await stopSluiceProcesses();
    await api.close();
  });

  async function exportImportFlow(records: number): Promise<string> {
    api.options.orders = orders(records);
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 3, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    return flow.id;
  }
  const imports = (): number => api.arrivals.filter((p) => p === '/import').length;

  it('on SIGTERM finishes the running calls, starts no new ones, exits 0; another worker completes the job', async () => {
    api = await startRecordingApi({ latencyMs: 400 });
    const flowId = await exportImportFlow(12);
    const first = await startSluiceProcess(s);
    const jobId = await runFlow(s, flowId);
    await waitUntil(() => imports() === 3, 10000, 'three imports in flight');

    first.signal('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    // The three calls ran to the end; nothing started after the signal.
    expect(api.aborted).toEqual([]);
    expect(api.imported).toHaveLength(3);
    expect(imports()).toBe(3);

    await startSluiceProcess(s);
    const job = await waitForJob(s, jobId);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 12, recordsSucceeded: 12, recordsFailed: 0, errors: [] });
    expect(expectFaultInvariants({ api, job, recordIds: idsOf(12), level: 3 }).importedTwice).toEqual([]);
    // Exactly once: a drained shutdown repeats nothing.
    expect((api.imported as { id: number }[]).map((r) => r.id).sort((a, b) => a - b)).toEqual(idsOf(12));
    expect(api.requests.filter((r) => r.path === '/import')).toHaveLength(12);
  }, 90000); // two process starts, on a loaded machine

  it('past the grace period aborts the running calls and releases them, exits 0; another worker reruns them', async () => {
    api = await startRecordingApi();
    let signaled = false;
    // Calls made before the signal outlast the grace period; later ones are quick.
    api.options.override = async (req, res) => {
      if (req.path !== '/import' || signaled) return false;
      if (await holdUnlessAborted(res, 20000)) json(res, 201, { ok: true });
      return true;
    };
    const flowId = await exportImportFlow(9);
    const first = await startSluiceProcess(s, { SHUTDOWN_GRACE_MS: '300' });
    const jobId = await runFlow(s, flowId);
    await waitUntil(() => imports() === 3, 10000, 'three imports in flight');
    const held = api.requests.filter((r) => r.path === '/import');

    signaled = true;
    first.signal('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.lines.some((l) => l.includes('grace period over'))).toBe(true);
    await waitUntil(() => api.aborted.length === 3, 5000, 'the endpoint to see the three calls go away unanswered');
    expect(api.aborted).toEqual(['/import', '/import', '/import']);

    await startSluiceProcess(s);
    const job = await waitForJob(s, jobId);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 9, recordsSucceeded: 9, recordsFailed: 0, errors: [] });
    // The aborted calls were never taken in: each record once.
    expect(expectFaultInvariants({ api, job, recordIds: idsOf(9), level: 3 }).importedTwice).toEqual([]);
    expect((api.imported as { id: number }[]).map((r) => r.id).sort((a, b) => a - b)).toEqual(idsOf(9));
    // The released messages ran again under the keys they had.
    for (const call of held) {
      const again = api.requests.filter((r) => r.path === '/import' && idOf(r.body) === idOf(call.body));
      expect(again).toHaveLength(2);
      expect(again[1]?.headers['idempotency-key']).toBe(call.headers['idempotency-key']);
    }
  }, 90000);
});
