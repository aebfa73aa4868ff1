/**
 * The engine's NOTIFY/LISTEN channels, named once. SQL in TypeScript
 * interpolates these constants; the stored functions (sql/functions/*.sql)
 * cannot, so the channel literals of their pg_notify calls are checked against this list
 * (test/engine/channels.test.ts).
 */

/** A queue owner gained work or freed a slot (payload: the queue owner's id): its dispatchers claim. */
export const QUEUE_CHANNEL = 'sluice_queue';
/**
 * What a queue's dispatchers must read before handing another slot on
 * changed (payload: the queue owner's id; sluice_queue is notified too): a
 * connection's state, the policy (setConcurrency), a rate-limit pause or a
 * lower level in use. They hand nothing on before their next claim has read
 * it.
 */
export const STATE_CHANNEL = 'sluice_state';
/** An enqueue started a message for one engine (payload: JSON, see startOnEnqueue.ts). */
export const START_CHANNEL = 'sluice_start';
/** A job's counts or state changed (payload: the job's id): for jobUpdated subscribers. */
export const JOB_CHANNEL = 'sluice_job';
/** A job was canceled (payload: the job's id): every process running its calls aborts them. */
export const CANCEL_CHANNEL = 'sluice_cancel';

export const ENGINE_CHANNELS = [QUEUE_CHANNEL, STATE_CHANNEL, START_CHANNEL, JOB_CHANNEL, CANCEL_CHANNEL] as const;
export type EngineChannel = (typeof ENGINE_CHANNELS)[number];
