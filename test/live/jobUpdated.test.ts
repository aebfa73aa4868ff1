/**
 * Subscription.jobUpdated: the job at once on subscribing, then every change
 * of status or counts (coalesced), ending with its final state, after which
 * the subscription completes.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { createFlow, createHttpConnection, getJob, runFlow, waitForJob } from '../support/flows';
import { openSocket, watchJob, within, type JobEvent } from '../support/liveClient';
import { holdUnlessAborted, json, orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startTestSluice, type TestSluice } from '../support/sluice';

const RECORDS = 60;
/** Records whose import the endpoint refuses (HTTP 422): ids 10, 20, … 60. */
const refused = (id: number): boolean => id % 10 === 0;
const REFUSED = orders(RECORDS).filter((o) => refused(o.id as number)).length;

const ORDER = ['QUEUED', 'RUNNING', 'COMPLETED'];
const countsOf = (e: JobEvent): number[] => [e.recordsExported, e.recordsSucceeded, e.recordsFailed];

describe('Subscription.jobUpdated', () => {
  let s: TestSluice;
  let api: RecordingApi;
  let client: Client;
  let conn: string;

  beforeAll(async () => {
    s = await startTestSluice({ engine: true });
    api = await startRecordingApi({ orders: orders(RECORDS), latencyMs: 50 });
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      const body = JSON.parse(req.body) as { id: number };
      if (!refused(body.id)) return false;
      json(res, 422, { error: `order ${body.id} is refused` });
      return true;
    };
    client = openSocket(s.url, s.adminSecret).client;
    conn = await createHttpConnection(s, api.url, { concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
  });
  afterAll(async () => {
    await client?.dispose();
    await s?.close();
    await api?.close();
  });

  async function exportImportFlow(connectionId: string, name: string, importPath = '/import'): Promise<string> {
    const flow = await createFlow(
      s,
      [
        { kind: 'EXPORT', connectionId, config: { path: '/orders', recordsPath: 'data' } },
        { kind: 'IMPORT', connectionId, config: { path: importPath } },
      ],
      name,
    );
    return flow.id;
  }

  it('sends the job at once, then its counts as they change, then its final state, and completes', async () => {
    const jobId = await runFlow(s, await exportImportFlow(conn, 'counted'));
    const live = watchJob(client, jobId);
    const first = await live.waitFor(() => true, 1000);
    expect(first.receivedAt - live.subscribedAt).toBeLessThan(1000);
    expect(first.value).toMatchObject({ id: jobId, finishedAt: null });
    expect(['QUEUED', 'RUNNING']).toContain(first.value.status);

    const ending = await within(live.ended, 10000, 'the end of the subscription');
    expect(ending).toEqual({ kind: 'complete' });
    expect(live.errors).toEqual([]);
    const values = live.events.map((e) => e.value);
    const final = values[values.length - 1];
    expect(final).toEqual({
      id: jobId,
      status: 'COMPLETED',
      recordsExported: RECORDS,
      recordsSucceeded: RECORDS - REFUSED,
      recordsFailed: REFUSED,
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
    });
    // Only the last event is final: nothing is sent after it.
    expect(values.slice(0, -1).every((v) => v.status !== 'COMPLETED')).toBe(true);
    // The counts moved in between, and only ever up; the status only forward.
    expect(values.some((v) => v.recordsSucceeded + v.recordsFailed > 0 && v.recordsSucceeded + v.recordsFailed < RECORDS)).toBe(true);
    for (let i = 1; i < values.length; i++) {
      countsOf(values[i]).forEach((n, k) => expect(n).toBeGreaterThanOrEqual(countsOf(values[i - 1])[k]));
      expect(ORDER.indexOf(values[i].status)).toBeGreaterThanOrEqual(ORDER.indexOf(values[i - 1].status));
      // An event is sent when something it shows changed.
      expect(JSON.stringify([values[i].status, ...countsOf(values[i])])).not.toBe(JSON.stringify([values[i - 1].status, ...countsOf(values[i - 1])]));
    }
    // Coalesced: on average at least 100 ms between the updates after the first event.
    const updates = live.events.slice(1);
    expect(updates.length).toBeGreaterThanOrEqual(3);
    const averageGap = (updates[updates.length - 1].receivedAt - updates[0].receivedAt) / (updates.length - 1);
    expect(averageGap).toBeGreaterThanOrEqual(100);
    // The same numbers as a query.
    const job = await getJob(s, jobId);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: RECORDS, recordsSucceeded: RECORDS - REFUSED, recordsFailed: REFUSED });
    console.log(`jobUpdated: ${values.length} events, average gap between updates ${averageGap.toFixed(0)} ms`);
  });

  it('sends a finished job once and completes', async () => {
    const jobId = await runFlow(s, await exportImportFlow(conn, 'finished'));
    const done = await waitForJob(s, jobId);
    expect(done.status).toBe('COMPLETED');
    const live = watchJob(client, jobId);
    expect(await within(live.ended, 10000, 'the end of the subscription')).toEqual({ kind: 'complete' });
    expect(live.events.map((e) => e.value)).toEqual([
      expect.objectContaining({ id: jobId, status: 'COMPLETED', recordsExported: RECORDS, recordsSucceeded: RECORDS - REFUSED, recordsFailed: REFUSED }),
    ]);
  });

  it('ends with CANCELED when the job is canceled while it runs', async () => {
    const held = await startRecordingApi({ orders: orders(10) });
    held.options.override = async (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      if (await holdUnlessAborted(res, 60000)) json(res, 201, { ok: true });
      return true;
    };
    try {
      const heldConn = await createHttpConnection(s, held.url, { name: 'held', concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
      const jobId = await runFlow(s, await exportImportFlow(heldConn, 'held'));
      const live = watchJob(client, jobId);
      await live.waitFor((j) => j.status === 'RUNNING' && j.recordsExported === 10, 5000);
      const canceledAt = Date.now();
      await s.ok(`mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: jobId });
      expect(await within(live.ended, 10000, 'the end of the subscription')).toEqual({ kind: 'complete' });
      const last = live.events[live.events.length - 1];
      expect(last.value).toMatchObject({ id: jobId, status: 'CANCELED', recordsExported: 10, recordsSucceeded: 0 });
      // Cancel NOTIFYs the job channel; the hub's re-read (every 500 ms) would bring it anyway.
      expect(last.receivedAt - canceledAt).toBeLessThan(1500);
      console.log(`jobUpdated: CANCELED arrived ${last.receivedAt - canceledAt} ms after cancelJob`);
    } finally {
      await held.close();
    }
  });

  it.each([
    ['an unknown job id', () => randomUUID()],
    ['a malformed job id', () => 'not-a-job-id'],
  ])('refuses %s with NOT_FOUND', async (_what, id) => {
    const live = watchJob(client, id());
    expect(await within(live.ended, 10000, 'the end of the subscription')).toEqual({ kind: 'complete' });
    expect(live.errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    expect(live.events).toEqual([]);
  });
});
