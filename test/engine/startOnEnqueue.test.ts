/**
 * Start on enqueue (migrations/1763970000000-StartOnEnqueue.ts): what the
 * enqueue function starts for a live engine, and what it leaves to a claim.
 * The API only runs here, and this test plays the engines: it registers
 * their rows and listens on sluice_start and sluice_queue itself.
 */
import { Client, type Notification } from 'pg';
import { enqueueMessages } from '../../src/engine/sql/enqueueMessages';
import { registerEngine, unregisterEngine } from '../../src/engine/sql/engineInstances';
import { messageStartedFor } from '../../src/engine/startOnEnqueue';
import { createFlow, createHttpConnection, runFlow, waitUntil } from '../support/flows';
import { useDatabase } from '../support/database';
import { useTestSluice } from '../support/sluice';

const s = useTestSluice(); // the API only: no engine of its own registers
const db = useDatabase(s);
const ENGINE = '00000000-0000-4000-8000-00000000e001';
const OTHER_ENGINE = '00000000-0000-4000-8000-00000000e002';

let listener: Client;
const heard: Notification[] = [];
beforeAll(async () => {
  listener = new Client({ connectionString: s.databaseUrl });
  await listener.connect();
  listener.on('notification', (n) => heard.push(n));
  await listener.query('LISTEN sluice_start');
  await listener.query('LISTEN sluice_queue');
});
afterAll(async () => {
  await listener.end();
});
beforeEach(async () => {
  await db.query('DELETE FROM engine_instance');
  heard.length = 0;
});

async function queue(level: number | null): Promise<{ conn: string; flowId: string; importStep: string }> {
  const conn = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: level, autoRecoverRateLimitErrors: false });
  const flow = await createFlow(s, [
    { kind: 'EXPORT', connectionId: conn, config: { path: '/orders' } },
    { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
  ]);
  return { conn, flowId: flow.id, importStep: flow.stepIds[1]! };
}

interface Row {
  id: string;
  state: string;
  attempts: number;
  lease_id: string | null;
  lease_ms: number | null;
}

async function messagesOfJob(jobId: string): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT id::text, state, attempts, lease_id::text,
            round(extract(epoch FROM lease_expires_at - enqueued_at) * 1000)::int AS lease_ms
       FROM queue_message WHERE job_id = $1 ORDER BY id`,
    [jobId],
  );
  return rows;
}

const started = (): Notification[] => heard.filter((n) => n.channel === 'sluice_start');
const announced = (owner: string): boolean => heard.some((n) => n.channel === 'sluice_queue' && n.payload === owner);

describe('sluice_enqueue_messages', () => {
  it('starts the first message of an idle queue for a live engine: running, leased for the engine, announced with the message', async () => {
    await registerEngine(db, ENGINE, 45000, 60000);
    const { conn, flowId } = await queue(2);
    const jobId = await runFlow(s, flowId);

    const [row] = await messagesOfJob(jobId);
    expect(row).toMatchObject({ state: 'running', attempts: 1 });
    expect(row!.lease_id).not.toBeNull();
    expect(Math.abs(row!.lease_ms! - 45000)).toBeLessThan(1000);
    const { rows: job } = await db.query<{ status: string; started_at: Date | null }>(`SELECT status, started_at FROM job WHERE id = $1`, [jobId]);
    expect(job[0]).toMatchObject({ status: 'RUNNING' });
    expect(job[0]!.started_at).not.toBeNull();

    await waitUntil(() => started().length === 1, 5000, 'the start notification');
    const message = messageStartedFor(ENGINE, started()[0]!.payload!);
    expect(message).toEqual({
      id: row!.id,
      queueOwnerId: conn,
      connectionId: conn,
      jobId,
      stepId: expect.any(String),
      payload: { kind: 'page', cursor: null },
      attempts: 1,
      leaseId: row!.lease_id,
      idempotencyKey: expect.any(String),
    });
    // Only the engine it was started for takes it; what is not a start is nobody's.
    expect(messageStartedFor(OTHER_ENGINE, started()[0]!.payload!)).toBeNull();
    expect(messageStartedFor(ENGINE, 'not json')).toBeNull();
    // Nothing is left for a claim, so no claim is called for.
    expect(announced(conn)).toBe(false);
  });

  it('queues the message for a claim when no engine is alive (none, or its registration has run out)', async () => {
    const { conn, flowId } = await queue(2);
    const first = await runFlow(s, flowId);
    await registerEngine(db, ENGINE, 30000, -1);
    const { flowId: other } = await queue(2);
    const second = await runFlow(s, other);

    expect((await messagesOfJob(first))[0]).toMatchObject({ state: 'queued', attempts: 0, lease_id: null });
    expect((await messagesOfJob(second))[0]).toMatchObject({ state: 'queued', attempts: 0, lease_id: null });
    await waitUntil(() => announced(conn), 5000, 'the queue notification');
    expect(started()).toHaveLength(0);
  });

  it("queues the message for a claim when the live engine's LISTEN connection is gone (the process was killed)", async () => {
    const engine = new Client({ connectionString: s.databaseUrl });
    await engine.connect();
    const { rows } = await engine.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await registerEngine(engine, ENGINE, 30000, 60000);
    await engine.end();
    await waitUntil(
      async () => (await db.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [rows[0]!.pid])).rowCount === 0,
      5000,
      'the backend to go',
    );
    const { flowId } = await queue(2);
    const jobId = await runFlow(s, flowId);
    expect((await messagesOfJob(jobId))[0]).toMatchObject({ state: 'queued', lease_id: null });
    expect(started()).toHaveLength(0);
  });

  it('never lets a new message overtake one waiting to start, nor one prefetched by a process', async () => {
    const { conn, flowId, importStep } = await queue(3);
    const jobId = await runFlow(s, flowId); // queued: no engine yet
    await registerEngine(db, ENGINE, 30000, 60000);
    await enqueueMessages(db, [{ connectionId: conn, jobId, stepId: importStep, payload: { kind: 'records', records: [{ id: 1 }] } }]);
    expect((await messagesOfJob(jobId)).map((m) => m.state)).toEqual(['queued', 'queued']);

    // Prefetched (hidden from claims until its lease runs out, run_after in the future): still ahead of anything new.
    await db.query(`UPDATE queue_message SET lease_id = gen_random_uuid(), run_after = now() + interval '1 minute' WHERE job_id = $1`, [jobId]);
    await enqueueMessages(db, [{ connectionId: conn, jobId, stepId: importStep, payload: { kind: 'records', records: [{ id: 2 }] } }]);
    expect((await messagesOfJob(jobId)).map((m) => m.state)).toEqual(['queued', 'queued', 'queued']);
    expect(started()).toHaveLength(0);
  });

  it('never starts more than the level in use', async () => {
    await registerEngine(db, ENGINE, 30000, 60000);
    const { conn, flowId, importStep } = await queue(1);
    const jobId = await runFlow(s, flowId);
    await enqueueMessages(db, [{ connectionId: conn, jobId, stepId: importStep, payload: { kind: 'records', records: [{ id: 1 }] } }]);
    expect((await messagesOfJob(jobId)).map((m) => m.state)).toEqual(['running', 'queued']);
    await waitUntil(() => announced(conn), 5000, 'the queue notification');
    expect(started()).toHaveLength(1);
  });

  it('starts nothing while the queue is paused, and under a rateLimit counts the start in its window', async () => {
    await registerEngine(db, ENGINE, 30000, 60000);
    const paused = await queue(5);
    await db.query(`UPDATE connection SET paused_until = now() + interval '1 minute' WHERE id = $1`, [paused.conn]);
    const pausedJob = await runFlow(s, paused.flowId);
    expect((await messagesOfJob(pausedJob))[0]).toMatchObject({ state: 'queued' });
    expect(started()).toHaveLength(0);

    // The start is the claim's (sluice_claim.sql), so the window counts it like any other.
    const limited = await queue(5);
    await db.query(`UPDATE connection SET rate_limit_requests = 1, rate_limit_per_ms = 60000 WHERE id = $1`, [limited.conn]);
    const limitedJob = await runFlow(s, limited.flowId);
    expect((await messagesOfJob(limitedJob))[0]).toMatchObject({ state: 'running' });
    const { rows } = await db.query<{ n: number }>(`SELECT cardinality(rate_starts) AS n FROM connection WHERE id = $1`, [limited.conn]);
    expect(rows[0]!.n).toBe(1);
    // The window is used up: the next job's first message waits for a claim.
    const nextJob = await runFlow(s, limited.flowId);
    expect((await messagesOfJob(nextJob))[0]).toMatchObject({ state: 'queued' });
  });

  it('starts a single message in burst mode, and leaves a batch to a claim', async () => {
    await registerEngine(db, ENGINE, 30000, 60000);
    const { conn, flowId, importStep } = await queue(null);
    const jobId = await runFlow(s, flowId); // started: burst mode always has a slot
    expect((await messagesOfJob(jobId)).map((m) => m.state)).toEqual(['running']);
    await db.query(`DELETE FROM queue_message WHERE job_id = $1`, [jobId]);
    await enqueueMessages(
      db,
      [1, 2, 3].map((id) => ({ connectionId: conn, jobId, stepId: importStep, payload: { kind: 'records' as const, records: [{ id }] } })),
    );
    expect((await messagesOfJob(jobId)).map((m) => m.state)).toEqual(['queued', 'queued', 'queued']);
    await waitUntil(() => announced(conn), 5000, 'the queue notification');
    expect(started()).toHaveLength(1);
  });

  it('leaves a message too large for a NOTIFY to a claim', async () => {
    await registerEngine(db, ENGINE, 30000, 60000);
    const { conn, flowId, importStep } = await queue(5);
    const jobId = await runFlow(s, flowId);
    await db.query(`DELETE FROM queue_message WHERE job_id = $1`, [jobId]);
    await enqueueMessages(db, [{ connectionId: conn, jobId, stepId: importStep, payload: { kind: 'records', records: [{ note: 'x'.repeat(7000) }] } }]);
    expect((await messagesOfJob(jobId)).map((m) => m.state)).toEqual(['queued']);
  });

  it('starts nothing for a batch that goes to several queues', async () => {
    await registerEngine(db, ENGINE, 30000, 60000);
    const a = await queue(5);
    const b = await queue(5);
    const jobId = await runFlow(s, a.flowId);
    await db.query(`DELETE FROM queue_message WHERE job_id = $1`, [jobId]);
    await enqueueMessages(db, [
      { connectionId: a.conn, jobId, stepId: a.importStep, payload: { kind: 'records', records: [{ id: 1 }] } },
      { connectionId: b.conn, jobId, stepId: a.importStep, payload: { kind: 'records', records: [{ id: 2 }] } },
    ]);
    expect((await messagesOfJob(jobId)).map((m) => m.state)).toEqual(['queued', 'queued']);
  });

  it('keeps each queue with one of the live engines, and forgets an engine that unregistered', async () => {
    await registerEngine(db, ENGINE, 30000, 60000);
    await registerEngine(db, OTHER_ENGINE, 30000, 60000);
    const { flowId } = await queue(5);
    const engines = new Set<string>();
    for (let i = 0; i < 4; i++) {
      await runFlow(s, flowId);
      await waitUntil(() => started().length === i + 1, 5000, 'the start notification');
      engines.add(JSON.parse(started()[i]!.payload!).engine);
      await db.query(`DELETE FROM queue_message`);
    }
    expect(engines.size).toBe(1);
    const [chosen] = [...engines];
    await unregisterEngine(db, chosen!);
    await runFlow(s, flowId);
    await waitUntil(() => started().length === 5, 5000, 'the start notification');
    expect(JSON.parse(started()[4]!.payload!).engine).toBe(chosen === ENGINE ? OTHER_ENGINE : ENGINE);
  });
});
