/**
 * One queue owner's dispatcher in this process: it performs what the queue's
 * slots decide (slots.ts, a pure reducer fed every event here and changed by
 * nothing else) — a claim, a call, a commit — and feeds back what they
 * answer. The database decides how many may run (the level, across every
 * process); the dispatcher only bounds what this process holds.
 *
 * One way in: a message starts here only as the slots say, from a claim's
 * answer, from the prefetch in an ended call's slot (a hand-on), or given by
 * an enqueue or a probe (claims made elsewhere for this process). One way
 * out: an ended call's outcome is committed with the prefetched message
 * started in its slot, if any (completionBatch.ts, sluice_complete_messages).
 *
 * Once stop() is called it starts nothing more and gives its prefetch back;
 * running calls go on until the engine drains or aborts them.
 */
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { ClaimedMessage } from './message';
import { asksToSlowDown, callFailureOf, type Outcome } from './outcome';
import type { AbortReason } from './runMessage';
import { INITIAL_SLOTS_STATE, slotsReducer, type SlotsEffect, type SlotsEvent, type SlotsState } from './slots';
import * as store from './store';

export interface DispatcherDeps {
  pool: Pool;
  /** This process's engine (engine_instance.id): its fair share of each level. */
  engineId: string;
  leaseMs: number;
  /** The most messages of one queue this process runs at once (burst mode's practical bound). */
  maxInFlight: number;
  run(message: ClaimedMessage, controller: AbortController): Promise<Outcome>;
  /**
   * Resolves when the outcome is committed, with `successor` (started in the
   * ended call's slot) recorded running in the same statement.
   */
  complete(outcome: Outcome, successor: ClaimedMessage | null): Promise<boolean>;
  /**
   * Runs before a finished call's slot is given up (records a rate limit's
   * pause, or a failed call for the outage detector) and returns the outcome
   * to commit (a call held by its connection's state keeps its place instead
   * of failing); never rejects.
   */
  beforeRelease(outcome: Outcome): Promise<Outcome>;
  onStarted(message: ClaimedMessage): void;
  /** Whether the job was canceled lately: its claimed messages must not start. */
  isCanceled(jobId: string): boolean;
  /**
   * How many more calls the engine's budget across all queues allows
   * (limit/apiShare.ts; Infinity: no bound). The engine wakes a dispatcher it
   * held back when room comes back.
   */
  budgetRoom(): number;
  logger: Logger;
}

interface Running {
  message: ClaimedMessage;
  controller: AbortController;
}

const CLAIM_RETRY_MS = 1000;
const UNEXPECTED_FAILURE_RETRY_MS = 5000;

export class QueueDispatcher {
  private slots: SlotsState = INITIAL_SLOTS_STATE;
  /** Started here, outcome not committed yet (their leases are ours to keep alive). */
  private readonly running = new Map<string, Running>();
  /** Calls that ended, their outcome waiting for the slots' `commit`. */
  private readonly ended = new Map<string, Outcome>();
  private idleWaiters: (() => void)[] = [];
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakeAt = 0;

  constructor(
    readonly ownerId: string,
    private readonly deps: DispatcherDeps,
  ) {}

  get inFlight(): number {
    return this.running.size;
  }

  /** Prefetched messages are held here: no NOTIFY announces them, so the engine's poll wakes such a dispatcher. */
  get holdsPrefetch(): boolean {
    return this.slots.prefetch.length > 0;
  }

  wake(): void {
    this.feed({ type: 'woken' });
  }

  /** A connection of this queue changed state, or another process paused it: no hand-on before a claim has looked. */
  notified(): void {
    this.feed({ type: 'changed' });
  }

  /** A message an enqueue started for this process (startOnEnqueue.ts): it runs, or goes back to its place. */
  startedOnEnqueue(message: ClaimedMessage): void {
    this.feed({ type: 'given', message, by: 'enqueue' });
  }

  /**
   * A probe's message (connectionHealth.ts), started by its own claim: it
   * runs like any call. False: stopping; it stays leased until it runs out,
   * and another probe sends it.
   */
  startProbe(message: ClaimedMessage): boolean {
    if (this.slots.stopping) return false;
    this.feed({ type: 'given', message, by: 'probe' });
    return true;
  }

  /** A job was canceled: its running calls here abort, its prefetch here is dropped (its rows are gone). */
  jobCanceled(jobId: string): void {
    this.abort('canceled', jobId);
    this.feed({ type: 'jobCanceled', jobId });
  }

  /** Aborts this process's running calls of a job (canceled) or all of them (shutdown). */
  abort(reason: AbortReason, jobId?: string): void {
    for (const { message, controller } of this.running.values()) {
      if (jobId === undefined || message.jobId === jobId) controller.abort(reason);
    }
  }

  /** Leases to keep alive: every message started here whose outcome has not committed, and the prefetch. */
  leased(): ClaimedMessage[] {
    return [...[...this.running.values()].map((r) => r.message), ...this.slots.prefetch];
  }

  /** Starts nothing more; the prefetch goes back to the queue. */
  stop(): void {
    this.feed({ type: 'stopRequested' });
  }

  /** Resolves when nothing of this queue runs here any more and no prefetch is held. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.running.size === 0 && this.slots.prefetch.length === 0 && this.slots.mode.kind !== 'claiming';
  }

  /** The only way the slots change: the reducer's next state, then its effects. */
  private feed(event: SlotsEvent): void {
    const budget = this.deps.budgetRoom() + this.running.size;
    const step = slotsReducer(this.slots, event, { maxInFlight: this.deps.maxInFlight, budget });
    this.slots = step.state;
    for (const effect of step.effects) this.perform(effect);
    if (this.idleWaiters.length > 0 && this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  private perform(effect: SlotsEffect): void {
    switch (effect.type) {
      case 'claim':
        void this.claim(effect);
        return;
      case 'start':
        this.start(effect.message);
        return;
      case 'commit':
        void this.commit(effect.messageId, effect.successor);
        return;
      case 'release':
        void this.deps.complete({ kind: 'release', message: effect.message }, null);
        return;
      case 'wakeIn':
        this.wakeIn(effect.ms);
        return;
      case 'retryLater':
        setTimeout(() => this.wake(), CLAIM_RETRY_MS).unref();
        return;
      default: {
        const unreachable: never = effect;
        throw new Error(`unknown slots effect ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /** One claim (the slots' `claim` effect); its answer is fed back, whatever it is. */
  private async claim(effect: Extract<SlotsEffect, { type: 'claim' }>): Promise<void> {
    let answer: store.Claim;
    try {
      answer = await store.claim(this.deps.pool, this.ownerId, {
        engineId: this.deps.engineId,
        max: effect.max,
        calls: effect.calls,
        prefetch: effect.prefetch,
        held: effect.held,
        leaseMs: this.deps.leaseMs,
      });
    } catch (error) {
      this.deps.logger.warn({ err: error, queueOwnerId: this.ownerId }, 'claiming failed; retrying');
      this.feed({ type: 'claimFailed' });
      return;
    }
    this.feed({ type: 'claimAnswered', answer });
  }

  private async commit(messageId: string, successor: ClaimedMessage | null): Promise<void> {
    const outcome = this.ended.get(messageId);
    if (!outcome) return;
    this.ended.delete(messageId);
    let handedOn = false;
    try {
      handedOn = await this.deps.complete(outcome, successor);
    } catch (error) {
      this.deps.logger.error({ err: error, messageId }, 'recording an outcome failed unexpectedly');
    }
    if (this.running.get(messageId)?.message === outcome.message) this.running.delete(messageId);
    // A hand-on the commit did not record (a claim had started the successor
    // already, or its row was gone) freed the slot instead.
    this.feed({ type: 'committed', freed: !handedOn });
  }

  /** Wakes the queue in `ms`, or sooner if an earlier wake is set already (a state's 60 s fallback must not hold back the end of a 100 ms pause). */
  private wakeIn(ms: number): void {
    const at = performance.now() + ms;
    if (this.wakeTimer && this.wakeAt <= at) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.wake();
    }, ms);
    this.wakeTimer.unref();
  }

  private start(message: ClaimedMessage): void {
    const controller = new AbortController();
    // The cancel's NOTIFY may have landed between this claim's commit and now,
    // when abort() could not see the message yet.
    if (this.deps.isCanceled(message.jobId)) controller.abort('canceled' satisfies AbortReason);
    // A message may be claimed again (after a retry) before its last
    // attempt's outcome has committed: the new entry replaces it.
    this.running.set(message.id, { message, controller });
    this.deps.onStarted(message);
    void this.deps
      .run(message, controller)
      .catch((error: unknown): Outcome => {
        // run() never rejects by contract (runMessage.ts); should it ever, the
        // message goes back to its queue instead of leaking its slot or
        // taking the process down with an unhandled rejection.
        this.deps.logger.error({ err: error, messageId: message.id, queueOwnerId: this.ownerId }, 'running a message failed unexpectedly; it goes back to its queue');
        return { kind: 'retry', message, delayMs: UNEXPECTED_FAILURE_RETRY_MS, refund: false, reason: 'internal error' };
      })
      .then(async (called) => {
        // The queue may be pausing, or its application away: no hand-on and
        // no claim before it is recorded, so that nothing in between sends
        // the next message into another 429.
        const slowsDown = asksToSlowDown(called) || callFailureOf(called) !== undefined;
        if (slowsDown) this.feed({ type: 'slowingDown' });
        let outcome = called;
        try {
          outcome = await this.deps.beforeRelease(called);
        } catch (error) {
          this.deps.logger.error({ err: error, messageId: message.id }, 'recording a slowdown failed unexpectedly');
        }
        this.ended.set(message.id, outcome);
        this.feed({ type: 'callEnded', messageId: message.id, slowedDown: slowsDown });
      })
      .catch((error: unknown) => this.deps.logger.error({ err: error, messageId: message.id }, 'ending a call failed unexpectedly'));
  }
}
