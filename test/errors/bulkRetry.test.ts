/**
 * retryJobErrors by filter has no cap: 10,000 OPEN errors, retried by one
 * filter in batches, every one enqueued and sent again exactly once.
 */
import { createFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { allJobErrors, RefusingSink } from '../support/jobErrors';
import { orders, useRecordingApi } from '../support/recordingApi';
import { useTestSluice } from '../support/sluice';

const RECORDS = 10000;

describe('retryJobErrors by filter', () => {
  const s = useTestSluice({ engine: true });
  const api = useRecordingApi({ orders: orders(RECORDS) });

  it('retries every one of 10,000 OPEN errors the filter matches, and every record arrives once', async () => {
    const sink = new RefusingSink(new Set(orders(RECORDS).map((o) => o.id as number)));
    api.options.override = sink.override;
    // Burst mode: the test is about the retry, not about the level.
    const connectionId = await createHttpConnection(s, api.url, { concurrencyLevel: null, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId, config: { path: '/orders', recordsPath: 'data', paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 1000 } } },
      { kind: 'IMPORT', connectionId, config: { path: '/import' } },
    ]);
    const t0 = Date.now();
    const jobId = await runFlow(s, flow.id);
    expect(await waitForJob(s, jobId, 60000)).toMatchObject({ status: 'COMPLETED', recordsFailed: RECORDS, recordsSucceeded: 0 });

    const t1 = Date.now();
    sink.fixed = true;
    const data = await s.ok<{ retryJobErrors: { id: string; state: string }[] }>(
      `mutation($job: ID!) { retryJobErrors(filter: { jobId: $job, state: OPEN }) { id state } }`,
      { job: jobId },
    );
    const t2 = Date.now();
    expect(data.retryJobErrors).toHaveLength(RECORDS);
    expect(new Set(data.retryJobErrors.map((e) => e.id)).size).toBe(RECORDS);
    expect(data.retryJobErrors.every((e) => e.state === 'RETRIED')).toBe(true);

    expect(await waitForJob(s, jobId, 60000)).toMatchObject({ status: 'COMPLETED', recordsExported: RECORDS, recordsSucceeded: RECORDS, recordsFailed: 0 });
    console.log(`first run ${t1 - t0} ms, retry ${t2 - t1} ms, second run ${Date.now() - t2} ms`);
    const ids = api.imported.map((b) => (b as { id: number }).id).sort((a, b) => a - b);
    expect(ids).toEqual(orders(RECORDS).map((o) => o.id));
    expect(await allJobErrors(s, { jobId, state: 'OPEN' })).toEqual([]);
  }, 90000);
});
