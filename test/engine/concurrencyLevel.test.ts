/**
 * A fixed level (auto-recovery off) is a hard ceiling on the calls a queue has
 * in flight at the external application, and the engine actually uses it all.
 */
import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';

const isImport = (p: string): boolean => p.startsWith('/import');

describe('queue concurrency level', () => {
  const s = useTestSluice({ engine: true });
  let api: RecordingApi;
  afterEach(() => api.close());

  // Enough records that the queue stays longer than the level for a while.
  it.each([
    { level: 1, records: 12 },
    { level: 3, records: 30 },
    { level: 25, records: 100 },
  ])('has exactly $level call(s) in flight at level $level ($records records)', async ({ level, records }) => {
    // Imports are answered in gathers of `level` (test/support/recordingApi.ts).
    api = await startRecordingApi({ orders: orders(records), gather: { match: isImport, count: level } });
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: level, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id));
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: records, recordsSucceeded: records, recordsFailed: 0 });
    expect(api.peakInFlight(isImport)).toBe(level);
    // The export's page shares the queue, so the level bounds everything.
    expect(api.maxInFlight).toBe(level);
    expect(api.imported).toHaveLength(records);
  });
});
