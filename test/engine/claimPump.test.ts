/**
 * The dispatcher's claim decisions (src/engine/claimPump.ts), fed events one
 * by one as the dispatcher feeds them: no database, no timers, no sleeps.
 */
import { INITIAL_PUMP_STATE, pumpReducer, type PumpEffect, type PumpEvent, type PumpState } from '../../src/engine/claimPump';

/** Feeds the events in order; the last state and every effect on the way. */
function feed(events: PumpEvent[], from: PumpState = INITIAL_PUMP_STATE): { state: PumpState; effects: PumpEffect[] } {
  let state = from;
  const effects: PumpEffect[] = [];
  for (const event of events) {
    const step = pumpReducer(state, event);
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}

const woken: PumpEvent = { type: 'woken', hasReport: false };
const answered = (over: Partial<Extract<PumpEvent, { type: 'claimAnswered' }>> = {}): PumpEvent => ({
  type: 'claimAnswered',
  drained: false,
  waitMs: null,
  againForHandOffs: false,
  fullBatch: false,
  hasReport: false,
  ...over,
});
const CLAIM: PumpEffect = { type: 'claim' };

describe('claimPump', () => {
  it('claims when woken while idle, and is idle again once the claim answers', () => {
    const first = feed([woken]);
    expect(first.effects).toEqual([CLAIM]);
    expect(first.state.mode).toEqual({ kind: 'claiming', again: false });
    const after = feed([answered()], first.state);
    expect(after).toEqual({ state: { ...first.state, mode: { kind: 'idle' } }, effects: [] });
  });

  it('coalesces wakes during a claim into one more claim after it answers', () => {
    const { state, effects } = feed([woken, woken, { type: 'claimWanted', hasReport: true }, woken]);
    expect(effects).toEqual([CLAIM]);
    expect(state.mode).toEqual({ kind: 'claiming', again: true });
    const after = feed([answered()], state);
    expect(after.effects).toEqual([CLAIM]);
    expect(after.state.mode).toEqual({ kind: 'claiming', again: false });
  });

  it('claims again after a full batch: there may be more waiting', () => {
    const { state, effects } = feed([woken, answered({ fullBatch: true })]);
    expect(effects).toEqual([CLAIM, CLAIM]);
    expect(state.mode.kind).toBe('claiming');
  });

  it('claims again when the hand-offs ask for it', () => {
    expect(feed([woken, answered({ againForHandOffs: true })]).effects).toEqual([CLAIM, CLAIM]);
  });

  it('claims nothing for a freed slot once the queue is drained, until a wake', () => {
    const drained = feed([woken, answered({ drained: true })]).state;
    expect(drained.mayHaveWork).toBe(false);
    expect(feed([{ type: 'slotFreed', holdsReservations: false, hasReport: true }], drained).effects).toEqual([]);
    const woke = feed([woken], drained);
    expect(woke.effects).toEqual([CLAIM]);
    expect(woke.state.mayHaveWork).toBe(true);
  });

  it('claims for a freed slot of a drained queue while it holds reservations', () => {
    const drained = feed([woken, answered({ drained: true })]).state;
    expect(feed([{ type: 'slotFreed', holdsReservations: true, hasReport: true }], drained).effects).toEqual([CLAIM]);
  });

  it('keeps a wake that came during a claim that says drained: the claim may not have seen its news', () => {
    const { state, effects } = feed([woken, woken, answered({ drained: true })]);
    expect(state.mayHaveWork).toBe(true);
    expect(effects).toEqual([CLAIM, CLAIM]);
  });

  it('comes back when a pause or a rate window ends: nobody will NOTIFY then', () => {
    expect(feed([woken, answered({ waitMs: 1200 })]).effects).toEqual([CLAIM, { type: 'wakeIn', ms: 1200 }]);
  });

  it('holds claims back while pauses are recorded, and sends one when the last is recorded', () => {
    const recording = feed([{ type: 'pauseRecordingStarted' }, { type: 'pauseRecordingStarted' }, woken, woken]);
    expect(recording.effects).toEqual([]);
    expect(recording.state.mode).toEqual({ kind: 'heldBack' });
    const one = feed([{ type: 'pauseRecorded', hasReport: false }], recording.state);
    expect(one.effects).toEqual([]);
    expect(one.state.mode).toEqual({ kind: 'heldBack' });
    const both = feed([{ type: 'pauseRecorded', hasReport: false }], one.state);
    expect(both.effects).toEqual([CLAIM]);
    expect(both.state.pausesBeingRecorded).toBe(0);
  });

  it('holds back the next claim when a pause began while a claim was in flight', () => {
    const { state, effects } = feed([woken, { type: 'pauseRecordingStarted' }, woken, answered()]);
    expect(effects).toEqual([CLAIM]);
    expect(state.mode).toEqual({ kind: 'heldBack' });
    expect(feed([{ type: 'pauseRecorded', hasReport: false }], state).effects).toEqual([CLAIM]);
  });

  it('sends no claim when a pause is recorded with none held back', () => {
    const { state, effects } = feed([{ type: 'pauseRecordingStarted' }, { type: 'pauseRecorded', hasReport: false }]);
    expect(effects).toEqual([]);
    expect(state).toEqual(INITIAL_PUMP_STATE);
  });

  it('is idle when the dispatcher finds no room for the claim', () => {
    expect(feed([woken, { type: 'nothingToClaim' }]).state).toEqual(INITIAL_PUMP_STATE);
  });

  it('retries later when a claim fails, and is idle meanwhile', () => {
    const { state, effects } = feed([woken, woken, { type: 'claimFailed' }]);
    expect(effects).toEqual([CLAIM, { type: 'retryLater' }]);
    expect(state.mode).toEqual({ kind: 'idle' });
  });

  it('claims only to carry a report once stopping', () => {
    const stopping = feed([{ type: 'stopRequested', hasReport: false }]);
    expect(stopping.effects).toEqual([]);
    expect(stopping.state.stopping).toBe(true);
    expect(feed([woken, { type: 'slotFreed', holdsReservations: true, hasReport: false }], stopping.state).effects).toEqual([]);
    const reporting = feed([{ type: 'slotFreed', holdsReservations: false, hasReport: true }], feed([woken], stopping.state).state);
    expect(reporting.effects).toEqual([CLAIM]);
    // A full batch is no reason to claim once stopping; a report still waiting is.
    expect(feed([answered({ fullBatch: true })], reporting.state).effects).toEqual([]);
    expect(feed([answered({ hasReport: true })], reporting.state).effects).toEqual([CLAIM]);
  });

  it('sends its report when stopped with one waiting', () => {
    expect(feed([{ type: 'stopRequested', hasReport: true }]).effects).toEqual([CLAIM]);
  });

  it('refuses an answer to a claim it never sent', () => {
    expect(() => pumpReducer(INITIAL_PUMP_STATE, answered())).toThrow(/claim answered in mode idle/);
  });
});
