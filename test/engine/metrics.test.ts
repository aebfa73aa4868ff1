/**
 * The engine's Prometheus metrics, per queue owner: waiting, in flight, and
 * the started and succeeded totals, read from /metrics while a queue works.
 */
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startTestSluice, type TestSluice } from '../support/sluice';

function metric(text: string, name: string, owner: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`queue_owner="${owner}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('engine metrics', () => {
  let s: TestSluice;
  let api: RecordingApi;

  beforeAll(async () => {
    s = await startTestSluice({ engine: true });
    api = await startRecordingApi({ orders: orders(20), latencyMs: 100 });
  });
  afterAll(async () => {
    await api?.close();
    await s?.close();
  });

  it('shows a busy queue waiting and in flight, then its totals', async () => {
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data', paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 100 } } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const jobId = await runFlow(s, flow.id);
    let busy = '';
    await waitUntil(async () => {
      busy = await (await fetch(`${s.url}/metrics`)).text();
      return (metric(busy, 'sluice_messages_queued', conn) ?? 0) > 0 && (metric(busy, 'sluice_messages_in_flight', conn) ?? 0) > 0;
    }, 10000, 'a busy queue in /metrics');
    expect(metric(busy, 'sluice_messages_in_flight', conn)).toBeLessThanOrEqual(2);
    expect(metric(busy, 'sluice_messages_queued', conn)).toBeLessThanOrEqual(20);

    expect(await waitForJob(s, jobId, 30000)).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 20 });
    const done = await (await fetch(`${s.url}/metrics`)).text();
    expect(metric(done, 'sluice_messages_started_total', conn)).toBe(21); // 1 page + 20 imports
    expect(metric(done, 'sluice_messages_succeeded_total', conn)).toBe(21);
    expect(metric(done, 'sluice_messages_queued', conn)).toBeUndefined(); // nothing waits any more
  }, 40000);
});
