/**
 * The engine's side of start on enqueue (src/engine/engineRegistration.ts,
 * src/engine/startOnEnqueue.ts): it keeps its row in engine_instance while it
 * runs, runs what an enqueue started for it with no claim, and gives back to
 * its queue what it may not start. The starts here are made by hand, as the
 * enqueue function makes them (a running row leased to the engine, and its
 * sluice_start NOTIFY), so that no claim could have started them.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startTestSluice, type TestSluice } from '../support/sluice';

async function withDb<T>(server: TestSluice, use: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: server.databaseUrl });
  await db.connect();
  try {
    return await use(db);
  } finally {
    await db.end();
  }
}

async function liveEngines(server: TestSluice): Promise<string[]> {
  return withDb(server, async (db) => (await db.query<{ id: string }>(`SELECT id FROM engine_instance WHERE alive_until > clock_timestamp()`)).rows.map((r) => r.id));
}

/** What the enqueue function does when it starts a message: one more record to import, running and leased to `engine`, announced to it. */
async function startByHand(server: TestSluice, engine: string, jobId: string, connectionId: string, stepId: string, record: object): Promise<string> {
  return withDb(server, async (db) => {
    const { rows } = await db.query<{ id: string; lease_id: string; idempotency_key: string }>(
      `INSERT INTO queue_message (queue_owner_id, connection_id, job_id, step_id, payload, state, attempts, lease_id, lease_expires_at)
       VALUES ($1, $1, $2, $3, $4, 'running', 1, gen_random_uuid(), now() + interval '30 seconds')
       RETURNING id::text, lease_id::text, idempotency_key::text`,
      [connectionId, jobId, stepId, JSON.stringify({ kind: 'records', records: [record] })],
    );
    const row = rows[0]!;
    const payload = {
      engine,
      id: row.id,
      queueOwnerId: connectionId,
      connectionId,
      jobId,
      stepId,
      payload: { kind: 'records', records: [record] },
      attempts: 1,
      leaseId: row.lease_id,
      idempotencyKey: row.idempotency_key,
    };
    await db.query(`SELECT pg_notify('sluice_start', $1)`, [JSON.stringify(payload)]);
    return row.id;
  });
}

describe('engine registration', () => {
  it('keeps a live row while the engine runs and removes it when the engine stops', async () => {
    const server = await startTestSluice({ engine: true });
    let engines: string[] = [];
    try {
      engines = await liveEngines(server);
      expect(engines).toHaveLength(1);
      // Renewed: still alive after its first registration's 3 s have passed.
      await new Promise((r) => setTimeout(r, 3500));
      expect(await liveEngines(server)).toEqual(engines);
    } finally {
      await server.close();
    }
    // The database outlives the server: look at it from outside.
    const db = new Client({ connectionString: server.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(`SELECT id FROM engine_instance`);
      expect(rows).toEqual([]);
    } finally {
      await db.end();
    }
  }, 20000);

  it('a process serving only the API registers no engine', async () => {
    const server = await startTestSluice();
    try {
      expect(await liveEngines(server)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('messages started on enqueue', () => {
  let server: TestSluice;
  let api: RecordingApi;
  let releaseHeld: () => void = () => undefined;
  /** The id of every request's record as it arrived (undefined for what is not an import). */
  const bodies: unknown[] = [];
  const importsOf = (id: unknown): number => bodies.filter((b) => b === id).length;
  beforeAll(async () => {
    const held = new Promise<void>((resolve) => (releaseHeld = resolve));
    api = await startRecordingApi({
      orders: orders(2),
      // Imports of record 2 and of 'A' are held until the test lets them go: two calls that fill the process's two slots of the queue.
      override: async (req) => {
        const id = req.path.startsWith('/import') ? (JSON.parse(req.body) as { id?: unknown }).id : undefined;
        bodies.push(id);
        if (id === 2 || id === 'A') await held;
        return false;
      },
    });
    server = await startTestSluice({ engine: true, env: { MAX_CALLS_PER_QUEUE: '2' } });
  });
  afterAll(async () => {
    releaseHeld();
    await server?.close();
    await api?.close();
  });

  it('runs a message started for it, with no claim, and gives back one it may not start now', async () => {
    const [engine] = await liveEngines(server);
    const conn = await createHttpConnection(server, api.url, { concurrencyLevel: 5, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(server, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const jobId = await runFlow(server, flow.id);
    await waitUntil(() => importsOf(2) === 1, 10000, 'record 2 held at the API');

    // A running row: no claim would ever start it. Only the notification can.
    await startByHand(server, engine!, jobId, conn, flow.stepIds[1]!, { id: 'A' });
    await waitUntil(() => importsOf('A') === 1, 10000, "the started import 'A' to arrive");

    // Both of the process's slots of this queue are taken by held calls: the next start goes back to the queue.
    const b = await startByHand(server, engine!, jobId, conn, flow.stepIds[1]!, { id: 'B' });
    // Back in the queue, its attempt given back (a claim may have reserved it for a hand-off since: queued all the same).
    await waitUntil(
      async () =>
        withDb(server, async (db) => {
          const { rows } = await db.query<{ state: string; attempts: number }>(`SELECT state, attempts FROM queue_message WHERE id = $1`, [b]);
          return rows[0]?.state === 'queued' && rows[0]?.attempts === 0;
        }),
      10000,
      "the start of 'B' given back",
    );
    expect(importsOf('B')).toBe(0);

    // Once a slot is free, a claim takes it like any queued message, and the job ends with all four imported.
    releaseHeld();
    const job = await waitForJob(server, jobId, 20000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsFailed: 0 });
    const imported = (api.imported as { id: unknown }[]).map((r) => r.id);
    expect([...imported].sort()).toEqual([1, 2, 'A', 'B'].sort());
    expect(imported[3]).toBe('B');
  }, 40000);
});
