/**
 * A plugin cannot take the engine down: whatever its call throws is caught,
 * classified as transient (retried, then kept as a JobError PLUGIN_ERROR) and
 * counted in /metrics; a call that honours its AbortSignal is told why it was
 * aborted. Plugins from test/fixtures/plugins, loaded through
 * CONNECTOR_PLUGINS into a Sluice running its engine. (A call that hangs and
 * ignores its signal: test/faults/hangingPlugin.test.ts.)
 */
import path from 'node:path';
import { createFlow, runFlow, waitForJob } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startTestSluice, type TestSluice } from '../support/sluice';
import { startSluiceProcess, stopSluiceProcesses } from '../support/sluiceProcess';

const fixture = (name: string): string => path.join(__dirname, '..', 'fixtures', 'plugins', name);

/** A counter or gauge from /metrics for one queue owner, summed over the lines that match `labels`; 0 when absent. */
async function metric(s: TestSluice, name: string, owner: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(`queue_owner="${owner}"`) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function createConnection(s: Pick<TestSluice, 'ok'>, connectorType: string, config: Record<string, unknown>, concurrencyLevel: number): Promise<string> {
  const data = await s.ok<{ createConnection: { id: string } }>(
    `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
    { input: { name: connectorType, connectorType, config, concurrencyLevel, autoRecoverRateLimitErrors: false } },
  );
  return data.createConnection.id;
}

describe('plugin isolation', () => {
  let s: TestSluice;
  let api: RecordingApi;

  beforeAll(async () => {
    s = await startTestSluice({ engine: true, env: { CONNECTOR_PLUGINS: `${fixture('throwing.cjs')},${fixture('hanging.cjs')}` } });
    api = await startRecordingApi({ orders: orders(3) });
  });
  afterAll(async () => {
    await api?.close();
    await s?.close();
  });

  /** Exports `records` records and imports each one through the throwing plugin, which throws `throws[id]` for some. */
  async function runThrowing(records: number, throws: Record<string, string>): Promise<{ conn: string; job: Awaited<ReturnType<typeof waitForJob>> }> {
    const conn = await createConnection(s, 'throwing', { records }, 2);
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: {} },
      { kind: 'IMPORT', connectionId: conn, config: { throws } },
    ]);
    // Five attempts with backoff (250 ms doubling) take about 4 s; a stuck message would take a lease (30 s) to come back.
    return { conn, job: await waitForJob(s, await runFlow(s, flow.id), 25000) };
  }

  it('retries a string, undefined or a bug thrown by a plugin, then keeps a PLUGIN_ERROR, and counts each', async () => {
    const { conn, job } = await runThrowing(6, { 1: 'string', 2: 'undefined', 4: 'type-error' });
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 6, recordsSucceeded: 3, recordsFailed: 3 });
    const errors = job.errors.map((e) => ({ id: (e.record as { id: number }).id, code: e.code, message: e.message })).sort((a, b) => a.id - b.id);
    expect(errors).toEqual([
      { id: 1, code: 'PLUGIN_ERROR', message: 'the plugin said no (gave up after 5 attempts)' },
      { id: 2, code: 'PLUGIN_ERROR', message: 'undefined (gave up after 5 attempts)' },
      { id: 4, code: 'PLUGIN_ERROR', message: expect.stringMatching(/^Cannot read properties of null .*\(gave up after 5 attempts\)$/) },
    ]);
    // Each failing record: 4 retries, then failed; the page and the other records succeeded.
    expect(await metric(s, 'sluice_messages_retried_total', conn, 'reason="error"')).toBe(12);
    expect(await metric(s, 'sluice_messages_failed_total', conn)).toBe(3);
    expect(await metric(s, 'sluice_messages_succeeded_total', conn)).toBe(4);
    expect(await metric(s, 'sluice_messages_started_total', conn)).toBe(1 + 3 * 5 + 3);
    expect(await metric(s, 'sluice_messages_in_flight', conn)).toBe(0);
  }, 40000);

  it('aborts the signal of a call that outlives its deadline, saying why, and retries the record', async () => {
    // Deadline: the connection's timeoutMs (100 ms) plus the engine's grace (5 s).
    const conn = await createConnection(s, 'hanging', { baseUrl: api.url, timeoutMs: 100 }, 1);
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: {} },
      { kind: 'IMPORT', connectionId: conn, config: { hangOnceFor: [2] } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id), 40000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 3, recordsSucceeded: 3, recordsFailed: 0, errors: [] });
    const told = api.requests.filter((r) => r.path === '/aborted').map((r) => JSON.parse(r.body) as unknown);
    expect(told).toEqual([{ id: 2, reason: 'timeout' }]);
    expect((api.imported as { id: number }[]).map((r) => r.id).sort()).toEqual([1, 2, 3]);
    expect(await metric(s, 'sluice_messages_retried_total', conn, 'reason="error"')).toBe(1);
    expect(await metric(s, 'sluice_messages_in_flight', conn)).toBe(0);
  }, 60000);

  it.each([
    ['an object with no prototype (String() of it throws)', 'null-prototype'],
    ['an Error whose message getter throws', 'unreadable-error'],
  ])('treats %s like any other unexpected throw', async (_what, kind) => {
    const { conn, job } = await runThrowing(3, { 2: kind });
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 3, recordsSucceeded: 2, recordsFailed: 1 });
    expect(job.errors).toEqual([expect.objectContaining({ code: 'PLUGIN_ERROR', record: { id: 2 } })]);
    expect(await metric(s, 'sluice_messages_retried_total', conn, 'reason="error"')).toBe(4);
    expect(await metric(s, 'sluice_messages_failed_total', conn)).toBe(1);
    expect(await metric(s, 'sluice_messages_in_flight', conn)).toBe(0);
  }, 40000);
});

describe('plugin isolation (a worker process)', () => {
  let s: TestSluice;

  beforeAll(async () => {
    // The API here (it validates the plugin's configs); the engine in a worker started as an operator would.
    s = await startTestSluice({ engine: false, env: { CONNECTOR_PLUGINS: fixture('throwing.cjs') } });
  });
  afterAll(async () => {
    await stopSluiceProcesses();
    await s?.close();
  });

  it('keeps running when a plugin throws something that cannot even be turned into a string', async () => {
    const worker = await startSluiceProcess(s, { CONNECTOR_PLUGINS: fixture('throwing.cjs') });
    const conn = await createConnection(s, 'throwing', { records: 3 }, 1);
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: {} },
      { kind: 'IMPORT', connectionId: conn, config: { throws: { 2: 'null-prototype' } } },
    ]);
    const jobId = await runFlow(s, flow.id);
    const ended = await Promise.race([
      waitForJob(s, jobId, 25000).then((job) => ({ job })),
      worker.exited.then((exit) => ({ exit, log: worker.lines.slice(-15).join('\n') })),
    ]);
    expect(ended).toEqual({ job: expect.objectContaining({ status: 'COMPLETED', recordsSucceeded: 2, recordsFailed: 1 }) });
    expect(await worker.metric('sluice_messages_failed_total')).toBe(1);
  }, 40000);
});
