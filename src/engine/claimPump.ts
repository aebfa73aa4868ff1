/**
 * When a queue's dispatcher claims: the decisions of the dispatcher's claim
 * loop, as a pure reducer `(state, event) → (state, effects)`, with no
 * timers and no I/O (tested by feeding events: test/engine/claimPump.test.ts).
 * The dispatcher (dispatcher.ts) feeds it what happens and performs the
 * effects; how many messages a claim asks for (the room) is the dispatcher's
 * to count when it performs a `claim`.
 *
 * Modes:
 *   idle       no claim in flight.
 *   claiming   one claim in flight; `again`: something happened meanwhile
 *              that the claim may not have seen (a wake, a freed slot, a
 *              full batch), so one more claim goes out when it answers.
 *              Claims coalesce: never two in flight for one queue here.
 *   heldBack   a claim is due but a pause is being recorded (a call drew a
 *              rate limit, or said the limit is used up): it would read the
 *              level and the pause from before, and start calls into the
 *              same limit. It goes out when the last such pause is recorded.
 *
 * Beside the mode:
 *   mayHaveWork  false once a claim says the queue is drained (and nothing
 *                woke it while that claim was in flight); true again on any
 *                wake. While false, a freed slot claims nothing: that claim
 *                would only report the slot of an empty queue, and on an
 *                idle queue it was in flight just when the next message's
 *                NOTIFY came, which then waited behind it. The slot is
 *                freed by the outcome's commit, or reported by the next claim.
 *   stopping     stop() was called: a claim goes out only to carry a report
 *                (calls ended, hand-offs, reservations to give back).
 *   pausesBeingRecorded   how many.
 */

export type PumpMode = { kind: 'idle' } | { kind: 'claiming'; again: boolean } | { kind: 'heldBack' };

export interface PumpState {
  readonly mode: PumpMode;
  readonly mayHaveWork: boolean;
  readonly stopping: boolean;
  readonly pausesBeingRecorded: number;
}

/** What the dispatcher knows when it feeds an event: whether the database must be told something (a claim must go out even if nothing is to start). */
interface Report {
  hasReport: boolean;
}

export type PumpEvent =
  /** A NOTIFY, a poll, the end of a pause or a backoff, committed outcomes: the queue may have work. */
  | ({ type: 'woken' } & Report)
  /** Something to tell the database (a hand-off report falls due), or room came back. */
  | ({ type: 'claimWanted' } & Report)
  /** A call here ended and its slot is free (or the bound on uncommitted outcomes eased). */
  | ({ type: 'slotFreed'; holdsReservations: boolean } & Report)
  /** The dispatcher counted no room and has nothing to report: the claim it was asked for does not go out. */
  | { type: 'nothingToClaim' }
  /** The claim answered and what it returned was started (or, stopping, given back). */
  | ({
      type: 'claimAnswered';
      /** Fewer messages were ready than asked for. */
      drained: boolean;
      /** Paused or at its rateLimit: how long until something can start. */
      waitMs: number | null;
      /** The hand-offs ask for one more claim (handOffs.ts). */
      againForHandOffs: boolean;
      /** As many messages came as were asked for: there may be more. */
      fullBatch: boolean;
    } & Report)
  | { type: 'claimFailed' }
  | { type: 'pauseRecordingStarted' }
  | ({ type: 'pauseRecorded' } & Report)
  | ({ type: 'stopRequested' } & Report);

export type PumpEffect =
  /** Claim now (the dispatcher counts the room, and answers nothingToClaim, claimAnswered or claimFailed). */
  | { type: 'claim' }
  /** Wake the queue in `ms` (nobody will NOTIFY when a pause or a rate window is over). */
  | { type: 'wakeIn'; ms: number }
  /** The claim failed: wake the queue again a little later. */
  | { type: 'retryLater' };

export interface PumpStep {
  state: PumpState;
  effects: PumpEffect[];
}

export const INITIAL_PUMP_STATE: PumpState = { mode: { kind: 'idle' }, mayHaveWork: true, stopping: false, pausesBeingRecorded: 0 };

const IDLE: PumpMode = { kind: 'idle' };

export function pumpReducer(state: PumpState, event: PumpEvent): PumpStep {
  switch (event.type) {
    case 'woken':
      return wantClaim({ ...state, mayHaveWork: true }, event.hasReport);
    case 'claimWanted':
      return wantClaim(state, event.hasReport);
    case 'slotFreed':
      // Worth a claim only if there may be more to start. Reservations held
      // here are: no NOTIFY or poll announces them (they are hidden from every
      // claim but ours).
      return state.mayHaveWork || event.holdsReservations ? wantClaim(state, event.hasReport) : unchanged(state);
    case 'nothingToClaim':
      return { state: { ...state, mode: IDLE }, effects: [] };
    case 'claimAnswered': {
      if (state.mode.kind !== 'claiming') throw new Error(`a claim answered in mode ${state.mode.kind}`);
      let again = state.mode.again || event.againForHandOffs;
      // A wake that came in meanwhile may be news this claim did not see: it stands.
      const mayHaveWork = again ? state.mayHaveWork : !event.drained;
      const effects: PumpEffect[] = event.waitMs === null ? [] : [{ type: 'wakeIn', ms: event.waitMs }];
      if (state.stopping) again = again || event.hasReport;
      else again = again || event.fullBatch;
      const next: PumpState = { ...state, mode: IDLE, mayHaveWork };
      if (!again || (state.stopping && !event.hasReport)) return { state: next, effects };
      const step = claimOrHoldBack(next);
      return { state: step.state, effects: [...effects, ...step.effects] };
    }
    case 'claimFailed':
      return { state: { ...state, mode: IDLE }, effects: [{ type: 'retryLater' }] };
    case 'pauseRecordingStarted':
      return { state: { ...state, pausesBeingRecorded: state.pausesBeingRecorded + 1 }, effects: [] };
    case 'pauseRecorded': {
      const pausesBeingRecorded = Math.max(0, state.pausesBeingRecorded - 1);
      const next: PumpState = { ...state, pausesBeingRecorded };
      if (pausesBeingRecorded > 0 || state.mode.kind !== 'heldBack') return { state: next, effects: [] };
      return wantClaim({ ...next, mode: IDLE }, event.hasReport);
    }
    case 'stopRequested':
      return wantClaim({ ...state, stopping: true }, event.hasReport);
    default: {
      const unreachable: never = event;
      throw new Error(`unknown pump event ${JSON.stringify(unreachable)}`);
    }
  }
}

const unchanged = (state: PumpState): PumpStep => ({ state, effects: [] });

/** A claim is wanted: it goes out now, or after the one in flight, or once the pauses are recorded. */
function wantClaim(state: PumpState, hasReport: boolean): PumpStep {
  if (state.stopping && !hasReport) return unchanged(state);
  switch (state.mode.kind) {
    case 'claiming':
      return state.mode.again ? unchanged(state) : { state: { ...state, mode: { kind: 'claiming', again: true } }, effects: [] };
    case 'idle':
    case 'heldBack':
      return claimOrHoldBack(state);
    default: {
      const unreachable: never = state.mode;
      throw new Error(`unknown pump mode ${JSON.stringify(unreachable)}`);
    }
  }
}

function claimOrHoldBack(state: PumpState): PumpStep {
  if (state.pausesBeingRecorded > 0) return { state: { ...state, mode: { kind: 'heldBack' } }, effects: [] };
  return { state: { ...state, mode: { kind: 'claiming', again: false } }, effects: [{ type: 'claim' }] };
}
