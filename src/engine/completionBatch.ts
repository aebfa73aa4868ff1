/**
 * Group commit for outcomes: outcomes that arrive while a commit is in flight
 * wait for the next one, so at low load each outcome commits at once and at
 * high load hundreds share one transaction. This, with batched claims, is
 * what keeps PostgreSQL from being the bottleneck (one commit per message
 * caps a queue at a few thousand messages per second).
 */
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { ClaimedMessage } from './message';
import type { Outcome } from './outcome';
import * as store from './store';
import type { CompletionResult, SlotEnd } from './store';

const MAX_BATCH = 1000;
const RETRY_DELAY_MS = 500;
/**
 * How long the first outcome of a batch waits for others before the commit
 * goes out, while other calls run (alone, an outcome commits at once: the
 * next message of an idle queue would otherwise meet this commit on its way,
 * +1.5 ms enqueue-to-start in `npm run bench -- latency`). A busy slot
 * does not wait for it (the ended call's successor from the prefetch runs
 * already; the commit records the hand-on), only follow-ups, counters, the
 * end of jobs and a slot with no successor do; while
 * at a low level each outcome was its own commit, and a statement's socket
 * write is much of what a call costs here (`npm run bench --
 * hiddenConcurrency`, BENCH_SERVER_NODE_ARGS=--cpu-prof). At a fixed level
 * 4 against a 20 ms endpoint it took the server's CPU per record from
 * 1.51–1.63 to 1.18–1.27 ms (`BENCH_LEVEL=4 npm run bench -- level`).
 */
export const LINGER_MS = 3;
/**
 * How long a batch may wait while every outcome in it handed its slot on to
 * a prefetched message: no slot waits for such a commit (the successor runs
 * already), so more of them share one statement. A socket write per commit
 * is much of what a call costs (`npm run bench -- peersLevel`,
 * BENCH_SERVER_NODE_ARGS=--cpu-prof: writev a third of the server's busy
 * time at level 25). An outcome that frees a slot brings the commit forward
 * to LINGER_MS.
 */
export const HANDED_ON_LINGER_MS = 10;

export class CompletionBatch {
  private pending: SlotEnd[] = [];
  private waiters: ((handedOn: boolean) => void)[] = [];
  private flushing = false;
  private lingering: NodeJS.Timeout | null = null;
  /** When the lingering batch goes out (performance.now()). */
  private lingerUntil = 0;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly onCommitted: (result: CompletionResult, outcomes: Outcome[]) => void,
    /** Whether calls other than those whose outcomes wait here are running: only then is a batch worth waiting for. */
    private readonly othersRunning: () => boolean = () => true,
  ) {}

  /**
   * Resolves once the outcome is committed; with a `successor` (the
   * prefetched message started in the ended call's slot), that one's start
   * is recorded in the same statement, and the promise says whether it was
   * (false: the slot was freed instead, or there was no successor).
   */
  add(outcome: Outcome, successor: ClaimedMessage | null = null): Promise<boolean> {
    this.pending.push({ outcome, successor });
    const committed = new Promise<boolean>((resolve) => this.waiters.push(resolve));
    if (this.flushing) return committed;
    if (this.lingering === null && !this.othersRunning()) {
      void this.flush();
      return committed;
    }
    const until = performance.now() + (successor ? HANDED_ON_LINGER_MS : LINGER_MS);
    if (this.lingering !== null && this.lingerUntil <= until) return committed;
    if (this.lingering !== null) clearTimeout(this.lingering);
    this.lingerUntil = until;
    this.lingering = setTimeout(() => {
      this.lingering = null;
      if (!this.flushing) void this.flush();
    }, until - performance.now());
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
        const result = await store.complete(this.pool, batch);
        this.onCommitted(result, batch.map((e) => e.outcome));
        waiters.forEach((w, i) => w(batch[i]!.successor !== null && result.handedOn.has(batch[i]!.successor!.id)));
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
}
