/**
 * Canceling a job (cancelJob, or replaceConnection, which cancels the flow's
 * jobs) while it runs: its queued messages are dropped, its running calls are
 * aborted, nothing of it reaches the endpoint afterwards, and other jobs in
 * the same queue carry on.
 */
import type { ServerResponse } from 'node:http';
import { Client } from 'pg';
import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, getJob, messagesOf, runFlow, waitForJob, waitUntil } from '../support/flows';
import { holdUnlessAborted, json, orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';

const PAGING = { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 10 };
/** Longer than any test here: a held call ends only by being aborted. */
const HOLD_MS = 60000;

describe('job cancellation', () => {
  const s = useTestSluice({ engine: true });
  let api: RecordingApi;
  beforeEach(async () => {
    api = await startRecordingApi({ orders: orders(25) });
  });
  afterEach(async () => {
    await api.close();
  });

  /** Holds the request until its client aborts it; true: handled. */
  async function hold(res: ServerResponse): Promise<true> {
    if (await holdUnlessAborted(res, HOLD_MS)) json(res, 201, { ok: true });
    return true;
  }
  const count = (path: string): number => api.arrivals.filter((p) => p === path).length;

  it('drops the queued messages, aborts the running calls and lets another job on the connection complete', async () => {
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const flowA = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', query: { flow: 'a' }, recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import/a' } },
    ]);
    const flowB = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', query: { flow: 'b' }, recordsPath: 'data', paging: PAGING } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import/b' } },
    ]);
    // B's last page is answered only once A's imports run, so B's last five
    // records join the queue behind A's imports: B is running, and stuck
    // behind A, when A is canceled.
    api.options.override = async (req, res) => {
      if (req.path === '/import/a') return hold(res);
      if (req.path.startsWith('/orders?flow=b&page=3')) await waitUntil(() => count('/import/a') > 0, 10000, 'A’s first import');
      return false;
    };
    const jobB = await runFlow(s, flowB.id);
    // Page 1 answered: A's page goes behind B's page 2 and first ten records.
    await waitUntil(() => count('/import/b') > 0, 10000, 'B’s first import');
    const jobA = await runFlow(s, flowA.id);
    await waitUntil(() => count('/import/a') === 2, 10000, 'A holding both slots');
    await waitUntil(async () => (await messagesOf(s, jobB)) === 5, 10000, 'B’s last five records to queue up behind A');
    expect((await getJob(s, jobB)).status).toBe('RUNNING');
    expect(await messagesOf(s, jobA)).toBe(25);

    const canceled = await s.ok<{ cancelJob: { status: string } }>(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: jobA });
    expect(canceled.cancelJob.status).toBe('CANCELED');

    // The two held calls are aborted (the endpoint sees their clients go away)
    // and nothing of A is left in the queue.
    await waitUntil(() => api.aborted.filter((p) => p === '/import/a').length === 2, 10000, 'the running calls to be aborted');
    await waitUntil(async () => (await messagesOf(s, jobA)) === 0, 10000, 'A’s messages to be gone');

    const b = await waitForJob(s, jobB);
    expect(b).toMatchObject({ status: 'COMPLETED', recordsExported: 25, recordsSucceeded: 25, recordsFailed: 0 });
    const a = await getJob(s, jobA);
    expect(a).toMatchObject({ status: 'CANCELED', recordsSucceeded: 0, recordsFailed: 0, errors: [] });
    // All of B ran after the cancel; not one more request of A reached the endpoint.
    expect(count('/import/a')).toBe(2);
    expect(count('/import/b')).toBe(25);
  });

  it('drops a message whose call ended just before the cancel committed, instead of putting it back for a retry', async () => {
    // The call answers 503 only when the test says so: by then the cancel is
    // waiting for the job row, ahead of the engine's outcome.
    let answer503: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (answer503 = resolve));
    api.options.override = async (req, res) => {
      if (req.path !== '/import/a') return false;
      await released;
      json(res, 503, { error: 'busy' });
      return true;
    };
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    // One record: once its call has ended, the job has nothing else to start,
    // so any later call of it is a retry of that message.
    api.options.orders = orders(1);
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import/a' } },
    ]);
    const jobId = await runFlow(s, flow.id);
    await waitUntil(() => count('/import/a') === 1, 10000, 'the first import');

    const locker = new Client({ connectionString: s.databaseUrl });
    await locker.connect();
    const waitingForLocks = async (n: number): Promise<boolean> => {
      const { rows } = await locker.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return (rows[0]?.n ?? 0) >= n;
    };
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM job WHERE id = $1 FOR UPDATE', [jobId]);
      const cancel = s.gql(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: jobId });
      await waitUntil(() => waitingForLocks(1), 10000, 'the cancel to wait for the job row');
      answer503();
      await waitUntil(() => waitingForLocks(2), 10000, 'the 503’s outcome to wait for the job row');
      await locker.query('COMMIT');
      expect((await cancel).data).toEqual({ cancelJob: { status: 'CANCELED' } });
    } finally {
      await locker.end();
    }

    await waitUntil(async () => (await messagesOf(s, jobId)) === 0, 10000, 'the job’s messages to be gone');
    expect(count('/import/a')).toBe(1);
    expect((await getJob(s, jobId)).status).toBe('CANCELED');
  });

  it('stops a job’s traffic to the old endpoint when replaceConnection cancels it mid-run', async () => {
    const newImports: unknown[] = [];
    api.options.override = (req, res) => {
      const url = new URL(req.path, 'http://x');
      if (url.pathname === '/old/orders' || url.pathname === '/new/orders') return (json(res, 200, { data: orders(25) }), true);
      if (url.pathname === '/old/import') return hold(res);
      if (url.pathname === '/new/import') return (newImports.push(JSON.parse(req.body)), json(res, 201, { ok: true }), true);
      return false;
    };
    const old = await createHttpConnection(s, `${api.url}/old`, { name: 'old', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const next = await createHttpConnection(s, `${api.url}/new`, { name: 'new', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: old, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: old, config: { path: '/import' } },
    ]);
    const first = await runFlow(s, flow.id);
    await waitUntil(() => count('/old/import') === 2, 10000, 'two imports held at the old endpoint');

    const replaced = await s.ok<{ replaceConnection: { canceledJobs: { id: string; status: string }[]; replacedSteps: { id: string }[] } }>(
      `mutation($flowId: ID!, $from: ID!, $to: ID!) {
         replaceConnection(flowId: $flowId, connectionId: $from, newConnectionId: $to) { canceledJobs { id status } replacedSteps { id } }
       }`,
      { flowId: flow.id, from: old, to: next },
    );
    expect(replaced.replaceConnection.canceledJobs).toEqual([{ id: first, status: 'CANCELED' }]);
    expect(replaced.replaceConnection.replacedSteps).toHaveLength(2);

    await waitUntil(() => api.aborted.filter((p) => p === '/old/import').length === 2, 10000, 'the held calls to be aborted');
    await waitUntil(async () => (await messagesOf(s, first)) === 0, 10000, 'the canceled job’s messages to be gone');
    expect((await getJob(s, first)).status).toBe('CANCELED');

    // A new run goes to the new endpoint only; the old one hears nothing more.
    const second = await waitForJob(s, await runFlow(s, flow.id));
    expect(second).toMatchObject({ status: 'COMPLETED', recordsExported: 25, recordsSucceeded: 25 });
    expect(newImports).toHaveLength(25);
    expect(count('/old/import')).toBe(2);
    expect(count('/old/orders')).toBe(1);
  });

  it('starts no call of a job it heard canceled, even when the claim comes after the cancel reached this process', async () => {
    // The race this covers: a claim commits, then the cancel's NOTIFY arrives
    // before the dispatcher has started what it claimed. It is staged here by
    // holding the queue with a pause, saying "canceled" on the channel (as
    // cancelJob's commit does), then letting the queue go.
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const db = new Client({ connectionString: s.databaseUrl });
    await db.connect();
    try {
      await db.query(`UPDATE connection SET paused_until = now() + interval '1 hour' WHERE id = $1`, [conn]);
      const flow = await createFlow(s, [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
        { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
      ]);
      const jobId = await runFlow(s, flow.id);
      await db.query(`SELECT pg_notify('sluice_cancel', $1)`, [jobId]);
      // A control job in the same queue, not canceled, shows the queue did move.
      const control = await runFlow(s, flow.id);
      await new Promise((r) => setTimeout(r, 300)); // the NOTIFY reaches the engine
      await db.query(`UPDATE connection SET paused_until = NULL WHERE id = $1`, [conn]);
      await db.query(`SELECT pg_notify('sluice_queue', $1)`, [conn]);
      expect(await waitForJob(s, control)).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 25 });
      await waitUntil(async () => (await messagesOf(s, jobId)) === 0, 10000, 'the canceled job’s message to be dropped');
      // One export page for the control job, none for the canceled one.
      expect(api.requests.filter((r) => r.path.startsWith('/orders'))).toHaveLength(1);
    } finally {
      await db.end();
    }
  });
});
