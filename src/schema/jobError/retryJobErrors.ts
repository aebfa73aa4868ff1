/**
 * retryJobErrors: each OPEN error's record (or page, or file) becomes a
 * message again at the step where it failed, enqueued behind what waits in
 * that step's connection queue (its queue owner's FIFO), by the engine's own
 * enqueue (engine/sql/enqueueMessages.ts); from there it goes through the
 * later steps as any record does (engine/routeRecords.ts). The error becomes
 * RETRIED in the transaction that enqueues it.
 *
 * A retry is enqueued once, also when two operators retry the same errors at
 * once: the errors go OPEN → RETRIED in one UPDATE … WHERE state = 'OPEN'
 * under their row locks, and only the rows it returns are enqueued; the
 * second transaction waits for the first's locks, then finds them RETRIED.
 *
 * Locks, in the order every writer of these rows takes them (no deadlock):
 * the flows FOR SHARE (step edits take them FOR UPDATE and then refuse while
 * a job is active: a job made RUNNING here is seen by them, and the steps a
 * retry is enqueued at cannot change under it), the jobs FOR UPDATE (as a
 * completion does, which decides when a job is done), the errors, and last
 * the flows' error tallies, in flow id order.
 *
 * Each job whose errors are retried is RUNNING again until nothing of it is
 * queued or running: the completion that deletes its last message finishes
 * it (migrations/1763910000000-CompleteMessagesFunction.ts), so a retried
 * message is outstanding work like any other. Its retried records leave
 * recordsFailed here and count again by their new outcome there. A
 * canceled job's errors are CONFLICT (canceledJob says why).
 */
import { randomUUID } from 'node:crypto';
import type { JsonRecord } from '../../connectors/sdk';
import { jobErrorColumns } from '../../database/entityColumns';
import type { JobErrorRow } from '../../database/entities';
import type { StepKindName } from '../../connectors/sdk/stepKind';
import type { MessagePayload, NewMessage, RetryOrigin } from '../../engine';
import { enqueue } from '../../engine';
import { JOB_CHANNEL } from '../../engine';
import type { Queryable } from '../../database/queryable';
import { badUserInput, conflict } from '../common/errors';

/** An error as the retry found it, with where its step sends now. */
interface RetriedRow extends JobErrorRow {
  stepKind: StepKindName;
  stepConnectionId: string;
}

/** What an operator may put in place of the record that is sent (one error only). */
export type Replacement = { record: JsonRecord } | null;

/**
 * Retries those of `ids` that are OPEN (the caller has checked them, and
 * that their steps exist): returns the errors it made RETRIED, in the order
 * they were kept. `tx` is a transaction.
 */
export async function retryBatch(tx: Queryable, ids: string[], closedBy: string, replacement: Replacement): Promise<JobErrorRow[]> {
  if (ids.length === 0) return [];
  const { rows: owners } = await tx.query<{ flow_ids: string[]; job_ids: string[] }>(
    `SELECT array_agg(DISTINCT flow_id ORDER BY flow_id) AS flow_ids, array_agg(DISTINCT job_id ORDER BY job_id) AS job_ids
       FROM job_error WHERE id = ANY($1::uuid[]) AND state = 'OPEN'`,
    [ids],
  );
  const flowIds = owners[0]?.flow_ids ?? [];
  const jobIds = owners[0]?.job_ids ?? [];
  if (jobIds.length === 0) return [];
  await tx.query(`SELECT 1 FROM flow WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE`, [flowIds]);
  const { rows: jobs } = await tx.query<{ id: string; canceled: boolean }>(
    `SELECT id, status = 'CANCELED' AS canceled FROM job WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
    [jobIds],
  );
  const canceled = jobs.find((j) => j.canceled);
  if (canceled) throw canceledJob(canceled.id);
  // One generation per retry: an engine that kept this job's plan from its first run reloads it (engine/jobPlans.ts).
  const generation = randomUUID();
  const { rows } = await tx.query<RetriedRow>(
    `WITH retried AS (
       UPDATE job_error e SET state = 'RETRIED', closed_at = now(), closed_by = $2
         FROM step s
        WHERE e.id = ANY($1::uuid[]) AND e.state = 'OPEN' AND s.id = e.step_id
       RETURNING ${jobErrorColumns('e')}, s.kind AS "stepKind", s.connection_id AS "stepConnectionId")
     SELECT * FROM retried ORDER BY seq`,
    [ids, closedBy],
  );
  if (rows.length === 0) return [];
  await enqueue(tx, rows.map((row) => messageFor(row, replacement, generation)));

  // Per job: records that leave recordsFailed (a source's page or file never
  // counted there), errors no longer OPEN, and whether its source runs again.
  const perJob = new Map<string, { records: number; closed: number; source: boolean }>();
  const perFlow = new Map<string, number>();
  for (const row of rows) {
    const job = perJob.get(row.jobId) ?? { records: 0, closed: 0, source: false };
    const isSource = row.stepKind === 'EXPORT' || row.stepKind === 'DOWNLOAD';
    job.records += isSource ? 0 : 1;
    job.closed += 1;
    job.source ||= isSource;
    perJob.set(row.jobId, job);
    perFlow.set(row.flowId, (perFlow.get(row.flowId) ?? 0) + 1);
  }
  const counts = [...perJob.entries()];
  await tx.query(
    `UPDATE job j
        SET records_failed = j.records_failed - d.records,
            open_error_count = j.open_error_count - d.closed,
            source_failed = j.source_failed AND NOT d.source,
            status = CASE WHEN j.status IN ('QUEUED', 'RUNNING') THEN j.status ELSE 'RUNNING' END,
            finished_at = CASE WHEN j.status IN ('QUEUED', 'RUNNING') THEN j.finished_at END
       FROM unnest($1::uuid[], $2::int[], $3::int[], $4::boolean[]) AS d(job_id, records, closed, source)
      WHERE j.id = d.job_id`,
    [counts.map(([id]) => id), counts.map(([, j]) => j.records), counts.map(([, j]) => j.closed), counts.map(([, j]) => j.source)],
  );
  await lowerFlowTallies(tx, perFlow);
  // jobUpdated subscribers see the job RUNNING again, with its counts.
  await tx.query(`SELECT pg_notify('${JOB_CHANNEL}', id::text) FROM unnest($1::uuid[]) AS id`, [jobIds]);
  return rows.map(({ stepKind: _kind, stepConnectionId: _connection, ...error }) => error);
}

/**
 * A canceled job's errors are resolved, not retried: an engine drops the
 * messages of a job canceled lately (engine/recentCancels.ts) without an
 * outcome, so a retried record would vanish from the job's counts.
 */
export function canceledJob(jobId: string): Error {
  return conflict(`job ${jobId} was canceled: its errors cannot be retried (resolve them, or run the flow again)`);
}

/** flow_error_tally rows taken in flow id order, as every writer takes them. */
export async function lowerFlowTallies(tx: Queryable, perFlow: Map<string, number>): Promise<void> {
  const flows = [...perFlow.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (flows.length === 0) return;
  await tx.query(`SELECT 1 FROM flow_error_tally WHERE flow_id = ANY($1::uuid[]) ORDER BY flow_id FOR UPDATE`, [flows.map(([id]) => id)]);
  await tx.query(
    `UPDATE flow_error_tally t SET open_errors = t.open_errors - d.n
       FROM unnest($1::uuid[], $2::int[]) AS d(flow_id, n)
      WHERE t.flow_id = d.flow_id`,
    [flows.map(([id]) => id), flows.map(([, n]) => n)],
  );
}

/**
 * The message that sends the error's record again, at its step, through the
 * connection the step uses now. It carries the first attempt's
 * Idempotency-Key when the error kept one (a call of one record, a page, a
 * file) and the record is not replaced: an API that saw the first attempt
 * through recognizes it.
 */
function messageFor(row: RetriedRow, replacement: Replacement, generation: string): NewMessage {
  const key = replacement === null && row.idempotencyKey !== null ? { idempotencyKey: row.idempotencyKey } : {};
  const retry: RetryOrigin = { of: [row.id], generation, ...key };
  return { connectionId: row.stepConnectionId, jobId: row.jobId, stepId: row.stepId as string, payload: payloadFor(row, replacement, retry) };
}

function payloadFor(row: RetriedRow, replacement: Replacement, retry: RetryOrigin): MessagePayload {
  const record = replacement?.record ?? (row.record as JsonRecord | null);
  switch (row.stepKind) {
    case 'EXPORT': {
      // A page's error keeps its cursor as its record (engine/runMessage.ts); the export carries on from that page.
      // A replacement without one would start the export over from its first page: refused, not guessed.
      if (replacement !== null && !('cursor' in replacement.record)) {
        throw badUserInput(`job error ${row.id} is an export page's: a record given for it is { "cursor": … }, the page to ask for`);
      }
      const cursor = record !== null && typeof record === 'object' && 'cursor' in record ? record.cursor : null;
      return { kind: 'page', cursor, retry };
    }
    case 'DOWNLOAD':
      if (replacement !== null) throw badUserInput(`job error ${row.id} is a download's: it has no record to replace`);
      return { kind: 'download', retry };
    case 'LOOKUP':
    case 'IMPORT':
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        throw badUserInput(`job error ${row.id} has no record to send; resolve it instead`);
      }
      return { kind: 'records', records: [record], retry };
    default: {
      const unreachable: never = row.stepKind;
      throw new Error(`unknown step kind ${String(unreachable)}`);
    }
  }
}
