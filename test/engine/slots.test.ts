/**
 * One queue's slots (src/engine/slots.ts), fed events one by one as the
 * dispatcher feeds them: no database, no timers, no sleeps.
 */
import type { ClaimedMessage } from '../../src/engine/message';
import {
  INITIAL_SLOTS_STATE,
  PREFETCH,
  slotsReducer,
  type ClaimAnswer,
  type SlotsEffect,
  type SlotsEnv,
  type SlotsEvent,
  type SlotsState,
} from '../../src/engine/slots';

const ENV: SlotsEnv = { maxInFlight: 200, budget: Infinity };

let nextId = 1;
function message(jobId = 'job-1'): ClaimedMessage {
  const id = String(nextId++);
  return { id, queueOwnerId: 'q', connectionId: 'q', jobId, stepId: 's', payload: { kind: 'records', records: [] }, attempts: 1, leaseId: `lease-${id}`, idempotencyKey: `key-${id}` };
}
const messages = (n: number, jobId?: string): ClaimedMessage[] => Array.from({ length: n }, () => message(jobId));

/** Feeds the events in order; the last state and every effect on the way. */
function feed(events: SlotsEvent[], from: SlotsState = INITIAL_SLOTS_STATE, env: SlotsEnv = ENV): { state: SlotsState; effects: SlotsEffect[] } {
  let state = from;
  const effects: SlotsEffect[] = [];
  for (const given of events) {
    const event = withHeldKept(given, state);
    const step = slotsReducer(state, event, env);
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}

/** A claim's answer; `heldKept` left out: what the claim was sent as held, less what it started or gave back (filled in by feed). */
const answer = (over: Partial<ClaimAnswer> = {}): SlotsEvent => ({
  type: 'claimAnswered',
  answer: { messages: [], prefetched: [], waitMs: null, drained: false, levelInUse: 25, share: 25, mayPrefetch: true, released: false, heldKept: KEPT_AS_SENT, ...over },
});
const KEPT_AS_SENT: string[] = [];
function withHeldKept(event: SlotsEvent, state: SlotsState): SlotsEvent {
  if (event.type !== 'claimAnswered' || event.answer.heldKept !== KEPT_AS_SENT || state.mode.kind !== 'claiming') return event;
  const started = new Set(event.answer.messages.map((m) => m.id));
  const heldKept = event.answer.released ? [] : state.mode.sent.held.map((m) => m.id).filter((id) => !started.has(id));
  return { ...event, answer: { ...event.answer, heldKept } };
}
type ClaimEffect = Extract<SlotsEffect, { type: 'claim' }>;
/** The claims among the effects, without `calls` (checked where it matters). */
const claims = (effects: SlotsEffect[]) =>
  effects.filter((e): e is ClaimEffect => e.type === 'claim').map(({ calls: _calls, ...claim }) => claim);
const callsOfClaims = (effects: SlotsEffect[]) => effects.filter((e): e is ClaimEffect => e.type === 'claim').map((e) => e.calls);
const starts = (effects: SlotsEffect[]) => effects.filter((e) => e.type === 'start').map((e) => (e as { message: ClaimedMessage }).message.id);
const commits = (effects: SlotsEffect[]) => effects.filter((e): e is Extract<SlotsEffect, { type: 'commit' }> => e.type === 'commit');

/** A queue at `level` running `running` calls here with `prefetch` held, and hand-ons allowed. */
function busy(level: number, running: ClaimedMessage[], prefetch: ClaimedMessage[], share = level): SlotsState {
  const { state } = feed([{ type: 'woken' }, answer({ messages: running, prefetched: prefetch, levelInUse: level, share })]);
  return state;
}

describe('slots', () => {
  it('claims when woken, starts what the claim gives, and keeps the prefetch', () => {
    const first = feed([{ type: 'woken' }]);
    expect(claims(first.effects)).toEqual([{ type: 'claim', max: 200, prefetch: PREFETCH, held: [] }]);
    const run = messages(2);
    const held = messages(2);
    const after = feed([answer({ messages: run, prefetched: held, levelInUse: 2, share: 2 })], first.state);
    expect(starts(after.effects)).toEqual(run.map((m) => m.id));
    expect(after.state).toMatchObject({ mode: { kind: 'idle' }, calls: 2, uncommitted: 2, prefetch: held, handOn: true, share: 2 });
  });

  it('hands an ended call’s slot to the oldest prefetched message, and commits the two together', () => {
    const run = messages(2);
    const held = messages(2);
    const { state, effects } = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], busy(2, run, held));
    expect(starts(effects)).toEqual([held[0]!.id]);
    expect(commits(effects)).toEqual([{ type: 'commit', messageId: run[0]!.id, successor: held[0] }]);
    expect(state).toMatchObject({ calls: 2, uncommitted: 3, prefetch: [held[1]] });
    // Its commit hands the slot on: nothing freed, no claim for it.
    const committed = feed([{ type: 'committed', freed: false }], state);
    expect(committed.effects).toEqual([]);
    expect(committed.state.uncommitted).toBe(2);
  });

  it('tops the prefetch up once no more than the share is left, telling the claim the calls in flight (it applies the share)', () => {
    const run = messages(4);
    const held = messages(3);
    const { effects } = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], busy(4, run, held));
    // 3 held, one handed on: 2 left, no more than the share.
    expect(claims(effects)).toEqual([{ type: 'claim', max: 196, prefetch: PREFETCH, held: held.slice(1) }]);
    expect(callsOfClaims(effects)).toEqual([4]);
  });

  it('with nothing to hand on, frees the slot at the commit and claims after it', () => {
    const run = messages(2);
    const ended = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], busy(2, run, []));
    expect(commits(ended.effects)).toEqual([{ type: 'commit', messageId: run[0]!.id, successor: null }]);
    expect(claims(ended.effects)).toEqual([]); // the slot is not free in the database yet
    const committed = feed([{ type: 'committed', freed: true }], ended.state);
    expect(claims(committed.effects)).toEqual([{ type: 'claim', max: 199, prefetch: PREFETCH, held: [] }]);
    expect(callsOfClaims(committed.effects)).toEqual([1]);
  });

  it('never hands on beyond its share of the level', () => {
    const run = messages(3);
    const held = messages(3);
    // Level 4 shared by two engines: this one may keep 2 calls; it runs 3 (claimed before the other came).
    const state = busy(4, run, held, 2);
    const first = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], state);
    expect(starts(first.effects)).toEqual([]);
    const second = feed([{ type: 'callEnded', messageId: run[1]!.id, slowedDown: false }], first.state);
    expect(starts(second.effects)).toEqual([held[0]!.id]);
  });

  it('hands nothing on after a call slowed the queue down, holds claims back while it is recorded, then gives the prefetch back', () => {
    const run = messages(2);
    const held = messages(2);
    const slowing = feed([{ type: 'slowingDown' }, { type: 'woken' }], busy(2, run, held));
    expect(slowing.effects).toEqual([]);
    expect(slowing.state.mode).toEqual({ kind: 'heldBack' });
    const ended = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: true }], slowing.state);
    expect(starts(ended.effects)).toEqual([]);
    expect(commits(ended.effects)).toEqual([{ type: 'commit', messageId: run[0]!.id, successor: null }]);
    expect(claims(ended.effects)).toEqual([{ type: 'claim', max: 0, prefetch: 0, held }]);
    // The release answers; the claim that starts comes next, and its answer allows hand-ons again.
    const released = feed([answer({ released: true })], ended.state);
    expect(released.state.prefetch).toEqual([]);
    expect(claims(released.effects)).toHaveLength(1);
    expect(claims(released.effects)[0]!.prefetch).toBe(PREFETCH);
    const again = feed([answer({ prefetched: messages(1) })], released.state);
    expect(again.state.handOn).toBe(true);
  });

  it('takes the word back on a change another process made, until a claim sent after it answers', () => {
    const run = messages(2);
    const held = messages(2);
    const changed = feed([{ type: 'changed' }], busy(2, run, held));
    expect(changed.state.handOn).toBe(false);
    expect(claims(changed.effects)).toHaveLength(1);
    // A call ends before that claim answers: no hand-on.
    const ended = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], changed.state);
    expect(starts(ended.effects)).toEqual([]);
    // The claim was sent after the change: its answer allows hand-ons.
    const answered = feed([answer()], ended.state);
    expect(answered.state.handOn).toBe(true);
  });

  it('does not let an answer to a claim sent before a change allow hand-ons', () => {
    const inFlight = feed([{ type: 'woken' }]);
    const { state } = feed([{ type: 'changed' }, answer({ messages: messages(1), prefetched: messages(1) })], inFlight.state);
    expect(state.handOn).toBe(false);
  });

  it('stops using the prefetch when a claim says prefetching is not allowed, and gives it back', () => {
    const run = messages(2);
    const held = messages(2);
    // Another process paused the queue: the change is heard, and the claim it brings says so.
    const paused = feed([{ type: 'changed' }, answer({ waitMs: 500, mayPrefetch: false })], busy(2, run, held));
    expect(paused.state.handOn).toBe(false);
    expect(paused.effects).toContainEqual({ type: 'wakeIn', ms: 500 });
    expect(claims(paused.effects).at(-1)).toEqual({ type: 'claim', max: 0, prefetch: 0, held });
  });

  it('does not start a held message the claim promoted if it was handed on while the claim was in flight', () => {
    const run = messages(4);
    const held = messages(3);
    const first = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], busy(4, run, held));
    expect(starts(first.effects)).toEqual([held[0]!.id]);
    expect(claims(first.effects)).toEqual([{ type: 'claim', max: 196, prefetch: PREFETCH, held: held.slice(1) }]);
    const second = feed([{ type: 'callEnded', messageId: run[1]!.id, slowedDown: false }], first.state);
    expect(starts(second.effects)).toEqual([held[1]!.id]);
    // The claim gave a free slot to held[1] (the head of what it was told is held): it runs already.
    const answered = feed([answer({ messages: [held[1]!], levelInUse: 4, share: 4 })], second.state);
    expect(starts(answered.effects)).toEqual([]);
    expect(answered.state.calls).toBe(second.state.calls);
    expect(answered.state.prefetch).toEqual([held[2]]);
  });

  it('coalesces claims: one in flight, one more after it when something wanted one meanwhile', () => {
    const first = feed([{ type: 'woken' }, { type: 'woken' }, { type: 'woken' }]);
    expect(claims(first.effects)).toHaveLength(1);
    const after = feed([answer({ drained: true })], first.state);
    expect(claims(after.effects)).toHaveLength(1);
    // That one says drained, and nothing came meanwhile: nothing more until a wake.
    const drained = feed([answer({ drained: true })], after.state);
    expect(claims(drained.effects)).toHaveLength(0);
    expect(drained.state.mayHaveWork).toBe(false);
  });

  it('in burst mode claims again as a call ends, within its own bound and the engine’s budget', () => {
    const run = messages(3);
    const state = feed([{ type: 'woken' }, answer({ messages: run, levelInUse: null, share: null, mayPrefetch: false })]).state;
    const env: SlotsEnv = { maxInFlight: 3, budget: Infinity };
    const ended = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], state, env);
    expect(claims(ended.effects)).toEqual([{ type: 'claim', max: 1, prefetch: PREFETCH, held: [] }]);
    const tight = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], state, { maxInFlight: 3, budget: 3 });
    // The ended call counts until its commit: no room within the budget yet.
    expect(claims(tight.effects)).toEqual([]);
  });

  it('refuses a message an enqueue started while it may not start anything, but always runs a probe', () => {
    const given = message();
    const stopping = feed([{ type: 'stopRequested' }]).state;
    expect(feed([{ type: 'given', message: given, by: 'enqueue' }], stopping).effects).toEqual([{ type: 'release', message: given }]);
    const full = { ...INITIAL_SLOTS_STATE, calls: 200 };
    expect(feed([{ type: 'given', message: given, by: 'enqueue' }], full).effects).toEqual([{ type: 'release', message: given }]);
    expect(feed([{ type: 'given', message: given, by: 'probe' }], full).effects).toEqual([{ type: 'start', message: given }]);
  });

  it('drops the prefetch of a canceled job', () => {
    const held = [...messages(1, 'job-a'), ...messages(1, 'job-b')];
    const { state } = feed([{ type: 'jobCanceled', jobId: 'job-a' }], busy(2, [], held));
    expect(state.prefetch).toEqual([held[1]]);
  });

  it('when stopping, gives the prefetch back, hands nothing on and releases what a claim still brings', () => {
    const run = messages(2);
    const held = messages(2);
    const stopping = feed([{ type: 'stopRequested' }], busy(2, run, held));
    expect(claims(stopping.effects)).toEqual([{ type: 'claim', max: 0, prefetch: 0, held }]);
    const ended = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], stopping.state);
    expect(starts(ended.effects)).toEqual([]);
    const late = message();
    const answered = feed([answer({ released: true, messages: [late] })], ended.state);
    expect(answered.effects).toContainEqual({ type: 'release', message: late });
    expect(answered.state.prefetch).toEqual([]);
    expect(claims(answered.effects)).toEqual([]);
  });

  it('keeps of its prefetch only what the claim says is still its own, so a stale one is never handed on and stopping ends', () => {
    const run = messages(1);
    const held = messages(2);
    const state = busy(2, run, held);
    // held[0]'s row went with a cancel this process has not heard of yet.
    const changed = feed([{ type: 'changed' }, answer({ heldKept: [held[1]!.id] })], state);
    expect(changed.state.prefetch).toEqual([held[1]]);
    const ended = feed([{ type: 'callEnded', messageId: run[0]!.id, slowedDown: false }], changed.state);
    expect(starts(ended.effects)).toEqual([held[1]!.id]);
    // Stopping with a held row the release cannot find: it is dropped, and no claim follows.
    const stopping = feed([{ type: 'stopRequested' }], busy(2, [], messages(1)));
    const answered = feed([answer({ released: false, heldKept: [] })], stopping.state);
    expect(answered.state.prefetch).toEqual([]);
    expect(claims(answered.effects)).toEqual([]);
  });

  it('retries a failed claim later, keeping its prefetch', () => {
    const held = messages(2);
    const state = busy(2, [], held);
    const { state: after, effects } = feed([{ type: 'changed' }, { type: 'claimFailed' }], state);
    expect(effects).toContainEqual({ type: 'retryLater' });
    expect(after.mode).toEqual({ kind: 'idle' });
    expect(after.prefetch).toEqual(held);
  });
});
