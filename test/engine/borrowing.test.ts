/**
 * Borrowing: a borrower's messages join its queue owner's queue and count
 * against the owner's level, so connections sharing a queue never exceed the
 * owner's level together.
 */
import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';

describe('borrowed concurrency', () => {
  const s = useTestSluice({ engine: true });
  let api: RecordingApi;
  afterAll(async () => {
    await api.close();
  });

  it('holds an owner and its two borrowers, running at once, to the owner’s level together', async () => {
    // Requests are answered in gathers of 2, the owner's level (test/support/recordingApi.ts).
    api = await startRecordingApi({ orders: orders(12), latencyMs: 40, gather: { match: () => true, count: 2 } });
    const owner = await createHttpConnection(s, api.url, { name: 'owner', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const first = await createHttpConnection(s, api.url, { name: 'borrower-1', borrowConcurrencyFromId: owner });
    // A chain resolves to its end: borrower-2 borrows from borrower-1, whose owner is `owner`.
    const second = await createHttpConnection(s, api.url, { name: 'borrower-2', borrowConcurrencyFromId: first });

    const flows = await Promise.all(
      [
        ['o', owner],
        ['b1', first],
        ['b2', second],
      ].map(([marker, conn]) =>
        createFlow(
          s,
          [
            { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', query: { flow: marker }, recordsPath: 'data' } },
            { kind: 'IMPORT', connectionId: conn, config: { path: `/import/${marker}` } },
          ],
          `flow-${marker}`,
        ),
      ),
    );
    const jobIds = await Promise.all(flows.map((f) => runFlow(s, f.id)));
    const jobs = await Promise.all(jobIds.map((id) => waitForJob(s, id)));

    for (const job of jobs) expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 12, recordsSucceeded: 12, recordsFailed: 0 });
    expect(api.maxInFlight).toBe(2);
    for (const marker of ['o', 'b1', 'b2']) expect(api.arrivals.filter((p) => p === `/import/${marker}`)).toHaveLength(12);
  });
});
