/**
 * Where each NOTIFY the engine hears goes. The engine listens on four
 * channels (channels.ts):
 *   sluice_queue   a queue gained work or freed a slot: wake its dispatcher,
 *                  unless the notification came from one of this engine's
 *                  own commits (the dispatchers concerned were already woken
 *                  directly, and a second wake is a claim that finds nothing)
 *   sluice_state   a connection of a queue changed state (paused, resumed,
 *                  OFFLINE, ONLINE), by any process: its dispatcher hands
 *                  nothing off before its next claim, and claims
 *   sluice_start   an enqueue started a message, for this engine or another
 *   sluice_cancel  a job was canceled: abort its calls running here
 */
import type { Pool } from 'pg';
import { CANCEL_CHANNEL, QUEUE_CHANNEL, START_CHANNEL, STATE_CHANNEL } from './channels';

export const ENGINE_LISTENS = [QUEUE_CHANNEL, STATE_CHANNEL, START_CHANNEL, CANCEL_CHANNEL] as const;
type Listened = (typeof ENGINE_LISTENS)[number];

export interface NotificationTargets {
  /** A queue owner (not this engine's own commit) may have work or a free slot. */
  queueMayHaveWork(ownerId: string): void;
  /** A connection of this queue owner's queue changed state (any process, this one too). */
  stateChanged(ownerId: string): void;
  /** An enqueue started a message; the payload says for which engine (startOnEnqueue.ts). */
  started(payload: string): void;
  jobCanceled(jobId: string): void;
}

const isListened = (channel: string): channel is Listened => (ENGINE_LISTENS as readonly string[]).includes(channel);

export class NotificationRouting {
  /** The backends of the engine's pool: their commits' NOTIFYs come back to us. */
  private readonly ownBackends = new Set<number>();

  constructor(pool: Pool, private readonly targets: NotificationTargets) {
    // The backend's pid came with the connection (BackendKeyData), so no query
    // is needed: one here would race the pool handing the client to its caller.
    pool.on('connect', (client) => {
      const pid = (client as unknown as { processID: number | null }).processID;
      if (pid !== null) this.ownBackends.add(pid);
    });
  }

  /** For Notifications' onNotify. */
  readonly route = (channel: string, payload: string, senderPid: number): void => {
    if (!isListened(channel)) return;
    switch (channel) {
      case QUEUE_CHANNEL:
        if (!this.ownBackends.has(senderPid)) this.targets.queueMayHaveWork(payload);
        return;
      case STATE_CHANNEL:
        this.targets.stateChanged(payload);
        return;
      case START_CHANNEL:
        this.targets.started(payload);
        return;
      case CANCEL_CHANNEL:
        this.targets.jobCanceled(payload);
        return;
      default: {
        const unreachable: never = channel;
        throw new Error(`unrouted channel ${String(unreachable)}`);
      }
    }
  };
}
