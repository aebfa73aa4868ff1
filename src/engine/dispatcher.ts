/**
 * One queue owner's dispatcher in this process. It claims from the head of
 * the queue whenever it is woken (a NOTIFY, a poll, a slot freed here) and
 * runs what it claimed. The database decides how many may run (the level,
 * across every process); the dispatcher only bounds what this process holds.
 *
 * Hand-offs: under a level, a claim also reserves the next few messages for
 * this process; when a call ends, the next reserved one starts at once in its
 * slot, and the next claim reports both, one for one (handOffs.ts). The
 * ended call's outcome commits only after that report, so that no commit
 * frees the slot twice.
 *
 * When it claims is decided by a pure reducer (claimPump.ts: modes idle,
 * claiming, heldBack; whether the queue may have work; stopping), fed
 * every event here and changed by nothing else; this class performs its
 * effects (a claim, a wake later) and counts how many a claim asks for.
 * Once stop() is called it claims nothing more and gives its reservations
 * back; running calls go on until the engine drains or aborts them, and
 * their hand-off reports still go out.
 */
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import { INITIAL_PUMP_STATE, pumpReducer, type PumpEffect, type PumpEvent, type PumpState } from './claimPump';
import type { ClaimedMessage } from './message';
import { HandOffs, REPORT_DELAY_MS } from './handOffs';
import { asksToSlowDown, callFailureOf, type Outcome } from './outcome';
import type { AbortReason } from './runMessage';
import * as store from './store';

export interface DispatcherDeps {
  pool: Pool;
  leaseMs: number;
  /** The most messages of one queue this process runs at once (burst mode's practical bound). */
  maxInFlight: number;
  run(message: ClaimedMessage, controller: AbortController): Promise<Outcome>;
  /** Resolves when the outcome is committed (its slot is free in the database). */
  complete(outcome: Outcome): Promise<void>;
  /**
   * Runs before a finished call's slot is given back (records a rate limit's
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
/** Messages started here whose outcome has not committed, per call allowed in flight (see `room`). */
const UNCOMMITTED_PER_CALL = 2;
const UNEXPECTED_FAILURE_RETRY_MS = 5000;

export class QueueDispatcher {
  /** Started here, outcome not committed yet (their leases are ours to keep alive). */
  private readonly running = new Map<string, Running>();
  /** Of those, the calls whose connector has not answered yet. */
  private readonly calls = new Map<string, Running>();
  /** Calls that ended whose slots the database has not been told about yet: the next claim tells it. */
  private finished: ClaimedMessage[] = [];
  private readonly handOffs = new HandOffs();
  /**
   * When to claim (claimPump.ts), changed only by `feed`. While a pause is
   * being recorded (a call drew a rate limit, or a used-up limit) no claim
   * goes out: it would read the level and the pause from before the rate
   * limit, start calls into the same limit, and allow hand-offs at the old
   * level (`npm run bench -- hiddenConcurrency` with BENCH_ENDPOINT_TRACE: a
   * second 429 right after each failed probe, taking the ceiling one below
   * the limit). While the queue is drained a call's end claims nothing
   * (`npm run bench -- latency`: that claim was in flight just when the next
   * message's NOTIFY arrived, which then waited behind it).
   */
  private pump: PumpState = INITIAL_PUMP_STATE;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly ownerId: string,
    private readonly deps: DispatcherDeps,
  ) {}

  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Reservations held here. No NOTIFY or poll announces them (they are hidden
   * from every claim but ours), so the engine wakes such a dispatcher at each
   * poll, and after its outcomes commit when a slot is idle (outcomesCommitted).
   */
  get holdsReservations(): boolean {
    return this.handOffs.held > 0;
  }

  /**
   * Outcomes of this queue committed, freeing their slots. A claim that ran
   * while one of them was committing skipped its row and saw no free slot;
   * if reservations wait here and a slot here is idle, nothing else would
   * start them. Otherwise no claim: one after every commit was a statement
   * per call more (`npm run bench -- hiddenConcurrency`: 1,914 claims for
   * 2,000 calls at a fixed level 4 with hand-offs).
   */
  outcomesCommitted(): void {
    if (this.handOffs.held > 0 && this.calls.size < (this.handOffs.level ?? Infinity)) this.wake();
  }

  /**
   * A connection of this queue changed state (NOTIFY sluice_state): claim,
   * and hand nothing off before that claim has read the new state (a pause
   * must hold the reservations held here too).
   */
  notified(): void {
    this.handOffs.mayHaveChanged();
    this.wake();
  }

  wake(): void {
    this.feed({ type: 'woken', hasReport: this.hasReport });
  }

  /**
   * A message an enqueue started for this process (startOnEnqueue.ts): it
   * counts against the level already. It runs, unless this process may not
   * start anything now (stopping, a pause being recorded, its own bounds):
   * then it goes back to its queue, at its place, for a claim.
   */
  startedOnEnqueue(message: ClaimedMessage): void {
    if (this.pump.stopping || this.pump.pausesBeingRecorded > 0 || this.room <= 0) {
      void this.deps.complete({ kind: 'release', message });
      return;
    }
    this.start(message);
  }

  /**
   * A probe's message (connectionHealth.ts), started by its own claim and
   * counted against the level already: it runs like any call. False: this
   * process may not start anything now (stopping); it stays leased until it
   * runs out, and another probe sends it.
   */
  startProbe(message: ClaimedMessage): boolean {
    if (this.pump.stopping) return false;
    this.start(message);
    return true;
  }

  /**
   * A call here ended, freeing a slot: worth a claim only if there may be
   * more to start. Reservations held here are: no NOTIFY or poll announces
   * them (they are hidden from every claim but ours), so a queue that looks
   * drained while it holds some would otherwise keep them, leases extended,
   * until some other wake.
   */
  private slotFreed(): void {
    this.feed({ type: 'slotFreed', holdsReservations: this.handOffs.held > 0, hasReport: this.hasReport });
  }

  /**
   * How many more calls this process may start for the queue. The bound is
   * on calls whose connector has not answered (maxInFlight); an ended call
   * whose outcome waits for its group commit is not a call any more. While
   * it counted, a slot stayed taken for the commit's linger and round trip
   * too, several milliseconds against a fast API: a burst queue's 200 slots
   * ran at about 30 ms each, most of it waiting for commits (`npm run bench
   * -- burstDrain`, sluice_call_duration_seconds). Outcomes waiting for
   * their commit count against twice the bound, so that a database slow to
   * commit holds claims back rather than letting claimed messages pile up.
   */
  private get room(): number {
    return Math.min(this.deps.maxInFlight - this.calls.size, UNCOMMITTED_PER_CALL * this.deps.maxInFlight - this.running.size, this.deps.budgetRoom());
  }

  /** What the next claim must tell the database even if nothing else is to be done. */
  private get hasReport(): boolean {
    return this.reportWhen(this.pump.stopping);
  }

  /** hasReport, as it is once stopping when `stopping`. */
  private reportWhen(stopping: boolean): boolean {
    return this.finished.length > 0 || this.handOffs.unreported > 0 || (stopping && this.handOffs.held > 0);
  }

  /** The only way the claim decisions change: the reducer's next state, then its effects. */
  private feed(event: PumpEvent): void {
    const step = pumpReducer(this.pump, event);
    this.pump = step.state;
    for (const effect of step.effects) this.perform(effect);
  }

  private perform(effect: PumpEffect): void {
    switch (effect.type) {
      case 'claim':
        void this.claim();
        return;
      case 'wakeIn':
        this.wakeIn(effect.ms);
        return;
      case 'retryLater':
        setTimeout(() => this.wake(), CLAIM_RETRY_MS).unref();
        return;
      default: {
        const unreachable: never = effect;
        throw new Error(`unknown pump effect ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /** Something to tell the database, or room for more: a claim, now or after the one in flight. */
  private claimSoon(): void {
    this.feed({ type: 'claimWanted', hasReport: this.hasReport });
  }

  /** One claim (the pump's `claim` effect); its answer is fed back, whatever it is. */
  private async claim(): Promise<void> {
    const stopping = this.pump.stopping;
    const room = stopping ? 0 : this.room;
    if (room <= 0 && !this.hasReport) {
      this.feed({ type: 'nothingToClaim' });
      return;
    }
    const finished = this.finished.splice(0);
    const sent = this.handOffs.nextClaim(stopping);
    let claimed: ClaimedMessage[];
    let answer: Omit<Extract<PumpEvent, { type: 'claimAnswered' }>, 'type' | 'fullBatch' | 'hasReport'>;
    try {
      const claim = await store.claim(this.deps.pool, this.ownerId, Math.max(0, room), this.deps.leaseMs, { finished, ...sent.report });
      const handedOff = this.handOffs.claimed(sent, claim, finished, this.pump.stopping);
      claimed = handedOff.start;
      answer = { drained: claim.drained, waitMs: claim.waitMs, againForHandOffs: handedOff.again };
    } catch (error) {
      this.finished.unshift(...finished);
      this.handOffs.claimFailed(sent);
      this.deps.logger.warn({ err: error, queueOwnerId: this.ownerId }, 'claiming failed; retrying');
      this.feed({ type: 'claimFailed' });
      return;
    }
    try {
      if (this.pump.stopping) {
        // Claimed while stopping: hand them straight back.
        for (const message of claimed) void this.deps.complete({ kind: 'release', message });
        this.checkIdle();
      } else {
        for (const message of claimed) this.start(message);
      }
    } finally {
      this.feed({ type: 'claimAnswered', ...answer, fullBatch: room > 0 && claimed.length === room, hasReport: this.hasReport });
    }
  }

  private wakeTimer: NodeJS.Timeout | null = null;
  private reportTimer: NodeJS.Timeout | null = null;

  /** A hand-off happened: claim now if the reservations run low, else soon, with whatever else ends meanwhile. */
  private reportHandOffs(): void {
    if (this.handOffs.reportDue) {
      this.claimSoon();
      return;
    }
    if (this.reportTimer) return;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = null;
      if (this.hasReport) this.claimSoon();
    }, REPORT_DELAY_MS);
    this.reportTimer.unref();
  }

  private wakeIn(ms: number): void {
    if (this.wakeTimer) return;
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
    const entry: Running = { message, controller };
    // A message may be claimed again (after a retry) before its last
    // attempt's outcome has left `running`: the new entry replaces it.
    this.running.set(message.id, entry);
    this.calls.set(message.id, entry);
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
        this.calls.delete(message.id);
        // The queue may be pausing, or its application away: no hand-off
        // before a claim has looked, and no claim before it is recorded.
        const slowsDown = asksToSlowDown(called) || callFailureOf(called) !== undefined;
        if (slowsDown) {
          this.handOffs.slowedDown();
          this.feed({ type: 'pauseRecordingStarted' });
        }
        // A rate limit pauses the queue before the slot is given back, so
        // that no claim in between sends the next message into another 429.
        let outcome = called;
        try {
          outcome = await this.deps.beforeRelease(called);
        } finally {
          if (slowsDown) this.feed({ type: 'pauseRecorded', hasReport: this.hasReport });
        }
        // The call is over: its slot is free for the next claim, which need
        // not wait for the outcome's commit (the 'done' state, sql/functions/sluice_claim_messages.sql).
        this.finished.push(message);
        // A hand-off keeps the calls in flight as they are; over the engine's budget, they must drop.
        const successor = this.handOffs.take(this.calls.size, this.deps.budgetRoom() >= 0);
        // The outcome waits for the claim that reports this call ended when
        // its slot was handed off, and when the call was itself a hand-off no
        // claim has answered for yet: its row is a reservation until then,
        // and a retry committed first was undone by the report (its attempt
        // lost, one call more).
        if (successor || this.handOffs.isUnconfirmed(message)) {
          const reported = this.handOffs.reported(message);
          if (successor) this.start(successor);
          this.reportHandOffs();
          await reported;
        } else {
          this.slotFreed();
        }
        return this.deps.complete(outcome);
      })
      .catch((error: unknown) => this.deps.logger.error({ err: error, messageId: message.id }, 'recording an outcome failed unexpectedly'))
      .finally(() => {
        const wasFull = this.running.size >= UNCOMMITTED_PER_CALL * this.deps.maxInFlight;
        if (this.running.get(message.id) === entry) this.running.delete(message.id);
        this.checkIdle();
        // The call's end already woke the queue; only the bound on uncommitted outcomes may have held a claim back.
        if (wasFull) this.slotFreed();
      });
  }

  private checkIdle(): void {
    if (this.running.size === 0 && this.handOffs.held === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Aborts this process's running calls of a job (canceled) or all of them (shutdown). */
  abort(reason: AbortReason, jobId?: string): void {
    for (const { message, controller } of this.running.values()) {
      if (jobId === undefined || message.jobId === jobId) controller.abort(reason);
    }
  }

  /** Leases to keep alive: every message claimed here whose outcome has not committed, and the reservations. */
  leased(): ClaimedMessage[] {
    return [...[...this.running.values()].map((r) => r.message), ...this.handOffs.leased()];
  }

  /** Claims nothing more; the reservations go back to the queue with the next report. */
  stop(): void {
    this.handOffs.stop();
    this.feed({ type: 'stopRequested', hasReport: this.reportWhen(true) });
  }

  /** Resolves when nothing of this queue runs here any more and no reservation is held. */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.handOffs.held === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
