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
import { Client } from 'pg';
import { enqueueMessages } from '../src/engine/sql/enqueueMessages';
import type { Harness } from './harness';
import { cpuSeconds } from './processCpu';

export interface SluiceDrainResult {
  messages: number;
  enqueueMs: number;
  drainMs: number;
  messagesPerSecond: number;
  status: string;
  failed: number;
  /** CPU of the Sluice server per message (PostgreSQL's and the endpoint's not included). */
  serverCpuMsPerMessage: number;
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
  const cpuBefore = cpuSeconds(h.sluicePid);
  const enqueueStart = performance.now();
  try {
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
  const enqueueMs = performance.now() - enqueueStart;

  for (;;) {
    const { job } = await h.gql(`query($j: ID!) { job(id: $j) { status recordsSucceeded recordsFailed startedAt finishedAt } }`, { j: jobId });
    if (job.status !== 'QUEUED' && job.status !== 'RUNNING') {
      const drainMs = Date.parse(job.finishedAt) - Date.parse(job.startedAt);
      // Includes answering this loop's polls (a few queries a second).
      const cpuMs = (cpuSeconds(h.sluicePid) - cpuBefore) * 1000;
      return {
        messages,
        enqueueMs: Math.round(enqueueMs),
        drainMs,
        messagesPerSecond: Math.round((job.recordsSucceeded * 1000) / drainMs),
        status: job.status,
        failed: job.recordsFailed,
        serverCpuMsPerMessage: +(cpuMs / messages).toFixed(3),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
