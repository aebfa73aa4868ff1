/**
 * Applications that go away: a connection whose application stops answering
 * (503, then connections reset) goes OFFLINE, holds its records in place,
 * is probed with a backoff and resumes by itself; no record fails because
 * the application was away. A 401 takes the connection OFFLINE until its
 * credentials are fixed. One record that always fails while its neighbours
 * succeed fails alone, and the connection stays ONLINE.
 */
import { useTestSluice, type TestSluice } from '../support/sluice';
import { stateOf } from './stateApi';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil, ORDERS_PAGING } from '../support/flows';
import { json, orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { openSocket, record } from '../support/liveClient';

/** A flow exporting `records` orders from `source` and importing each into `destination` through its own connection. */
async function exportImport(s: TestSluice, source: RecordingApi, destination: RecordingApi, records: number, importOptions: Parameters<typeof createHttpConnection>[2]) {
  source.options.orders = orders(records);
  const from = await createHttpConnection(s, source.url, { name: 'web store', concurrencyLevel: 1 });
  const to = await createHttpConnection(s, destination.url, { name: 'erp', ...importOptions });
  const flow = await createFlow(s, [
    { kind: 'EXPORT', connectionId: from, config: { path: '/orders', recordsPath: 'data', paging: ORDERS_PAGING } },
    { kind: 'IMPORT', connectionId: to, config: { path: '/import' } },
  ]);
  return { from, to, flowId: flow.id };
}

describe('connection state: applications that go away', () => {
  const logLines: string[] = [];
  // A short cap on the probe's backoff, so that the return is seen within seconds.
  const s = useTestSluice({ engine: true, env: { PROBE_MAX_BACKOFF_MS: '3000' }, logLines });
  let source: RecordingApi;
  let destination: RecordingApi;
  beforeEach(async () => {
    source = await startRecordingApi();
    destination = await startRecordingApi({ latencyMs: 5 });
  });
  afterEach(async () => {
    await source.close();
    await destination.close();
  });

  it('holds every record through a 25 s outage (503, then connections reset) and completes with none failed, probing a few times a second at most', async () => {
    const { to, flowId } = await exportImport(s, source, destination, 200, { concurrencyLevel: 4, autoRecoverRateLimitErrors: false });
    let down: 'no' | '503' | 'reset' = 'no';
    let downAt = 0;
    let upAt = 0;
    const whileDown: number[] = [];
    destination.options.fault = () => (down === 'reset' ? (whileDown.push(Date.now()), 'drop') : undefined);
    destination.options.override = (_req, res) => {
      if (down !== '503') return false;
      whileDown.push(Date.now());
      json(res, 503, { error: 'maintenance' });
      return true;
    };
    const jobId = await runFlow(s, flowId);
    await waitUntil(() => destination.imported.length >= 40, 20000, '40 records imported');
    down = '503';
    downAt = Date.now();
    await waitUntil(async () => (await stateOf(s, to)).state === 'OFFLINE', 10000, 'the connection OFFLINE');
    const offline = await stateOf(s, to);
    expect(offline.stateReason).toMatch(/HTTP_503/);
    expect(offline.nextProbeAt).not.toBeNull();
    await new Promise((r) => setTimeout(r, 12500 - (Date.now() - downAt)));
    down = 'reset';
    await new Promise((r) => setTimeout(r, 25000 - (Date.now() - downAt)));
    down = 'no';
    upAt = Date.now();
    const job = await waitForJob(s, jobId, 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 200, recordsSucceeded: 200, recordsFailed: 0, errors: [] });
    expect(new Set((destination.imported as { id: number }[]).map((r) => r.id)).size).toBe(200);
    expect((await stateOf(s, to)).state).toBe('ONLINE');
    // Down for 25 s: the calls in flight when it went (level 4) and the
    // detector's few, then probes with a backoff from 1 s: a few per second at most.
    const afterDetection = whileDown.filter((t) => t > downAt + 3000 && t < upAt);
    expect(afterDetection.length / 22).toBeLessThan(3);
    expect(whileDown.length).toBeLessThan(60);
    const lines = logLines.map((l) => JSON.parse(l) as { msg: string; connectionName?: string });
    expect(lines.some((l) => /connection erp is OFFLINE/.test(l.msg) && l.connectionName === 'erp')).toBe(true);
    expect(lines.some((l) => /connection erp is ONLINE again/.test(l.msg))).toBe(true);
  }, 90000);

  it('fails a poison record alone after its attempts while its neighbours succeed, and the connection stays ONLINE', async () => {
    const { to, flowId } = await exportImport(s, source, destination, 30, { concurrencyLevel: 4, autoRecoverRateLimitErrors: false });
    destination.options.override = (req, res) => {
      if (!req.path.startsWith('/import') || (JSON.parse(req.body) as { id: number }).id !== 7) return false;
      json(res, 500, { error: 'cannot book this order' });
      return true;
    };
    const job = await waitForJob(s, await runFlow(s, flowId), 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 30, recordsSucceeded: 29, recordsFailed: 1 });
    expect(job.errors).toHaveLength(1);
    expect(destination.arrivals.filter((p) => p.startsWith('/import')).length).toBe(29 + 5);
    expect((await stateOf(s, to)).state).toBe('ONLINE');
  }, 60000);

  it('takes a connection whose credentials are refused (401) OFFLINE, holds its records, and resumes when updateConnection gives new credentials', async () => {
    const { to, flowId } = await exportImport(s, source, destination, 20, {
      concurrencyLevel: 2,
      autoRecoverRateLimitErrors: false,
      credentials: { type: 'bearer', token: 'expired-token-1234' },
    });
    destination.options.override = (req, res) => {
      if (req.headers.authorization === 'Bearer fresh-token-5678') return false;
      json(res, 401, { error: 'token expired' });
      return true;
    };
    const jobId = await runFlow(s, flowId);
    await waitUntil(async () => (await stateOf(s, to)).state === 'OFFLINE', 10000, 'the connection OFFLINE');
    const offline = await stateOf(s, to);
    expect(offline.stateReason).toMatch(/HTTP_401/);
    expect(offline.stateReason).not.toMatch(/expired-token-1234/);
    // Held: a few probes go out, no record fails.
    await new Promise((r) => setTimeout(r, 2000));
    expect(destination.imported).toHaveLength(0);
    await s.ok(`mutation($id: ID!, $input: UpdateConnectionInput!) { updateConnection(id: $id, input: $input) { id } }`, {
      id: to,
      input: { credentials: { type: 'bearer', token: 'fresh-token-5678' } },
    });
    const job = await waitForJob(s, jobId, 20000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 20, recordsFailed: 0, errors: [] });
    expect((await stateOf(s, to)).state).toBe('ONLINE');
  }, 60000);

  it('keeps a job whose source is away RUNNING, and completes it once the source is back', async () => {
    const { from, flowId } = await exportImport(s, source, destination, 150, { concurrencyLevel: 4, autoRecoverRateLimitErrors: false });
    let down = true;
    source.options.fault = () => (down ? 'drop' : undefined);
    const jobId = await runFlow(s, flowId);
    await waitUntil(async () => (await stateOf(s, from)).state === 'OFFLINE', 15000, 'the source OFFLINE');
    const held = await s.ok<{ job: { status: string } }>(`query($id: ID!) { job(id: $id) { status } }`, { id: jobId });
    expect(held.job.status).toBe('RUNNING');
    down = false;
    const job = await waitForJob(s, jobId, 20000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 150, recordsSucceeded: 150, recordsFailed: 0, errors: [] });
  }, 60000);

  it('ramps the level back from 1 under auto-recovery once the application answers again, instead of sending the full level at once', async () => {
    const { to, flowId } = await exportImport(s, source, destination, 120, { concurrencyLevel: 8, autoRecoverRateLimitErrors: true });
    let down = false;
    destination.options.override = (req, res) => {
      if (!down || !req.path.startsWith('/import')) return false;
      json(res, 503, { error: 'maintenance' });
      return true;
    };
    const from = logLines.length;
    const jobId = await runFlow(s, flowId);
    await waitUntil(() => destination.imported.length >= 20, 20000, '20 records imported');
    down = true;
    await waitUntil(async () => (await stateOf(s, to)).state === 'OFFLINE', 10000, 'the connection OFFLINE');
    down = false;
    const job = await waitForJob(s, jobId, 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 120, recordsFailed: 0, errors: [] });
    const changes = logLines.slice(from).map((l) => JSON.parse(l) as { msg: string; connectionId?: string; from?: number; to?: number; reason?: string })
      .filter((l) => l.connectionId === to && l.reason !== undefined && l.msg.startsWith('level in use'));
    expect(changes[0]).toMatchObject({ from: 8, to: 1, reason: 'back-online' });
    expect(changes.at(-1)).toMatchObject({ to: 8, reason: 'recovering' });
  }, 60000);

  it('streams OFFLINE, with its reason and next probe on the connection, then ONLINE in queueSize events and the metrics', async () => {
    const { to, flowId } = await exportImport(s, source, destination, 40, { concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const { client } = openSocket(s.url, s.adminSecret);
    try {
      const live = record<{ connectionId: string; state: string; queueSize: number }>(
        client,
        `subscription($ids: [ID!]) { queueSize(connectionIds: $ids) { connectionId state queueSize } }`,
        { ids: [to] },
        'queueSize',
      );
      const states = (): string[] => live.events.map((e) => e.value.state).filter((v, i, all) => i === 0 || all[i - 1] !== v);
      await live.waitUntil(() => live.events.length > 0, 5000, 'the first event');
      let down = true;
      destination.options.override = (_req, res) => (down ? (json(res, 503, { error: 'maintenance' }), true) : false);
      const jobId = await runFlow(s, flowId);
      await live.waitUntil(() => states().includes('OFFLINE'), 15000, 'an OFFLINE event');
      const read = await s.ok<{ connection: { state: string; stateReason: string; nextProbeAt: string | null; stateChangedAt: string } }>(
        `query($id: ID!) { connection(id: $id) { state stateReason nextProbeAt stateChangedAt } }`,
        { id: to },
      );
      expect(read.connection.state).toBe('OFFLINE');
      expect(read.connection.stateReason).toMatch(/HTTP_503/);
      expect(read.connection.nextProbeAt).not.toBeNull();
      down = false;
      await live.waitUntil(() => states().at(-1) === 'ONLINE' && states().length >= 3, 15000, 'an ONLINE event');
      expect(states()).toEqual(['ONLINE', 'OFFLINE', 'ONLINE']);
      expect((await waitForJob(s, jobId, 20000)).status).toBe('COMPLETED');
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toContain(`sluice_connection_state_changes_total{connection="${to}",to="OFFLINE",reason="unavailable"} 1`);
      expect(metrics).toContain(`sluice_connection_state_changes_total{connection="${to}",to="ONLINE",reason="probe-answered"} 1`);
      live.unsubscribe();
    } finally {
      await client.dispose();
    }
  }, 60000);

  it('probes past a head record the application cannot take once it is back: the others resume, and that record fails alone', async () => {
    const { to, flowId } = await exportImport(s, source, destination, 10, { concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    let down = true;
    destination.options.override = (req, res) => {
      const id = req.path.startsWith('/import') ? (JSON.parse(req.body) as { id: number }).id : null;
      if (!down && id !== 1) return false;
      json(res, 503, { error: id === 1 && !down ? 'this order cannot be booked now' : 'maintenance' });
      return true;
    };
    const jobId = await runFlow(s, flowId);
    await waitUntil(async () => (await stateOf(s, to)).state === 'OFFLINE', 15000, 'the connection OFFLINE');
    down = false;
    const job = await waitForJob(s, jobId, 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 10, recordsSucceeded: 9, recordsFailed: 1 });
    expect(job.errors).toEqual([expect.objectContaining({ code: 'HTTP_503', record: expect.objectContaining({ id: 1 }) })]);
    expect((await stateOf(s, to)).state).toBe('ONLINE');
  }, 60000);

  it('starts the held messages in FIFO order once a short outage is over (level 1)', async () => {
    const { to, flowId } = await exportImport(s, source, destination, 15, { concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    let down = false;
    destination.options.override = (req, res) => (down && req.path.startsWith('/import') ? (json(res, 503, { error: 'maintenance' }), true) : false);
    const jobId = await runFlow(s, flowId);
    await waitUntil(() => destination.imported.length >= 5, 10000, '5 records imported');
    down = true;
    await waitUntil(async () => (await stateOf(s, to)).state === 'OFFLINE', 15000, 'the connection OFFLINE');
    down = false;
    const job = await waitForJob(s, jobId, 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 15, recordsFailed: 0, errors: [] });
    expect((destination.imported as { id: number }[]).map((r) => r.id)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  }, 60000);
});
