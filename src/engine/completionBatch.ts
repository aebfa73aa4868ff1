/**
 * Group commit for outcomes: outcomes that arrive while a commit is in flight
 * wait for the next one, so at low load each outcome commits at once and at
 * high load hundreds share one transaction. This, with batched claims, is
 * what keeps PostgreSQL from being the bottleneck (one commit per message
 * caps a queue at a few thousand messages per second).
 */
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { Outcome } from './outcome';
import { completeMessages, type CompletionResult } from './sql/completeMessages';

const MAX_BATCH = 1000;
const RETRY_DELAY_MS = 500;

export class CompletionBatch {
  private pending: Outcome[] = [];
  private waiters: (() => void)[] = [];
  private flushing = false;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly onCommitted: (result: CompletionResult, outcomes: Outcome[]) => void,
  ) {}

  /** Resolves once the outcome is committed. */
  add(outcome: Outcome): Promise<void> {
    this.pending.push(outcome);
    const committed = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (!this.flushing) void this.flush();
    return committed;
  }

  get size(): number {
    return this.pending.length;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      const waiters = this.waiters.splice(0, batch.length);
      try {
        const result = await this.commit(batch);
        this.onCommitted(result, batch);
        for (const w of waiters) w();
      } catch (error) {
        // The database is away (restart, failover): keep the outcomes and try
        // again; their leases are held by our heartbeat meanwhile.
        this.logger.warn({ err: error, outcomes: batch.length }, 'committing outcomes failed; retrying');
        this.pending.unshift(...batch);
        this.waiters.unshift(...waiters);
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      }
    }
    this.flushing = false;
  }

  private commit(batch: Outcome[]): Promise<CompletionResult> {
    return completeMessages(this.pool, batch);
  }
}
