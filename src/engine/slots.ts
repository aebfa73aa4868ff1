/**
 * One queue's slots in this process: what its dispatcher decides, as a pure
 * reducer `(state, event, env) → (state, effects)`, with no timers and no
 * I/O (tested by feeding events: test/engine/slots.test.ts). The dispatcher
 * (dispatcher.ts) feeds it everything that happens and performs the effects.
 *
 * The model (docs/engine.md, "Slots and the local queue"). A queue owner has
 * `level` slots, counted in PostgreSQL as its rows in state 'running', across
 * every process. Messages reach this process one way, the claim
 * (sql/functions/sluice_claim.sql): it starts some now (in free slots) and,
 * under a level, leases the next few here as the prefetch. A slot is freed
 * one way, the commit of the outcome of the call in it
 * (sluice_complete_messages): when the call ends, the oldest prefetched
 * message starts in its slot at once ("hand-on"), and that same commit
 * records it running, so the count never moves; with nothing to hand on,
 * the commit frees the slot for the next claim. A message an enqueue started
 * for this engine, and a probe's message, are claims made elsewhere for this
 * process: they arrive as `given`.
 *
 * Modes:
 *   idle       no claim in flight.
 *   claiming   one claim in flight (never two for one queue here); `woken`:
 *              new work may have come meanwhile, so its "drained" does not
 *              stand; `again`: a claim was wanted meanwhile, so once it
 *              answers the next is considered at once.
 *   heldBack   a claim is due but a pause is being recorded (a call drew a
 *              rate limit, or found its application away): a claim now would
 *              read the level and the pause from before and start calls into
 *              the same limit. It goes out when the last one is recorded.
 *
 * A hand-on needs the last claim's word, sent after every change this
 * process heard of (`epoch`): a level, no rateLimit, not paused, every
 * connection ONLINE (`handOn`; `share` bounds how many it keeps). Any change heard
 * (a NOTIFY of the queue's state, a call of its own that slowed the queue
 * down) takes the word back until the next claim; after a slowdown, or an
 * answer saying prefetching is not allowed, the next claim gives the
 * prefetch back (so that the message that drew a 429, back at the head, is
 * not overtaken by younger ones held here).
 */
import type { ClaimedMessage } from './message';
import type { Claim } from './store';

export type SlotsMode = { kind: 'idle' } | { kind: 'claiming'; woken: boolean; again: boolean; sent: SentClaim } | { kind: 'heldBack' };

/** What a claim in flight was sent with, for reading its answer. */
export interface SentClaim {
  /** The epoch when it was sent: an answer to a claim sent before the latest change cannot allow hand-ons. */
  epoch: number;
  /** It gives the prefetch back (prefetch 0). */
  releasing: boolean;
  /** How many it asked to start now. */
  max: number;
  /** The prefetch it reported as held. */
  held: readonly ClaimedMessage[];
}

export interface SlotsState {
  readonly mode: SlotsMode;
  /** stop() was called: nothing more starts; the prefetch goes back. */
  readonly stopping: boolean;
  /** False once a claim said the queue is drained (and nothing woke it meanwhile). */
  readonly mayHaveWork: boolean;
  /** Pauses being recorded before their calls' slots are given up. */
  readonly pausesBeingRecorded: number;
  /** Prefetched here, not started, oldest first. */
  readonly prefetch: readonly ClaimedMessage[];
  /** Calls in flight here (their connector has not answered). */
  readonly calls: number;
  /** Started here, outcome not committed yet (ended calls waiting for their commit included). */
  readonly uncommitted: number;
  /** The level the last claim obeyed; null: burst, or no claim yet. */
  readonly level: number | null;
  /** This process's share of the level (the most calls to keep here); null: burst, or no claim yet. */
  readonly share: number | null;
  /** Whether the last answer allowed prefetching (null: no answer yet). */
  readonly mayPrefetch: boolean | null;
  /** Hand-ons are allowed (the last fresh claim's word). */
  readonly handOn: boolean;
  /** Changes heard so far (see the header). */
  readonly epoch: number;
  /** The next claim gives the prefetch back. */
  readonly releaseNext: boolean;
}

/** What the dispatcher reads from outside the queue when it feeds an event. */
export interface SlotsEnv {
  /** The most calls of one queue this process runs at once (burst mode's practical bound). */
  maxInFlight: number;
  /**
   * How many messages this queue may have started here and not committed,
   * within the engine's budget across all queues (limit/apiShare.ts), the
   * other queues' calls counted; Infinity: no bound. Absolute, not a room,
   * so that starts within one step count against it.
   */
  budget: number;
}

/** The claim's answer (sql/functions/sluice_claim.sql). */
export type ClaimAnswer = Claim;

export type SlotsEvent =
  /** A NOTIFY of new work, a poll, the end of a pause or a backoff: the queue may have work. */
  | { type: 'woken' }
  /** Another process changed something of the queue (a state, a pause): no hand-on before a claim has looked. */
  | { type: 'changed' }
  /** A call here answered and is recording a slowdown (rate limit, application away) before its slot goes. */
  | { type: 'slowingDown' }
  /** A call here ended (its slowdown, if any, recorded): its slot is handed on or freed by its commit. */
  | { type: 'callEnded'; messageId: string; slowedDown: boolean }
  /** An ended call's outcome committed; `freed`: its slot was given up (no successor took it). */
  | { type: 'committed'; freed: boolean }
  | { type: 'claimAnswered'; answer: ClaimAnswer }
  | { type: 'claimFailed' }
  /** A message started for this process elsewhere: by an enqueue (may be refused), or a probe's (runs unless stopping). */
  | { type: 'given'; message: ClaimedMessage; by: 'enqueue' | 'probe' }
  /** A job was canceled: its prefetched messages are gone from the database. */
  | { type: 'jobCanceled'; jobId: string }
  | { type: 'stopRequested' };

export type SlotsEffect =
  /** `calls`: in flight here, for the claim to apply the share it computes now. */
  | { type: 'claim'; max: number; calls: number; prefetch: number; held: readonly ClaimedMessage[] }
  | { type: 'start'; message: ClaimedMessage }
  /** Commit the ended call's outcome; `successor` started in its slot. */
  | { type: 'commit'; messageId: string; successor: ClaimedMessage | null }
  /** Give a message back to its queue unstarted (claimed while stopping, or given when nothing may start). */
  | { type: 'release'; message: ClaimedMessage }
  /** Wake the queue in `ms` (nobody will NOTIFY when a pause or a rate window is over). */
  | { type: 'wakeIn'; ms: number }
  /** The claim failed: wake the queue again a little later. */
  | { type: 'retryLater' };

export interface SlotsStep {
  state: SlotsState;
  effects: SlotsEffect[];
}

/**
 * How many prefetched messages to ask for; the claim holds a process to
 * twice its share of the level. A top-up goes out once no more than the
 * share is left, so it brings about a share's worth: at level 25 one claim
 * per 25 records, at level 4 one per 4, and the calls that end during its
 * round trip (25 every 20 ms against a 20 ms API; a claim takes 1–5 ms) are
 * handed on from what is left. Each one held is a message no other process
 * can take meanwhile (until its lease runs out, should this one die).
 */
export const PREFETCH = 50;
/** Outcomes waiting for their commit, per call allowed in flight (see room). */
const UNCOMMITTED_PER_CALL = 2;

export const INITIAL_SLOTS_STATE: SlotsState = {
  mode: { kind: 'idle' },
  stopping: false,
  mayHaveWork: true,
  pausesBeingRecorded: 0,
  prefetch: [],
  calls: 0,
  uncommitted: 0,
  level: null,
  share: null,
  mayPrefetch: null,
  handOn: false,
  epoch: 0,
  releaseNext: false,
};

/**
 * How many more calls may start here now as far as this process knows:
 * within its bounds (maxInFlight calls in flight; outcomes waiting for their
 * commit count against twice that, so that a database slow to commit holds
 * claims back rather than letting claimed messages pile up) and the
 * engine's budget. The share is the claim's to apply (it computes it afresh:
 * one remembered here from a claim when another engine was still alive
 * would hold the queue back for ever).
 */
export function room(state: SlotsState, env: SlotsEnv): number {
  return Math.max(0, Math.min(env.maxInFlight - state.calls, UNCOMMITTED_PER_CALL * env.maxInFlight - state.uncommitted, env.budget - state.uncommitted));
}

/** The prefetch runs low: no more than the share is left. */
function prefetchLow(state: SlotsState): boolean {
  return state.mayPrefetch !== false && state.share !== null && state.prefetch.length <= state.share;
}

export function slotsReducer(state: SlotsState, event: SlotsEvent, env: SlotsEnv): SlotsStep {
  switch (event.type) {
    case 'woken':
      return want(wokenState(state), env);
    case 'changed':
      return want(wokenState({ ...state, handOn: false, epoch: state.epoch + 1 }), env);
    case 'slowingDown':
      return unchanged({ ...state, handOn: false, epoch: state.epoch + 1, releaseNext: true, pausesBeingRecorded: state.pausesBeingRecorded + 1 });
    case 'callEnded':
      return callEnded(state, event, env);
    case 'committed': {
      const next: SlotsState = { ...state, uncommitted: Math.max(0, state.uncommitted - 1) };
      // A slot freed in the database (burst mode counts none there), or room
      // again under the bound on uncommitted outcomes: worth a claim if there may be more.
      const freedThere = event.freed && state.level !== null;
      if (!freedThere && room(state, env) > 0) return unchanged(next);
      return state.mayHaveWork || next.prefetch.length > 0 ? want(next, env) : unchanged(next);
    }
    case 'claimAnswered':
      return claimAnswered(state, event.answer, env);
    case 'claimFailed':
      return { state: { ...state, mode: IDLE }, effects: [{ type: 'retryLater' }] };
    case 'given': {
      if (event.by === 'probe') return started(state, event.message);
      if (state.stopping || state.pausesBeingRecorded > 0 || room(state, env) <= 0) {
        return { state, effects: [{ type: 'release', message: event.message }] };
      }
      return started(state, event.message);
    }
    case 'jobCanceled': {
      const prefetch = state.prefetch.filter((m) => m.jobId !== event.jobId);
      return unchanged(prefetch.length === state.prefetch.length ? state : { ...state, prefetch });
    }
    case 'stopRequested':
      return want({ ...state, stopping: true, handOn: false }, env);
    default: {
      const unreachable: never = event;
      throw new Error(`unknown slots event ${JSON.stringify(unreachable)}`);
    }
  }
}

const IDLE: SlotsMode = { kind: 'idle' };
const unchanged = (state: SlotsState): SlotsStep => ({ state, effects: [] });

/** Woken: the queue may have work; a claim in flight may not have seen it. */
function wokenState(state: SlotsState): SlotsState {
  const mode = state.mode.kind === 'claiming' ? { ...state.mode, woken: true } : state.mode;
  return { ...state, mode, mayHaveWork: true };
}

function started(state: SlotsState, message: ClaimedMessage): SlotsStep {
  return { state: { ...state, calls: state.calls + 1, uncommitted: state.uncommitted + 1 }, effects: [{ type: 'start', message }] };
}

function callEnded(state: SlotsState, event: Extract<SlotsEvent, { type: 'callEnded' }>, env: SlotsEnv): SlotsStep {
  const pausesBeingRecorded = event.slowedDown ? Math.max(0, state.pausesBeingRecorded - 1) : state.pausesBeingRecorded;
  let next: SlotsState = { ...state, calls: Math.max(0, state.calls - 1), pausesBeingRecorded };
  const successor = handOnTo(next, event.slowedDown, env);
  if (successor) {
    next = { ...next, prefetch: next.prefetch.slice(1), calls: next.calls + 1, uncommitted: next.uncommitted + 1 };
  }
  const effects: SlotsEffect[] = [];
  if (successor) effects.push({ type: 'start', message: successor });
  effects.push({ type: 'commit', messageId: event.messageId, successor });
  // What comes next: a held-back claim once the pauses are recorded; a
  // top-up while hand-ons go on; the prefetch given back after a slowdown;
  // in burst mode (nothing counted in the database) the free slot at once.
  // Otherwise the slot is free once the outcome commits (`committed`).
  let after: SlotsStep;
  if (next.mode.kind === 'heldBack' && pausesBeingRecorded === 0) after = want({ ...next, mode: IDLE }, env);
  else if (successor && next.mayHaveWork && prefetchLow(next)) after = want(next, env);
  else if (next.releaseNext && next.prefetch.length > 0) after = want(next, env);
  else if (next.level === null && next.mayHaveWork) after = want(next, env);
  else after = unchanged(next);
  return { state: after.state, effects: [...effects, ...after.effects] };
}

/** The prefetched message to start in an ended call's slot, if a hand-on is allowed. */
function handOnTo(state: SlotsState, slowedDown: boolean, env: SlotsEnv): ClaimedMessage | null {
  if (state.stopping || !state.handOn || slowedDown || state.share === null) return null;
  // Over the engine's budget (the ended call still counts until its commit), calls must drop.
  if (state.calls >= state.share || state.uncommitted > env.budget) return null;
  return state.prefetch[0] ?? null;
}

function claimAnswered(state: SlotsState, answer: ClaimAnswer, env: SlotsEnv): SlotsStep {
  if (state.mode.kind !== 'claiming') throw new Error(`a claim answered in mode ${state.mode.kind}`);
  const { sent, woken } = state.mode;
  // One of the held ones may have been handed on while the claim was in
  // flight: it runs already, and the claim's start of it (a free slot went
  // to it) is not a second call.
  const stillHeld = new Set(state.prefetch.map((m) => m.id));
  const heldSent = new Set(sent.held.map((m) => m.id));
  const toStart = answer.messages.filter((m) => !heldSent.has(m.id) || stillHeld.has(m.id));
  const startedIds = new Set(toStart.map((m) => m.id));
  // Of what it was told is held, the claim says what is still ours: a row
  // gone (a cancel, a lease lost) must not be handed on, and one a release
  // skipped must not be forgotten while still leased to us.
  const heldKept = new Set(answer.heldKept);
  const kept = state.prefetch.filter((m) => !startedIds.has(m.id) && (!heldSent.has(m.id) || heldKept.has(m.id)));
  const fresh = sent.epoch === state.epoch && !sent.releasing;
  const handOn = fresh && answer.mayPrefetch && answer.waitMs === null && answer.share !== null;
  let next: SlotsState = {
    ...state,
    mode: IDLE,
    mayHaveWork: woken || !answer.drained,
    prefetch: [...kept, ...answer.prefetched],
    level: answer.levelInUse,
    share: answer.share,
    mayPrefetch: answer.mayPrefetch,
    handOn: handOn && !state.stopping,
    releaseNext: (state.releaseNext && !sent.releasing) || (!answer.mayPrefetch && kept.length > 0),
  };
  const effects: SlotsEffect[] = [];
  if (state.stopping) {
    // Claimed while stopping: straight back.
    for (const message of [...toStart, ...answer.prefetched]) effects.push({ type: 'release', message });
    next = { ...next, prefetch: kept };
  } else {
    for (const message of toStart) {
      next = { ...next, calls: next.calls + 1, uncommitted: next.uncommitted + 1 };
      effects.push({ type: 'start', message });
    }
  }
  if (answer.waitMs !== null) effects.push({ type: 'wakeIn', ms: answer.waitMs });
  // Once more at once: news came in meanwhile, as many came as were asked
  // for (there may be more), or the prefetch is to go back.
  // A release answers with nothing else (see sluice_claim.sql): the claim that starts comes next.
  const fullBatch = sent.max > 0 && answer.messages.length >= sent.max;
  const releasedSome = answer.released && sent.held.length > 0 && !state.stopping;
  const again = woken || state.mode.again || fullBatch || releasedSome || (next.releaseNext && next.prefetch.length > 0) || (next.stopping && next.prefetch.length > 0);
  if (!again) return { state: next, effects };
  const step = want(next, env);
  return { state: step.state, effects: [...effects, ...step.effects] };
}

/**
 * A claim may be worth it: it goes out now if there is something to ask for
 * or to give back, after the one in flight, or once the pauses are recorded.
 */
function want(state: SlotsState, env: SlotsEnv): SlotsStep {
  switch (state.mode.kind) {
    case 'claiming':
      return state.mode.again ? unchanged(state) : unchanged({ ...state, mode: { ...state.mode, again: true } });
    case 'heldBack':
      return unchanged(state);
    case 'idle': {
      if (state.stopping) return state.prefetch.length === 0 ? unchanged(state) : claim(state, 0, true);
      if (state.releaseNext && state.prefetch.length > 0) {
        if (state.pausesBeingRecorded > 0) return unchanged({ ...state, mode: { kind: 'heldBack' } });
        return claim(state, 0, true);
      }
      if (state.releaseNext) state = { ...state, releaseNext: false };
      const max = room(state, env);
      const topUp = state.mayHaveWork && prefetchLow(state);
      // Prefetch held without the word to use it (a change was heard): a claim gets it back.
      const needsWord = !state.handOn && state.prefetch.length > 0;
      if (max === 0 && !topUp && !needsWord) return unchanged(state);
      if (!state.mayHaveWork && state.prefetch.length === 0) return unchanged(state);
      if (state.pausesBeingRecorded > 0) return unchanged({ ...state, mode: { kind: 'heldBack' } });
      return claim(state, max, false);
    }
    default: {
      const unreachable: never = state.mode;
      throw new Error(`unknown slots mode ${JSON.stringify(unreachable)}`);
    }
  }
}

function claim(state: SlotsState, max: number, releasing: boolean): SlotsStep {
  const sent: SentClaim = { epoch: state.epoch, releasing, max, held: state.prefetch };
  return {
    state: { ...state, mode: { kind: 'claiming', woken: false, again: false, sent }, handOn: releasing ? false : state.handOn },
    effects: [{ type: 'claim', max: releasing ? 0 : max, calls: state.calls, prefetch: releasing ? 0 : PREFETCH, held: state.prefetch }],
  };
}
