/**
 * Burst mode (level null, auto-recovery off) starts every waiting message at
 * once: the only bound is what the engine can dispatch.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { NewMessage } from '../../src/engine/message';
import { enqueueMessages } from '../../src/engine/sql/enqueueMessages';
import { useDatabase } from '../support/database';
import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';

describe('burst mode', () => {
  const s = useTestSluice({ engine: true });
  let api: RecordingApi;
  afterAll(async () => {
    await api.close();
  });

  it('runs 100 slow imports all at once', async () => {
    // Every import is held until all 100 are in flight (or 15 s pass, and
    // then the peak below tells how many ever were): a busy machine cannot
    // make a slow start look like a cap, nor a cap pass for a slow start.
    let arrived = 0;
    let allIn: () => void = () => undefined;
    const barrier = new Promise<void>((resolve) => (allIn = resolve));
    api = await startRecordingApi({
      orders: orders(100),
      override: async (req) => {
        if (!req.path.startsWith('/import')) return false;
        if (++arrived === 100) allIn();
        await Promise.race([barrier, new Promise((r) => setTimeout(r, 15000).unref())]);
        return false;
      },
    });
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: null, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id), 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 100, recordsSucceeded: 100, recordsFailed: 0 });
    expect(api.peakInFlight((p) => p.startsWith('/import'))).toBe(100);
    expect(new Set((api.imported as { id: number }[]).map((r) => r.id)).size).toBe(100);
  }, 45000);
});

describe('burst mode, a process bounded to one call per queue (MAX_CALLS_PER_QUEUE=1)', () => {
  const s = useTestSluice({ engine: true, env: { MAX_CALLS_PER_QUEUE: '1' } });
  const db = useDatabase(s);
  let api: RecordingApi;
  let blocker: Client | undefined;
  afterAll(async () => {
    await blocker?.end();
    await api.close();
  });

  it('starts the next call when one ends, before its outcome commits, and holds at most twice the bound uncommitted', async () => {
    api = await startRecordingApi({ orders: orders(0) });
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: null, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const jobId = randomUUID();
    await db.query(`INSERT INTO job (id, flow_id, status, started_at) VALUES ($1, $2, 'RUNNING', now())`, [jobId, flow.id]);
    // Outcomes commit under their job's row lock (FOR UPDATE): while another
    // transaction holds it, no outcome of this job can commit. NO KEY UPDATE
    // lets the messages' foreign keys through.
    blocker = new Client({ connectionString: s.databaseUrl });
    await blocker.connect();
    await blocker.query('BEGIN');
    const imports = (): number => api.arrivals.filter((p) => p.startsWith('/import')).length;
    try {
      await blocker.query(`SELECT id FROM job WHERE id = $1 FOR NO KEY UPDATE`, [jobId]);
      const message = (id: number): NewMessage => ({ connectionId: conn, jobId, stepId: flow.stepIds[1]!, payload: { kind: 'records', records: [{ id }] } });
      await enqueueMessages(db, [message(1), message(2), message(3)]);
      // The first call's outcome cannot commit, yet the second call starts.
      await waitUntil(() => imports() >= 2, 10000, 'a second import while the first outcome waits for its commit');
      // Two outcomes wait for their commit: twice the bound, so the third waits for them.
      await new Promise((r) => setTimeout(r, 500));
      expect(imports()).toBe(2);
    } finally {
      await blocker.query('ROLLBACK');
    }
    const job = await waitForJob(s, jobId);
    expect(job.status).toBe('COMPLETED');
    expect(imports()).toBe(3);
    expect(api.peakInFlight((p) => p.startsWith('/import'))).toBe(1);
  }, 30000);
});
