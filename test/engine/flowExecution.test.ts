import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { orders, useRecordingApi } from '../support/recordingApi';

const PAGING = { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 10 };

describe('flow execution', () => {
  const s = useTestSluice({ engine: true, env: { SHUTDOWN_GRACE_MS: '1000' } });
  const api = useRecordingApi();

  it('exports every page and imports every record once, with an idempotency key each', async () => {
    api.options.orders = orders(25);
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 5, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data', paging: PAGING } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id));
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 25, recordsSucceeded: 25, recordsFailed: 0 });
    expect((api.imported as { id: number }[]).map((r) => r.id).sort((a, b) => a - b)).toEqual(orders(25).map((o) => o.id));
    expect(new Set(api.importKeys).size).toBe(25);
    // Pages 1..3: the third is short (5 < 10) and ends the export.
    expect(api.arrivals.filter((p) => p.startsWith('/orders'))).toHaveLength(3);
  });
});
