/**
 * Connection state, the engine's share (docs/engine.md, "Connection
 * state"): the outage detector and the probes.
 *
 * Detector: every call that failed as an absent application's would is
 * recorded before its slot is given back (the dispatcher's beforeRelease),
 * in PostgreSQL (store.recordCallFailure), which decides whether the queue
 * owner, or for a 401 the connection, goes OFFLINE. A call whose connection
 * is found not ONLINE keeps its place (and its attempt) instead of failing
 * for good: no record fails because an application is away.
 *
 * Probes: every PROBE_POLL_MS this process takes the OFFLINE connections
 * whose next probe is due (one probe at a time per connection across
 * processes: store.takeDueProbes leases them) and probes each: with the
 * connector's ping when its config has one, else by starting the first of
 * its waiting messages as a single call, through its queue's dispatcher like
 * any call. An answer makes it ONLINE (every process's dispatchers are
 * woken, and auto-recovery ramps the level back up from 1); a failure puts
 * the next probe off by the backoff (store.probeFailed), and the probe
 * message goes back to its place with its attempt given back.
 */
import type { Pool } from 'pg';
import type { ConnectorRegistry } from '../connectors/registry';
import { connectorLogger } from '../connectors/connectorLogger';
import type { Logger } from '../logger';
import type { JobPlans } from './jobPlans';
import type { ClaimedMessage } from './message';
import { applicationAnswered, callFailureOf, type CallFailure, type Outcome } from './outcome';
import * as store from './store';

export interface ConnectionHealthOptions {
  /** Failed calls in a row, of at least two messages, that take a queue owner OFFLINE. */
  offlineAfterFailedCalls: number;
  /** The longest wait between two probes of an OFFLINE connection. */
  maxProbeBackoffMs: number;
  /** The most attempts a message gets (a message's last attempt is judged against it). */
  maxAttempts: number;
  leaseMs: number;
}

/** Why a state changed, for the log and the transitions counter. */
export type StateChangeReason = 'unavailable' | 'server-errors' | 'unauthorized' | 'probe-answered';

export interface ConnectionHealthDeps {
  pool: Pool;
  plans: JobPlans;
  connectors: ConnectorRegistry;
  logger: Logger;
  /** Starts a probe's message in its queue owner's dispatcher here; false: this process cannot start it now. */
  startProbe(message: ClaimedMessage): boolean;
  /** This process's dispatchers of a queue claim again (its state changed). */
  wake(queueOwnerId: string): void;
  /** The connection is back ONLINE: auto-recovery, when on, ramps its queue's level back up. */
  backOnline(queueOwnerId: string): void;
  /** Writes the operator's log line and counts the change. */
  stateChanged(connectionId: string, to: 'OFFLINE' | 'ONLINE', reason: StateChangeReason, detail: string | null): void;
  running(): boolean;
}

const PROBE_POLL_MS = 250;
/** Due probes one process takes per poll. */
const PROBES_PER_POLL = 8;
/** How long a ping may take before it counts as failed. */
const PING_TIMEOUT_MS = 10000;

export class ConnectionHealth {
  /** Probe messages running here: message id → the connection they probe. */
  private readonly probes = new Map<string, string>();
  /** Connections whose probe (a ping or a message) runs here: their leases are kept alive (heartbeat). */
  private readonly probing = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> = Promise.resolve();
  private pollingNow = false;

  constructor(
    private readonly options: ConnectionHealthOptions,
    private readonly deps: ConnectionHealthDeps,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.poll(), PROBE_POLL_MS);
    this.timer.unref();
  }

  /** The engine's heartbeat: the leases of the probes running here move ahead. */
  heartbeat(): Promise<void> {
    return store.extendProbeLeases(this.deps.pool, [...this.probing], this.options.leaseMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
  }

  /**
   * What a finished call says about its connection, recorded before its slot
   * is given back; returns the outcome to commit (a held call's instead of a
   * failed record's). Never rejects: if recording fails, the outcome stands.
   */
  async beforeRelease(outcome: Outcome): Promise<Outcome> {
    const probed = this.probes.get(outcome.message.id);
    if (probed !== undefined) {
      this.probes.delete(outcome.message.id);
      return this.probeEnded(probed, outcome);
    }
    const failure = callFailureOf(outcome);
    if (!failure || outcome.kind === 'release') return outcome;
    const { message } = outcome;
    let recorded: store.RecordedFailure;
    try {
      recorded = await store.recordCallFailure(this.deps.pool, {
        queueOwnerId: message.queueOwnerId,
        connectionId: message.connectionId,
        messageId: message.id,
        attempts: message.attempts,
        exhausted: message.attempts >= this.options.maxAttempts,
        signal: failure.signal,
        reason: failure.reason,
        threshold: this.options.offlineAfterFailedCalls,
      });
    } catch (error) {
      this.deps.logger.warn({ err: error, queueOwnerId: message.queueOwnerId }, 'recording a failed call for the outage detector failed');
      return outcome;
    }
    if (recorded.wentOffline) {
      this.deps.stateChanged(recorded.wentOffline, 'OFFLINE', reasonOf(failure), failure.reason);
      this.deps.wake(message.queueOwnerId);
    }
    return held(outcome, recorded.hold);
  }

  private poll(): void {
    if (this.pollingNow || !this.deps.running()) return;
    this.pollingNow = true;
    this.polling = (async () => {
      try {
        const due = await store.takeDueProbes(this.deps.pool, this.options.leaseMs, PROBES_PER_POLL);
        await Promise.all(due.map((probe) => this.probe(probe)));
      } catch (error) {
        this.deps.logger.warn({ err: error }, 'looking for due probes failed');
      } finally {
        this.pollingNow = false;
      }
    })();
  }

  /** One probe of one OFFLINE connection; never rejects. */
  private async probe({ connectionId }: store.DueProbe): Promise<void> {
    this.probing.add(connectionId);
    let messageRuns = false;
    try {
      const connection = await this.deps.plans.freshConnection(connectionId);
      if (!connection) return;
      const connector = this.deps.connectors.get(connection.connectorType);
      const ping = connector?.ping;
      if (connector && ping && (connector.pingConfigured?.(connection.config) ?? true)) {
        const answered = await ping({
          config: connection.config,
          credentials: connection.credentials,
          signal: AbortSignal.timeout(PING_TIMEOUT_MS),
          logger: connectorLogger(this.deps.logger, { connectionId }),
        }).then(
          (result) => result.ok || pingAnswered(result.code),
          () => false,
        );
        if (answered) await this.online(connectionId);
        else await store.probeFailed(this.deps.pool, connectionId, 'the probe (ping) failed', this.options.maxProbeBackoffMs);
        return;
      }
      const message = await store.claimProbe(this.deps.pool, connectionId, this.options.leaseMs);
      if (!message) {
        await store.probePostponed(this.deps.pool, connectionId);
        return;
      }
      this.probes.set(message.id, connectionId);
      messageRuns = this.deps.startProbe(message);
      if (!messageRuns) {
        // Stopping: its lease runs out and the next probe (another process's) sends it.
        this.probes.delete(message.id);
      }
    } catch (error) {
      this.deps.logger.warn({ err: error, connectionId }, 'probing an OFFLINE connection failed');
    } finally {
      if (!messageRuns) this.probing.delete(connectionId);
    }
  }

  /**
   * A probe message's call ended. The application answered (a success, a
   * 4xx, a 429, or a plain 500: an answer, which a record the application
   * cannot take also gets, and which must not keep its queue OFFLINE for
   * ever): ONLINE, and the outcome stands. A 401 to a borrower's message
   * while probing its queue owner: the owner's application answered, and the
   * borrower's credentials were refused. Otherwise (unavailable, a 401 for
   * the probed connection's own credentials): the next probe after the
   * backoff, the message back at its place with its attempt given back. No
   * call went (its job was canceled): the probe is due again.
   */
  private async probeEnded(connectionId: string, outcome: Outcome): Promise<Outcome> {
    this.probing.delete(connectionId);
    const { message } = outcome;
    const failure = callFailureOf(outcome);
    try {
      // This process stops: the next probe is due soon, in another process.
      if (outcome.kind === 'release') {
        await store.probePostponed(this.deps.pool, connectionId);
        return outcome;
      }
      if (outcome.kind === 'done' && outcome.unanswered) {
        await store.probePostponed(this.deps.pool, connectionId);
        return outcome;
      }
      if (applicationAnswered(outcome) || failure?.signal === 'transient') {
        await this.online(connectionId);
        return outcome;
      }
      if (failure?.signal === 'unauthorized' && message.connectionId !== connectionId) {
        await this.online(connectionId);
        return await this.beforeRelease(outcome);
      }
      await store.probeFailed(this.deps.pool, connectionId, failure?.reason ?? 'the probe failed', this.options.maxProbeBackoffMs);
    } catch (error) {
      this.deps.logger.warn({ err: error, connectionId }, 'recording a probe failed');
    }
    return held(outcome, 'away');
  }

  private async online(connectionId: string): Promise<void> {
    const changed = await store.probeSucceeded(this.deps.pool, connectionId);
    if (!changed) return;
    this.deps.stateChanged(connectionId, 'ONLINE', 'probe-answered', changed.reason);
    this.deps.backOnline(changed.queueOwnerId);
    this.deps.wake(changed.queueOwnerId);
  }
}

/**
 * The outcome to commit for a failed call held by its connection's state:
 * 'away', back to its place at once with its attempt given back (the
 * queue's state, not a backoff, decides when it runs); 'run', retried after
 * its backoff instead of failing for good.
 */
function held(outcome: Outcome, hold: store.RecordedFailure['hold']): Outcome {
  if (hold === null || outcome.kind === 'release') return outcome;
  const retry = outcome.kind === 'done' ? outcome.failure?.held : outcome;
  if (!retry) return outcome;
  return hold === 'away' ? { ...retry, delayMs: 0, refund: true } : retry;
}

function reasonOf(failure: CallFailure): StateChangeReason {
  switch (failure.signal) {
    case 'unavailable':
      return 'unavailable';
    case 'transient':
      return 'server-errors';
    case 'unauthorized':
      return 'unauthorized';
    default: {
      const unreachable: never = failure.signal;
      throw new Error(`unknown failure signal ${String(unreachable)}`);
    }
  }
}

/** A ping that failed with an answer of the application (a 4xx other than 401 and 408): it is there. */
function pingAnswered(code: string | undefined): boolean {
  const status = code ? /^HTTP_(\d{3})$/.exec(code)?.[1] : undefined;
  return status !== undefined && status.startsWith('4') && status !== '401' && status !== '408';
}
