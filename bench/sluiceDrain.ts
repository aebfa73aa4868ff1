/**
 * Sluice's side of the peer benchmark's throughput: N import messages queued
 * at once on one connection, then drained by the engine, each message a real
 * HTTP POST to the zero-latency endpoint.
 *
 * Why messages enqueued directly rather than an export→import flow (the
 * `burst` case): graphile-worker's perfTest adds every job in one add_jobs
 * call and then times only the drain. The fair counterpart is the same: one
 * transaction that creates a QUEUED job (as runFlow does) and inserts its N
 * import messages with enqueueMessages (one INSERT of N rows, one NOTIFY),
 * then the time the engine takes to run and complete them all. An
 * export→import flow would also time the export pages and the enqueueing of
 * their records, work graphile-worker's figure does not include.
 * The job's own timestamps time the drain: startedAt is set by the first
 * claim, finishedAt by the completion that leaves nothing of it queued.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Client } from 'pg';
import { enqueueMessages } from '../src/engine/sql/enqueueMessages';
import type { Harness } from './harness';
import { cpuSeconds, treeCpuSeconds } from './processCpu';

export interface SluiceDrainResult {
  messages: number;
  enqueueMs: number;
  drainMs: number;
  messagesPerSecond: number;
  status: string;
  failed: number;
  /** CPU of the Sluice server per message (PostgreSQL's and the endpoint's not included). */
  serverCpuMsPerMessage: number;
  /** CPU of PostgreSQL (the postmaster and every backend) per message while they drain: claims, completions. */
  postgresCpuMsPerMessage: number;
  /** The same while they were enqueued (not part of the drain's time). */
  postgresEnqueueCpuMsPerMessage: number;
  /** Claim statements (sluice_claim) during the drain, and the time of each inside PostgreSQL. */
  claims: number;
  claimMsEach: number;
  /** Completion statements (sluice_complete_messages) likewise. */
  completions: number;
  completionMsEach: number;
  /** CPU of the endpoint per message: what the HTTP calls cost the other side. */
  endpointCpuMsPerMessage: number;
}

/** `level` null: burst mode. */
export async function drainMessages(h: Harness, messages: number, level: number | null): Promise<SluiceDrainResult> {
  const { createConnection: conn } = await h.gql(`mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`, {
    i: { name: `peers-${level ?? 'burst'}`, connectorType: 'http', config: { baseUrl: h.endpointUrl }, concurrencyLevel: level, autoRecoverRateLimitErrors: false },
  });
  // The export step never runs (no page message is queued); the flow gives the import step its plan.
  const { createFlow: flow } = await h.gql(`mutation($i: CreateFlowInput!) { createFlow(input: $i) { id steps { id } } }`, {
    i: {
      name: `peers ${level ?? 'burst'}`,
      steps: [
        { name: 'export', kind: 'EXPORT', connectionId: conn.id, config: { path: '/orders', recordsPath: 'data' } },
        { name: 'import', kind: 'IMPORT', connectionId: conn.id, config: { path: '/import' } },
      ],
    },
  });
  const importStep: string = flow.steps[1].id;
  const jobId = randomUUID();
  const db = new Client({ connectionString: h.databaseUrl });
  await db.connect();
  const functionsBefore = await engineFunctions(db);
  const cpuBefore = cpuSeconds(h.sluicePid);
  const postgresCpuBefore = treeCpuSeconds(h.postgresPid);
  const endpointCpuBefore = cpuSeconds(h.endpointPid);
  const enqueueStart = performance.now();
  let enqueuer = 0;
  try {
    enqueuer = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await db.query('BEGIN');
    // The row runFlow inserts (src/schema/job/job.service.ts): QUEUED until its first message is claimed.
    await db.query(
      `INSERT INTO job (id, flow_id, status, created_at, records_exported, records_succeeded, records_failed)
       VALUES ($1, $2, 'QUEUED', now(), 0, 0, 0)`,
      [jobId, flow.id],
    );
    const batch = Array.from({ length: messages }, (_, i) => ({
      connectionId: conn.id as string,
      jobId,
      stepId: importStep,
      payload: { kind: 'records' as const, records: [{ id: i + 1, total: i * 3 }] },
    }));
    await enqueueMessages(db, batch);
    await db.query('COMMIT');
  } finally {
    await db.end();
  }
  const statsDb = new Client({ connectionString: h.databaseUrl });
  await statsDb.connect();
  const enqueueMs = performance.now() - enqueueStart;
  // The enqueuing backend's CPU counts for the postmaster once it has been reaped.
  while (fs.existsSync(`/proc/${enqueuer}`)) await new Promise((r) => setTimeout(r, 5));
  const postgresCpuEnqueued = treeCpuSeconds(h.postgresPid);

  for (;;) {
    const { job } = await h.gql(`query($j: ID!) { job(id: $j) { status recordsSucceeded recordsFailed startedAt finishedAt } }`, { j: jobId });
    if (job.status !== 'QUEUED' && job.status !== 'RUNNING') {
      const drainMs = Date.parse(job.finishedAt) - Date.parse(job.startedAt);
      // A backend reports its statistics at most once a second: wait for the last ones.
      await new Promise((r) => setTimeout(r, 1100));
      const functions = await engineFunctions(statsDb);
      await statsDb.end();
      const calls = (name: string): number => (functions[name]?.calls ?? 0) - (functionsBefore[name]?.calls ?? 0);
      const selfMs = (name: string): number => (functions[name]?.selfMs ?? 0) - (functionsBefore[name]?.selfMs ?? 0);
      // Includes answering this loop's polls (a few queries a second).
      const cpuMs = (cpuSeconds(h.sluicePid) - cpuBefore) * 1000;
      const postgresCpuMs = (treeCpuSeconds(h.postgresPid) - postgresCpuEnqueued) * 1000;
      const postgresEnqueueCpuMs = (postgresCpuEnqueued - postgresCpuBefore) * 1000;
      const endpointCpuMs = (cpuSeconds(h.endpointPid) - endpointCpuBefore) * 1000;
      return {
        messages,
        enqueueMs: Math.round(enqueueMs),
        drainMs,
        messagesPerSecond: Math.round((job.recordsSucceeded * 1000) / drainMs),
        status: job.status,
        failed: job.recordsFailed,
        serverCpuMsPerMessage: +(cpuMs / messages).toFixed(3),
        postgresCpuMsPerMessage: +(postgresCpuMs / messages).toFixed(3),
        postgresEnqueueCpuMsPerMessage: +(postgresEnqueueCpuMs / messages).toFixed(3),
        endpointCpuMsPerMessage: +(endpointCpuMs / messages).toFixed(3),
        claims: calls('sluice_claim'),
        claimMsEach: +(selfMs('sluice_claim') / Math.max(1, calls('sluice_claim'))).toFixed(3),
        completions: calls('sluice_complete_messages'),
        completionMsEach: +(selfMs('sluice_complete_messages') / Math.max(1, calls('sluice_complete_messages'))).toFixed(3),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Calls and time of the engine's functions so far (track_functions, set by the harness). */
async function engineFunctions(db: Client): Promise<Record<string, { calls: number; selfMs: number }>> {
  const { rows } = await db.query<{ funcname: string; calls: string; self_time: number }>(
    `SELECT funcname, sum(calls) AS calls, sum(self_time) AS self_time FROM pg_stat_user_functions
      WHERE funcname IN ('sluice_claim', 'sluice_complete_messages') GROUP BY funcname`,
  );
  // Statistics reach the view when a backend reports them, at most once a second.
  return Object.fromEntries(rows.map((r) => [r.funcname, { calls: Number(r.calls), selfMs: r.self_time }]));
}
