/**
 * Whether the database answers now: what /healthz (readiness) and the
 * `sluice_database_up` gauge report. Before the database is opened (a start
 * still waiting for it) it does not answer. A check that takes longer than
 * CHECK_TIMEOUT_MS counts as no answer, so a probe never hangs on a database
 * that is unreachable rather than refusing.
 */
const CHECK_TIMEOUT_MS = 2000;

export class DatabaseHealth {
  private check: (() => Promise<unknown>) | null = null;
  private closed = false;

  /** From now on `answers()` runs `check` (a `SELECT 1`). */
  watch(check: () => Promise<unknown>): void {
    this.check = check;
  }

  /** The database is being closed on purpose: it answers no more. */
  close(): void {
    this.closed = true;
  }

  async answers(): Promise<boolean> {
    const check = this.check;
    if (check === null || this.closed) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS)));
    try {
      return await Promise.race([check().then(() => true, () => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
