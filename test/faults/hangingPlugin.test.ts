/**
 * A plugin whose call hangs and ignores its AbortSignal (the call's promise
 * never settles) cannot hold a slot or stop its queue: the engine gives up on
 * the call at its deadline (the connection's timeoutMs plus a 5 s grace),
 * counts it as a transient TIMEOUT, retries it, and once the attempts are
 * used up keeps the record as a JobError; the records behind it run, at a
 * level of 1, and the queue goes on working afterwards. The plugin is
 * test/fixtures/plugins/hanging.cjs, a connector of the recording API. The
 * test ends on the fault suite's invariants (./invariants.ts).
 */
import path from 'node:path';
import { createFlow, runFlow, waitForJob } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startTestSluice, type TestSluice } from '../support/sluice';
import { expectFaultInvariants } from './invariants';

const HANGING = path.join(__dirname, '..', 'fixtures', 'plugins', 'hanging.cjs');

/** A gauge or counter from /metrics for one queue owner; 0 when absent. */
async function metric(s: TestSluice, name: string, owner: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`queue_owner="${owner}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('a plugin that hangs', () => {
  let s: TestSluice;
  let api: RecordingApi;

  beforeAll(async () => {
    s = await startTestSluice({ engine: true, env: { CONNECTOR_PLUGINS: HANGING } });
    api = await startRecordingApi({ orders: orders(6) });
  });
  afterAll(async () => {
    await api?.close();
    await s?.close();
  });

  it('is given up on at its deadline, retried as transient, kept as a TIMEOUT JobError, and the queue goes on', async () => {
    const data = await s.ok<{ createConnection: { id: string } }>(
      `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
      // Deadline: 100 ms + the engine's 5 s grace. Level 1: a leaked slot would stop the queue.
      { input: { name: 'hanging', connectorType: 'hanging', config: { baseUrl: api.url, timeoutMs: 100 }, concurrencyLevel: 1, autoRecoverRateLimitErrors: false } },
    );
    const conn = data.createConnection.id;
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: {} },
      { kind: 'IMPORT', connectionId: conn, config: { hangFor: [3] } },
    ]);
    // Five attempts of about 5 s each, with backoff between them.
    const job = await waitForJob(s, await runFlow(s, flow.id), 90000);

    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 6, recordsSucceeded: 5, recordsFailed: 1 });
    expect(job.errors).toEqual([
      expect.objectContaining({
        code: 'TIMEOUT',
        message: 'the connector did not answer within 5100 ms (gave up after 5 attempts)',
        record: { id: 3, customerId: 'c3', total: 30 },
      }),
    ]);
    // Every attempt for record 3 hung (the plugin said so before hanging), and each was given up on.
    const hung = api.requests.filter((r) => r.path === '/hanging').map((r) => JSON.parse(r.body) as unknown);
    expect(hung).toEqual([1, 2, 3, 4, 5].map((call) => ({ id: 3, call })));

    // Every other record imported once, with one key each; never more than one call at the application at once.
    const { importedTwice, failed } = expectFaultInvariants({ api, job, recordIds: [1, 2, 3, 4, 5, 6], level: 1 });
    expect(failed).toEqual([3]);
    expect(importedTwice).toEqual([]);
    // No slot is held by the calls still hanging in the plugin, and nothing waits.
    expect(await metric(s, 'sluice_messages_in_flight', conn)).toBe(0);
    expect(await metric(s, 'sluice_messages_queued', conn)).toBe(0);

    // The queue goes on: the next job through the same connection runs to its end.
    const next = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: {} },
      { kind: 'IMPORT', connectionId: conn, config: {} },
    ]);
    const imported = api.imported.length;
    expect(await waitForJob(s, await runFlow(s, next.id), 30000)).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 6, recordsFailed: 0 });
    expect(api.imported.length - imported).toBe(6);
  }, 150000);
});
