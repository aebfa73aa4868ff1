/**
 * cancelJobs: the engine's share of a cancel, inside the caller's
 * transaction, once it has marked the jobs CANCELED (holding their rows):
 * their waiting messages are dropped (prefetched ones too: they are 'queued'),
 * and at commit every process running a call of theirs is told to abort it
 * (sluice_cancel) and jobUpdated subscribers see the CANCELED state without
 * waiting for a re-read (sluice_job). Running messages are not touched here:
 * their outcomes meet a job that is not live, and sluice_complete_messages
 * drops them. One statement (the DELETE is a data-modifying CTE, which runs
 * to completion whatever the SELECT reads).
 */
import { CANCEL_CHANNEL, JOB_CHANNEL } from '../channels';
import type { Queryable } from './queryable';

export async function cancelJobs(tx: Queryable, jobIds: readonly string[]): Promise<void> {
  if (jobIds.length === 0) return;
  await tx.query(
    `WITH dropped AS (
       DELETE FROM queue_message WHERE job_id = ANY($1::uuid[]) AND state = 'queued'
     )
     SELECT pg_notify('${CANCEL_CHANNEL}', id::text), pg_notify('${JOB_CHANNEL}', id::text) FROM unnest($1::uuid[]) AS id`,
    [jobIds],
  );
}
