/**
 * queueSize and inFlight come from queue_tally, which triggers on
 * queue_message keep (migrations/1763920000000-QueueTally.ts). The tally must
 * equal a count of the messages themselves in every snapshot: while a flow
 * runs, retries, borrows and is canceled, and while the tally is folded.
 */
import { useDatabase } from '../support/database';
import { useTestSluice } from '../support/sluice';
import { createExportImportFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { json, orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';

/** The tally and a count of the messages, per owner, in one statement (one snapshot). */
const COMPARE = `
  WITH counted AS (
         SELECT queue_owner_id, count(*) FILTER (WHERE state = 'queued') AS queued, count(*) FILTER (WHERE state = 'running') AS running
           FROM queue_message GROUP BY queue_owner_id),
       tallied AS (
         SELECT queue_owner_id, sum(queued) AS queued, sum(running) AS running FROM queue_tally GROUP BY queue_owner_id)
  SELECT coalesce(c.queue_owner_id, t.queue_owner_id) AS owner,
         coalesce(c.queued, 0)::int AS counted_queued, coalesce(t.queued, 0)::int AS tallied_queued,
         coalesce(c.running, 0)::int AS counted_running, coalesce(t.running, 0)::int AS tallied_running
    FROM counted c FULL JOIN tallied t ON t.queue_owner_id = c.queue_owner_id`;

interface Comparison {
  owner: string;
  counted_queued: number;
  tallied_queued: number;
  counted_running: number;
  tallied_running: number;
}

describe('queue tally', () => {
  const s = useTestSluice({ engine: true });
  const db = useDatabase(s);
  let api: RecordingApi;
  afterAll(async () => {
    await api?.close();
  });

  async function compare(): Promise<Comparison[]> {
    return (await db.query<Comparison>(COMPARE)).rows;
  }

  it('equals a count of the messages at every moment of a run with retries and a cancel, while it is folded', async () => {
    // Every fifth import fails once (a retry goes back to the queue), calls take a while.
    let calls = 0;
    api = await startRecordingApi({
      orders: orders(60),
      latencyMs: 15,
      override: (req, res) => {
        if (!req.path.startsWith('/import') || ++calls % 5 !== 0) return false;
        json(res, 503, { error: 'busy' });
        return true;
      },
    });
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 4, autoRecoverRateLimitErrors: false });
    const flow = await createExportImportFlow(s, conn);
    const other = await createHttpConnection(s, api.url, { name: 'slow', concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    const slowFlow = await createExportImportFlow(s, other);

    const jobId = await runFlow(s, flow);
    const slowJob = await runFlow(s, slowFlow);
    let snapshots = 0;
    let sawWork = false;
    const watch = async (until: () => boolean): Promise<void> => {
      while (!until()) {
        const rows = await compare();
        for (const r of rows) {
          expect({ owner: r.owner, queued: r.tallied_queued, running: r.tallied_running }).toEqual({
            owner: r.owner,
            queued: r.counted_queued,
            running: r.counted_running,
          });
          if (r.counted_running > 0) sawWork = true;
        }
        snapshots++;
        // Fold from here too, racing the server's own folding.
        if (snapshots % 3 === 0) await db.query(`SELECT sluice_roll_up_queue_tally()`);
      }
    };
    let done = false;
    const watching = watch(() => done);
    await waitUntil(() => api.requests.filter((r) => r.path === '/import').length >= 10, 15000, 'imports under way');
    await s.ok(`mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: slowJob });
    const job = await waitForJob(s, jobId, 30000);
    done = true;
    await watching;
    expect(job.status).toBe('COMPLETED');
    expect(sawWork).toBe(true);
    expect(snapshots).toBeGreaterThan(5);

    // Nothing left: the API says 0, and after a fold the tally holds no row for these queues.
    await waitUntil(async () => (await compare()).every((r) => r.counted_queued === 0 && r.counted_running === 0), 10000, 'queues drained');
    const view = await s.ok<{ connections: { id: string; queueSize: number; inFlight: number }[] }>(`{ connections { id queueSize inFlight } }`);
    for (const c of view.connections.filter((c) => c.id === conn || c.id === other)) expect(c).toMatchObject({ queueSize: 0, inFlight: 0 });
    await db.query(`SELECT sluice_roll_up_queue_tally()`);
    const left = await db.query(`SELECT count(*)::int AS n FROM queue_tally WHERE queue_owner_id = ANY($1::uuid[])`, [[conn, other]]);
    expect(left.rows[0].n).toBe(0);
  });

});

describe('queue tally with no engine (messages stay where they are put)', () => {
  const s = useTestSluice({ engine: false });
  const db = useDatabase(s);

  const sizes = async (ids: string[]): Promise<Record<string, number>> => {
    const data = await s.ok<{ connections: { id: string; queueSize: number }[] }>(`{ connections { id queueSize } }`);
    return Object.fromEntries(data.connections.filter((c) => ids.includes(c.id)).map((c) => [c.id, c.queueSize]));
  };

  it("moves a borrower's waiting messages to the lender's queue, and back when it stops borrowing", async () => {
    const lender = await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'lender', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const borrower = await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'borrower', concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    await runFlow(s, await createExportImportFlow(s, borrower));
    await runFlow(s, await createExportImportFlow(s, lender));
    expect(await sizes([lender, borrower])).toEqual({ [lender]: 1, [borrower]: 1 });

    await s.ok(`mutation($id: ID!, $from: ID) { borrowConcurrency(connectionId: $id, fromConnectionId: $from) { id } }`, { id: borrower, from: lender });
    // Both report the one queue they now share.
    expect(await sizes([lender, borrower])).toEqual({ [lender]: 2, [borrower]: 2 });
    for (const r of (await db.query<Comparison>(COMPARE)).rows) {
      expect([r.tallied_queued, r.tallied_running]).toEqual([r.counted_queued, r.counted_running]);
    }

    await s.ok(`mutation($id: ID!, $from: ID) { borrowConcurrency(connectionId: $id, fromConnectionId: $from) { id } }`, { id: borrower, from: null });
    await db.query(`SELECT sluice_roll_up_queue_tally()`);
    expect(await sizes([lender, borrower])).toEqual({ [lender]: 1, [borrower]: 1 });
  });
});
