/**
 * Burst mode (level null, auto-recovery off) starts every waiting message at
 * once: the only bound is what the engine can dispatch.
 */
import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';

describe('burst mode', () => {
  const s = useTestSluice({ engine: true });
  let api: RecordingApi;
  afterAll(async () => {
    await api.close();
  });

  it('runs 100 slow imports all at once', async () => {
    // Every import is held until all 100 are in flight (or 15 s pass, and
    // then the peak below tells how many ever were): a busy machine cannot
    // make a slow start look like a cap, nor a cap pass for a slow start.
    let arrived = 0;
    let allIn: () => void = () => undefined;
    const barrier = new Promise<void>((resolve) => (allIn = resolve));
    api = await startRecordingApi({
      orders: orders(100),
      override: async (req) => {
        if (!req.path.startsWith('/import')) return false;
        if (++arrived === 100) allIn();
        await Promise.race([barrier, new Promise((r) => setTimeout(r, 15000).unref())]);
        return false;
      },
    });
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: null, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id), 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 100, recordsSucceeded: 100, recordsFailed: 0 });
    expect(api.peakInFlight((p) => p.startsWith('/import'))).toBe(100);
    expect(new Set((api.imported as { id: number }[]).map((r) => r.id)).size).toBe(100);
  }, 45000);
});
