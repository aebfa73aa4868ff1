/**
 * Retention of closed JobErrors: RETRIED and RESOLVED errors are deleted
 * once they have been closed longer than JOB_ERROR_RETENTION_DAYS (at least
 * 30, the contract's promise); OPEN errors are never deleted, whatever their
 * age: they wait for an operator.
 *
 * Every process, whatever its role, sweeps a minute after its start and then
 * every SWEEP_EVERY_MS; the one
 * that holds the advisory lock deletes, the others skip
 * (pg_try_advisory_xact_lock: a lock bound to the transaction, so it is
 * released with it on any pool connection, and a process that dies mid-sweep
 * cannot keep it). Deletes go in batches of DELETE_BATCH, one short
 * transaction each, oldest first through job_error_closed_idx, so a large
 * backlog never holds many row locks or one long transaction.
 *
 * A later error whose retryOf named a deleted one keeps its place, with
 * retryOf null (ON DELETE SET NULL). Nothing here changes a counter: only
 * OPEN errors are counted.
 */
import type { Logger } from '../logger';
import { inTransaction } from '../database/transaction';
import type { Queryable } from '../database/queryable';

export const SWEEP_EVERY_MS = 60 * 60 * 1000;
/** The first sweep waits this long after the start: a process that restarts often still sweeps, off its busy start. */
export const FIRST_SWEEP_AFTER_MS = 60 * 1000;
export const DELETE_BATCH = 1000;
/** hashtextextended('sluice.job_error_retention', 0), spelled out in the statement. */
const LOCK = `hashtextextended('sluice.job_error_retention', 0)`;

/**
 * Deletes closed errors older than `days`, batch by batch, while this process
 * holds the lock; the number deleted (0 when another process holds it).
 */
export async function sweepClosedJobErrors(db: Queryable, days: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const batch = await inTransaction(db, async (tx) => {
      const { rows: locked } = await tx.query<{ mine: boolean }>(`SELECT pg_try_advisory_xact_lock(${LOCK}) AS mine`);
      if (!locked[0]?.mine) return null;
      const { rows } = await tx.query<{ n: number }>(
        `WITH old AS (
           SELECT id FROM job_error
            WHERE state <> 'OPEN' AND closed_at < now() - $1::int * interval '1 day'
            ORDER BY closed_at
            LIMIT ${DELETE_BATCH}
            FOR UPDATE SKIP LOCKED),
         gone AS (DELETE FROM job_error e USING old WHERE e.id = old.id RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [days],
      );
      return rows[0]?.n ?? 0;
    });
    if (batch === null) return deleted;
    deleted += batch;
    if (batch < DELETE_BATCH) return deleted;
  }
}

/** Sweeps after `firstAfterMs`, then every `everyMs`; the returned function stops it and waits for a sweep in progress. */
export function keepJobErrorsFor(
  db: Queryable,
  days: number,
  logger: Logger,
  everyMs = SWEEP_EVERY_MS,
  firstAfterMs = FIRST_SWEEP_AFTER_MS,
): () => Promise<void> {
  let sweeping: Promise<void> = Promise.resolve();
  const sweep = (): void => {
    sweeping = sweepClosedJobErrors(db, days)
      .then((n) => {
        if (n > 0) logger.info({ deleted: n, retentionDays: days }, 'closed job errors past their retention deleted');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'deleting closed job errors failed; the next sweep tries again'));
  };
  let timer: NodeJS.Timeout = setTimeout(function next() {
    sweep();
    timer = setTimeout(next, everyMs);
    timer.unref();
  }, firstAfterMs);
  timer.unref();
  return async () => {
    clearTimeout(timer);
    await sweeping;
  };
}
