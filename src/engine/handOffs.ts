/**
 * Hand-offs of one queue's dispatcher: the messages the database reserved
 * for this process (sql/functions/sluice_claim_messages.sql), which of
 * them were started in an ended call's slot and must be reported, and
 * whether a hand-off is allowed now.
 *
 * A hand-off is allowed while the last claim said the queue is not paused,
 * its level leaves room and is at most HAND_OFF_MAX_LEVEL, and no call has
 * drawn a rate limit since that claim was sent. A rate limit also makes the
 * next claim give the reservations back, so that the message that drew it
 * (back at the head of the queue) is not overtaken by newer reserved ones.
 *
 * The protocol with the claim: `nextClaim()` says what to report and how
 * many to reserve; `claimed()` takes the claim's answer (and returns the
 * messages to start), or `claimFailed()` puts the report back for the next.
 */
import type { ClaimedMessage } from './message';
import type { Claim, ClaimReport } from './store';

/**
 * Reservations a dispatcher holds (at most the level). Enough for the calls
 * that end during one claim's round trip at the levels where a round trip
 * matters (a few ms against calls of tens of ms); each one held is a message
 * no other process can take meanwhile.
 */
const RESERVATIONS = 4;
/**
 * Hand-offs only up to this level; 0: off. They pay where a claim's round
 * trip is a large share of each slot's time and the process has CPU to
 * spare: at level 4 against a 20 ms endpoint +17 % records/s (`npm run bench
 * -- level` with BENCH_LEVEL=4: 143–152 → 170–176/s); at level 25 the server
 * is short of CPU instead, and they cost 10 % (609–642 → 544–574/s).
 */
const HAND_OFF_MAX_LEVEL = 8;
/** The longest a hand-off waits to be reported while reservations are left (see reportDue). */
export const REPORT_DELAY_MS = 10;

/** What one claim was sent with, for reading its answer. */
export interface SentClaim {
  report: Required<Pick<ClaimReport, 'started' | 'held' | 'reserve'>>;
  /** Rate limits seen when it was sent: a claim sent before the latest cannot allow hand-offs. */
  slowDowns: number;
  releasing: boolean;
}

export class HandOffs {
  /** Held here, not started, oldest first. */
  private reserved: ClaimedMessage[] = [];
  /** Started here in an ended call's slot, not reported yet. */
  private started: ClaimedMessage[] = [];
  /** Hand-offs sent in claims not answered yet. */
  private readonly reporting = new Set<string>();
  /** Ended calls whose slot was handed off: their outcome waits for the claim that reports it. */
  private readonly awaitingReport = new Map<string, () => void>();
  /** The level the last claim obeyed while a hand-off is allowed; null: not allowed. */
  private allowedLevel: number | null = null;
  /** The level the last claim obeyed (null: none yet, or burst). */
  private lastLevel: number | null = null;
  private slowDowns = 0;
  private releaseNext = false;
  private stopped = false;

  get held(): number {
    return this.reserved.length;
  }

  /** The level the last claim obeyed (null: none yet, or burst). */
  get level(): number | null {
    return this.lastLevel;
  }

  /** Hand-offs not reported yet. */
  get unreported(): number {
    return this.started.length;
  }

  /**
   * Whether a claim should go out now to report the hand-offs and top the
   * reservations up, or may wait a little (REPORT_DELAY_MS) so that one
   * claim reports several: one is left (at a fixed level 4, one claim per two
   * calls at half left, per three at one left, and goodput no lower). A claim per hand-off
   * was two statements per call (the claim, then the outcome's commit that
   * waits for it), and a socket write is what a call costs most here
   * (`npm run bench -- hiddenConcurrency` with BENCH_SERVER_NODE_ARGS=--cpu-prof:
   * writev 12 % of the server's time at a fixed level 4).
   */
  get reportDue(): boolean {
    return this.reserved.length <= RESERVATIONS / 4;
  }

  /** The leases to keep alive besides the running calls'. */
  leased(): ClaimedMessage[] {
    return [...this.reserved];
  }

  /**
   * Another process changed something of the queue (its NOTIFY): it may be
   * a pause or a state change, so no hand-off before a claim sent after it
   * has looked. The reservations stay (the claim gives them back if the
   * queue is held).
   */
  mayHaveChanged(): void {
    this.allowedLevel = null;
    this.slowDowns++;
  }

  /** A call drew a rate limit (or a used-up limit): no hand-off before a claim has looked, and the reservations go back. */
  slowedDown(): void {
    this.allowedLevel = null;
    this.slowDowns++;
    this.releaseNext = true;
  }

  /** Stopping: no more hand-offs; the next claim gives the reservations back. */
  stop(): void {
    this.stopped = true;
    this.allowedLevel = null;
  }

  /**
   * The reservation to start in the slot of a call that just ended, if a
   * hand-off is allowed with `callsInFlight` still running; the ended call's
   * outcome then waits for `reported(ended)`.
   */
  take(callsInFlight: number, withinBudget: boolean): ClaimedMessage | undefined {
    if (this.stopped || this.allowedLevel === null || callsInFlight >= this.allowedLevel || !withinBudget) return undefined;
    // One of a canceled job is handed off too: the dispatcher's start aborts
    // it before any call (its row went with the job's other queued ones).
    const next = this.reserved.shift();
    if (next === undefined) return undefined;
    this.started.push(next);
    return next;
  }

  /**
   * Whether `message` was started here in a hand-off that no claim has
   * answered for yet: not reported, or reported in a claim still on its way.
   * Its row is a reservation until that claim commits.
   */
  isUnconfirmed(message: ClaimedMessage): boolean {
    return this.reporting.has(message.id) || this.started.some((m) => m.id === message.id);
  }

  /** Resolves once a claim has reported the hand-off of `ended`'s slot. */
  reported(ended: ClaimedMessage): Promise<void> {
    return new Promise((resolve) => this.awaitingReport.set(ended.id, resolve));
  }

  nextClaim(stopping: boolean): SentClaim {
    const releasing = stopping || this.releaseNext;
    this.releaseNext = false;
    // Reservations once a claim has said the level, and only where hand-offs apply.
    const reserve = !releasing && this.lastLevel !== null && this.lastLevel <= HAND_OFF_MAX_LEVEL ? RESERVATIONS : 0;
    const started = this.started.splice(0);
    for (const m of started) this.reporting.add(m.id);
    return { report: { started, held: [...this.reserved], reserve }, slowDowns: this.slowDowns, releasing };
  }

  claimFailed(sent: SentClaim): void {
    for (const m of sent.report.started) this.reporting.delete(m.id);
    this.started.unshift(...sent.report.started);
    if (sent.releasing) this.releaseNext = true;
  }

  /**
   * Takes a claim's answer: `finished` (what it reported ended) may commit
   * their outcomes now. Returns the messages to start, and whether to claim
   * again at once (a release claims nothing).
   */
  claimed(sent: SentClaim, claim: Claim, finished: readonly ClaimedMessage[], stopping: boolean): { start: ClaimedMessage[]; again: boolean } {
    for (const m of sent.report.started) this.reporting.delete(m.id);
    for (const message of finished) {
      this.awaitingReport.get(message.id)?.();
      this.awaitingReport.delete(message.id);
    }
    // A claim asking for none leaves none of ours reserved: it gave back the
    // held ones, or they were gone already (a cancel deletes a job's queued
    // messages, reserved ones too). Kept, such ghosts would hold a stopping
    // dispatcher's idle() until the grace period ran out.
    if (claim.released || sent.report.reserve === 0) this.reserved = [];
    // Free slots went to held reservations first (the lease stays the same).
    // One handed off here while this claim was in flight runs already, and
    // counts from now on either way: not twice.
    const heldSent = new Set(sent.report.held.map((m) => m.id));
    const heldNow = new Set(this.reserved.map((m) => m.id));
    const start = claim.messages.filter((m) => !heldSent.has(m.id) || heldNow.has(m.id));
    const startNow = new Set(start.map((m) => m.id));
    this.reserved = [...this.reserved.filter((m) => !startNow.has(m.id)), ...claim.reserved];
    this.lastLevel = claim.levelInUse;
    const fresh = this.slowDowns === sent.slowDowns && !sent.releasing;
    const level = claim.levelInUse;
    this.allowedLevel = fresh && claim.waitMs === null && level !== null && level <= HAND_OFF_MAX_LEVEL ? level : null;
    return { start, again: claim.released && heldSent.size > 0 && !stopping };
  }
}
