/**
 * Start on enqueue, the engine's side. An enqueue of one message into an idle
 * queue starts it itself, for one live engine (sql/functions/
 * sluice_enqueue_messages.sql says when), and announces it on
 * sluice_start with everything needed to run it: the message is already
 * counted against the level and leased to that engine, so the engine runs it
 * as the notification arrives, with no claim in between. On an idle queue
 * that claim was a third of the enqueue-to-start latency
 * (`npm run bench -- latency`: p50 3.55–3.60 → 1.82–2.15 ms, BENCHMARKS.md).
 *
 * Every engine hears every start; each takes only its own. An engine that
 * must not start anything now (stopping, recording a rate limit's pause, at
 * its own bounds) gives the message back to its queue, where a claim takes
 * it; one that never hears it (its LISTEN connection dropped at that moment,
 * or it died) holds its lease until it expires, as with any message of a
 * process that is gone.
 */
import type { ClaimedMessage } from './message';

/** How far ahead an engine's registration reaches, and how often it is renewed. */
export const ENGINE_ALIVE_MS = 3000;
export const ENGINE_REGISTER_EVERY_MS = 1000;

/** A sluice_start payload as the enqueue function builds it (json_build_object): the message, and whose it is. */
type StartedPayload = ClaimedMessage & { engine: string };

/**
 * The message a sluice_start notification started for `engineId`, or null
 * when it is another engine's (or not a start at all: anyone with access to
 * the database may NOTIFY, and a throw here would take the process down).
 */
export function messageStartedFor(engineId: string, notification: string): ClaimedMessage | null {
  let started: StartedPayload;
  try {
    started = JSON.parse(notification) as StartedPayload;
  } catch {
    return null;
  }
  const { engine, ...message } = started;
  return engine === engineId ? message : null;
}
