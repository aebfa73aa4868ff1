/**
 * completeMessages: records the outcomes of a batch of messages in one round
 * trip: finished ones deleted (with their follow-up messages, job counts and
 * errors), retried and released ones back in their queue, jobs with nothing
 * left finished, and every process's dispatchers woken.
 *
 * The work, its locks and why, are in the function sluice_complete_messages
 * (migrations/1763910000000-CompleteMessagesFunction.ts). It runs as a single
 * statement, so it is one transaction on its own.
 */
import type { Outcome } from '../outcome';
import type { Queryable } from './queryable';

export const JOB_CHANNEL = 'sluice_job';

export interface CompletionResult {
  /** Queue owners that gained messages (follow-ups, retries). */
  busyOwners: string[];
  /** Jobs that reached COMPLETED or FAILED. */
  finishedJobs: string[];
}

/** One element of the function's p_outcomes (see its header for the fields). */
function asJson(outcome: Outcome, n: number): Record<string, unknown> {
  const { message } = outcome;
  const base = { n, id: message.id, lease_id: message.leaseId, job_id: message.jobId };
  switch (outcome.kind) {
    case 'done':
      return {
        ...base,
        kind: 'done',
        exported: outcome.delta.exported,
        succeeded: outcome.delta.succeeded,
        failed: outcome.delta.failed,
        source_failed: outcome.delta.sourceFailed,
        followups: outcome.followUps.map((f) => ({ connection_id: f.connectionId, step_id: f.stepId, payload: f.payload })),
        errors: outcome.errors.map((e) => ({ step_id: e.stepId, code: e.code, message: e.message, record: e.record ?? null })),
      };
    case 'retry':
      return { ...base, kind: 'back', delay_ms: outcome.delayMs, refund: outcome.refund ? 1 : 0 };
    case 'release':
      return { ...base, kind: 'back', delay_ms: 0, refund: 1 };
    default: {
      const unreachable: never = outcome;
      throw new Error(`unknown outcome ${JSON.stringify(unreachable)}`);
    }
  }
}

export async function completeMessages(db: Queryable, outcomes: Outcome[]): Promise<CompletionResult> {
  // freed_owners (queues whose slots a commit freed) is for other processes, which learn it by NOTIFY.
  const { rows } = await db.query<{ busy_owners: string[]; finished_jobs: string[] }>(
    `SELECT busy_owners, finished_jobs FROM sluice_complete_messages($1::jsonb)`,
    [JSON.stringify(outcomes.map(asJson))],
  );
  const row = rows[0];
  return { busyOwners: row?.busy_owners ?? [], finishedJobs: row?.finished_jobs ?? [] };
}
