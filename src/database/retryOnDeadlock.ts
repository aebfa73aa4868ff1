/**
 * Runs a transaction again when PostgreSQL aborted it to break a deadlock
 * (40P01) or a serialization failure (40001): it rolled back whole, so
 * running it again is what the client of such a transaction must do.
 *
 * Why here: cancelJob (and replaceConnection, which cancels) deletes a job's
 * waiting messages while claims take the heads of their queues; a claim that
 * has made one of them running and waits for a row the cancel has deleted,
 * while the cancel waits for the first, is a deadlock, and PostgreSQL aborts
 * one of the two. A claim is retried by its dispatcher; a cancel surfaced as
 * INTERNAL_SERVER_ERROR. (cancelJob answered that once in
 * `test/engine/queueTally.test.ts`, in one full run of the suite of six; its
 * log was not captured, and this deadlock is the way found for it to fail.)
 */
const RETRIED_CODES = new Set(['40P01', '40001']);
const ATTEMPTS = 3;

function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = e.code ?? e.driverError?.code; // TypeORM's QueryFailedError keeps pg's error as driverError
  return typeof code === 'string' ? code : undefined;
}

export async function retryOnDeadlock<T>(transaction: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      const code = sqlState(error);
      if (attempt >= ATTEMPTS || code === undefined || !RETRIED_CODES.has(code)) throw error;
    }
  }
}
