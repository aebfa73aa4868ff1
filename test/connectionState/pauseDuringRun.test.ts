/**
 * A pause holds a queue while a flow runs, in every way the contract says:
 * calls running at the pause finish, nothing else reaches the application
 * until the resume, and then everything does, in FIFO order. Pausing a
 * queue owner holds its borrowers too; pausing a borrower holds only it.
 */
import { createFlow, createHttpConnection, getJob, runFlow, waitForJob, waitUntil, ORDERS_PAGING } from '../support/flows';
import { orders, useRecordingApi } from '../support/recordingApi';
import { useTestSluice } from '../support/sluice';
import { QUIET_MS, pause, resume, stateOf, watchFor } from './stateApi';

const RECORDS = 30;

describe('a paused connection', () => {
  const s = useTestSluice({ engine: true });
  const api = useRecordingApi({ latencyMs: 20 });

  /** A flow that exports /orders?flow=<marker> and imports each record to /import/<marker>, through `connectionId`. */
  async function markedFlow(connectionId: string, marker: string): Promise<string> {
    const flow = await createFlow(
      s,
      [
        { kind: 'EXPORT', connectionId, config: { path: '/orders', query: { flow: marker }, recordsPath: 'data', paging: ORDERS_PAGING } },
        { kind: 'IMPORT', connectionId, config: { path: `/import/${marker}` } },
      ],
      `flow-${marker}`,
    );
    return flow.id;
  }

  const callsOf = (marker: string): number => api.arrivals.filter((p) => p.includes(`flow=${marker}`) || p === `/import/${marker}`).length;

  it('lets the running call finish, starts nothing while paused, then everything after the resume in FIFO order', async () => {
    api.options.orders = orders(RECORDS);
    const conn = await createHttpConnection(s, api.url, { name: 'fifo', concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    const jobId = await runFlow(s, await markedFlow(conn, 'fifo'));
    await waitUntil(() => api.imported.length >= 5, 20000, 'five imports');

    expect(await pause(s, conn, 'mid-run')).toMatchObject({ state: 'PAUSED', stateReason: 'mid-run' });
    // Level 1: at most the one call claimed before the pause committed may still arrive.
    const atPause = api.arrivals.length;
    await watchFor(QUIET_MS);
    const whilePaused = api.arrivals.length;
    expect(whilePaused - atPause).toBeLessThanOrEqual(1);
    expect(api.inFlight).toBe(0);
    expect(api.imported.length).toBeLessThan(RECORDS);
    expect((await getJob(s, jobId)).status).toBe('RUNNING');

    await resume(s, conn);
    const job = await waitForJob(s, jobId, 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: RECORDS, recordsSucceeded: RECORDS, recordsFailed: 0 });
    expect(api.imported.map((r) => (r as { id: number }).id)).toEqual(orders(RECORDS).map((r) => r.id));
    expect(api.maxInFlight).toBe(1);
  });

  it('holds its borrowers’ messages too when it owns the queue', async () => {
    api.options.orders = orders(5);
    const owner = await createHttpConnection(s, api.url, { name: 'owner', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const borrower = await createHttpConnection(s, api.url, { name: 'borrower', borrowConcurrencyFromId: owner });
    await pause(s, owner, 'whole queue');
    expect(await stateOf(s, borrower)).toMatchObject({ state: 'PAUSED', stateReason: 'whole queue' });

    const jobs = [await runFlow(s, await markedFlow(owner, 'o')), await runFlow(s, await markedFlow(borrower, 'b'))];
    await watchFor(QUIET_MS);
    expect(api.arrivals).toEqual([]);
    for (const id of jobs) expect((await getJob(s, id)).status).toMatch(/^(QUEUED|RUNNING)$/);

    await resume(s, owner);
    for (const id of jobs) expect(await waitForJob(s, id, 30000)).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 5 });
    expect([callsOf('o'), callsOf('b')]).toEqual([6, 6]);
  });

  it('holds only a paused borrower’s messages, in place, while its owner’s keep flowing', async () => {
    api.options.orders = orders(5);
    const owner = await createHttpConnection(s, api.url, { name: 'owner-2', concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    const borrower = await createHttpConnection(s, api.url, { name: 'borrower-2', borrowConcurrencyFromId: owner });
    await pause(s, borrower, 'borrower only');
    expect(await stateOf(s, owner)).toMatchObject({ state: 'ONLINE' });

    // The borrower's job first: its messages are ahead of the owner's in the queue, and passed over in place.
    const held = await runFlow(s, await markedFlow(borrower, 'held'));
    const flowing = await runFlow(s, await markedFlow(owner, 'flowing'));
    expect(await waitForJob(s, flowing, 30000)).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 5 });
    await watchFor(QUIET_MS);
    expect(callsOf('held')).toBe(0);
    expect((await getJob(s, held)).status).toMatch(/^(QUEUED|RUNNING)$/);

    await resume(s, borrower);
    expect(await waitForJob(s, held, 30000)).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 5 });
    expect(callsOf('held')).toBe(6);
  });
});
