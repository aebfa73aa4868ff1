/**
 * Subscriptions served by an API process while another process does the
 * work: the worker's changes reach the API process's hub through PostgreSQL
 * NOTIFY (and its re-reads), never through memory they share.
 */
import type { Client } from 'graphql-ws';
import { createFlow, createHttpConnection, runFlow } from '../support/flows';
import { drained, openSocket, watchJob, watchQueues, within } from '../support/liveClient';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startTestSluice, type TestSluice } from '../support/sluice';
import { startSluiceProcess, stopSluiceProcesses, type SluiceProcess } from '../support/sluiceProcess';

const RECORDS = 60;
const LEVEL = 2;

describe('subscriptions on an API process while a worker process runs the job', () => {
  let s: TestSluice;
  let worker: SluiceProcess;
  let api: RecordingApi;
  let client: Client;

  beforeAll(async () => {
    s = await startTestSluice({ engine: false });
    worker = await startSluiceProcess(s);
    api = await startRecordingApi({ orders: orders(RECORDS), latencyMs: 50 });
    client = openSocket(s.url, s.adminSecret).client;
  }, 60000);
  afterAll(async () => {
    await client?.dispose();
    await stopSluiceProcesses();
    await s?.close();
    await api?.close();
  });

  it('sees the queue rise and drain, and the job’s final state', async () => {
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: LEVEL, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const queue = watchQueues(client, [conn]);
    await queue.waitFor(drained, 1000);
    const jobId = await runFlow(s, flow.id);
    const job = watchJob(client, jobId);

    expect(await within(job.ended, 20000, 'the end of the job subscription')).toEqual({ kind: 'complete' });
    expect(job.last()).toMatchObject({
      id: jobId,
      status: 'COMPLETED',
      recordsExported: RECORDS,
      recordsSucceeded: RECORDS,
      recordsFailed: 0,
    });
    const jobValues = job.events.map((e) => e.value);
    expect(jobValues.some((v) => v.recordsSucceeded > 0 && v.recordsSucceeded < RECORDS)).toBe(true);

    await queue.waitUntil(() => queue.events.length > 1 && drained(queue.last()!), 3000, 'the drained event');
    const values = queue.events.map((e) => e.value);
    expect(values.some((v) => v.queueSize > 0)).toBe(true);
    expect(Math.max(...values.map((v) => v.inFlight))).toBeGreaterThan(0);
    expect(Math.max(...values.map((v) => v.inFlight))).toBeLessThanOrEqual(LEVEL);
    expect(values[values.length - 1]).toMatchObject({ connectionId: conn, queueSize: 0, inFlight: 0, concurrencyLevel: LEVEL });

    // The work was the worker's: this process has no engine.
    expect(s.sluice.engine).toBeNull();
    expect(await worker.metric('sluice_messages_started_total')).toBe(RECORDS + 1);
    expect(api.imported).toHaveLength(RECORDS);
    console.log(`across processes: ${values.length} queueSize events, ${jobValues.length} jobUpdated events`);
  });
});
