/**
 * completeMessages: records the outcomes of a batch of messages in one round
 * trip: finished ones deleted (with their follow-up messages, job counts and
 * errors), retried and released ones back in their queue, jobs with nothing
 * left finished, and every process's dispatchers woken.
 *
 * The work, its locks and why, are in the function sluice_complete_messages
 * (functions/sluice_complete_messages.sql). It runs as a single
 * statement, so it is one transaction on its own.
 */
import type { ClaimedMessage } from '../message';
import { applicationAnswered, type Outcome } from '../outcome';
import type { Queryable } from './queryable';

/** A call's end as committed: its outcome, and the prefetched message started in its slot, if any. */
export interface SlotEnd {
  outcome: Outcome;
  successor: ClaimedMessage | null;
}

export interface CompletionResult {
  /** Queue owners that gained messages (follow-ups, retries). */
  busyOwners: string[];
  /** Jobs that reached COMPLETED or FAILED. */
  finishedJobs: string[];
  /** Successors the commit marked running (bigint ids); a hand-on it did not record freed its slot instead. */
  handedOn: ReadonlySet<string>;
}

/**
 * One element of the function's p_outcomes (see its header for the fields),
 * written as JSON text directly: the batch is serialized once per commit for
 * every outcome in it, and building an object per outcome to stringify it
 * showed in burst profiles (`npm run bench -- burst`). Ids are bigint and uuid
 * strings from PostgreSQL; everything else goes through JSON.stringify.
 */
function outcomeJson({ outcome, successor }: SlotEnd, n: number): string {
  const { message } = outcome;
  const answered = applicationAnswered(outcome) ? `,"answered_owner":"${message.queueOwnerId}"` : '';
  const next = successor ? `,"successor_id":${successor.id},"successor_lease":"${successor.leaseId}","successor_job":"${successor.jobId}"` : '';
  const base = `{"n":${n},"id":${message.id},"lease_id":"${message.leaseId}","job_id":"${message.jobId}","attempts":${message.attempts}${answered}${next}`;
  switch (outcome.kind) {
    case 'done': {
      const { delta } = outcome;
      const followUps = outcome.followUps.length === 0
        ? '[]'
        : JSON.stringify(outcome.followUps.map((f) => ({ connection_id: f.connectionId, step_id: f.stepId, payload: f.payload })));
      const errors = outcome.errors.length === 0
        ? '[]'
        : JSON.stringify(outcome.errors.map((e) => ({
          step_id: e.stepId,
          connection_id: e.connectionId,
          code: e.code,
          message: e.message,
          record: e.record ?? null,
          attempts: e.attempts,
          idempotency_key: e.idempotencyKey,
          retry_of: e.retryOf,
        })));
      return `${base},"kind":"done","exported":${delta.exported},"succeeded":${delta.succeeded},"failed":${delta.failed},"source_failed":${delta.sourceFailed},"followups":${followUps},"errors":${errors}}`;
    }
    case 'retry':
      return `${base},"kind":"back","delay_ms":${Math.round(outcome.delayMs)},"refund":${outcome.refund ? 1 : 0}}`;
    case 'release':
      return `${base},"kind":"back","delay_ms":0,"refund":1}`;
    default: {
      const unreachable: never = outcome;
      throw new Error(`unknown outcome ${JSON.stringify(unreachable)}`);
    }
  }
}

export async function completeMessages(db: Queryable, ends: readonly SlotEnd[]): Promise<CompletionResult> {
  // freed_owners (queues whose slots a commit freed) is for other processes, which learn it by NOTIFY.
  const { rows } = await db.query<{ busy_owners: string[]; finished_jobs: string[]; handed_on: string[] }>(
    `SELECT busy_owners, finished_jobs, handed_on::text[] AS handed_on FROM sluice_complete_messages($1::jsonb)`,
    [`[${ends.map(outcomeJson).join(',')}]`],
  );
  const row = rows[0];
  return { busyOwners: row?.busy_owners ?? [], finishedJobs: row?.finished_jobs ?? [], handedOn: new Set(row?.handed_on ?? []) };
}
