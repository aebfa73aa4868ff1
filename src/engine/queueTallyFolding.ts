/**
 * Keeps queue_tally short: every process, whatever its role, folds the
 * tally's delta rows once a second (a no-op while another process does), so
 * a queueSize read sums a few rows, not one per enqueue, claim and completion
 * since the start. An API-only deployment enqueues and cancels too, so the
 * API process folds as well as the workers.
 */
import type { Logger } from '../logger';
import { rollUpQueueTally, type Queryable } from './store';

const FOLD_EVERY_MS = 1000;

/** Starts folding; the returned function stops it and waits for a fold in progress. */
export function foldQueueTally(db: Queryable, logger: Logger, everyMs = FOLD_EVERY_MS): () => Promise<void> {
  let folding: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    folding = rollUpQueueTally(db).catch((error: unknown) => logger.warn({ err: error }, 'folding the queue tally failed'));
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await folding;
  };
}
