/**
 * GraphQL subscriptions over a real WebSocket (graphql-ws with the `ws`
 * package), recorded for tests: every event with the time it arrived, the
 * errors of a refused subscription, how the subscription ended and how the
 * socket closed. Waits are event-driven: a predicate is checked on every event.
 */
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import type { GraphQLFormattedError } from 'graphql';
import WebSocket from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

export interface LiveSocket {
  client: Client;
  /** Settles when the socket closes, with its close code. */
  closed: Promise<Closed>;
  /** Settles once the server acknowledged connection_init. */
  connected: Promise<void>;
}

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/graphql`;
}

/** A socket that connects at once with this bearer secret (null: no token) and never retries. */
export function openSocket(httpUrl: string, secret: string | null): LiveSocket {
  let onClosed: (c: Closed) => void = () => undefined;
  const closed = new Promise<Closed>((resolve) => (onClosed = resolve));
  let onConnected: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: secret === null ? {} : { authorization: `Bearer ${secret}` },
    onNonLazyError: () => undefined,
    on: {
      connected: () => onConnected(),
      closed: (event) => onClosed({ code: (event as Closed).code, reason: (event as Closed).reason }),
    },
  });
  return { client, closed, connected };
}

export interface LiveEvent<T> {
  /** Date.now() when the event reached the client. */
  receivedAt: number;
  value: T;
}

export type Ending = { kind: 'complete' } | { kind: 'error'; error: unknown };

export interface Recorded<T> {
  /** Date.now() when the subscription was sent. */
  subscribedAt: number;
  events: LiveEvent<T>[];
  /** Errors of results that carried no data (a refused subscription). */
  errors: GraphQLFormattedError[];
  /** Set once the server completed the subscription or it failed. */
  ending: Ending | null;
  /** Settles when the subscription completes or fails. */
  ended: Promise<Ending>;
  /** Resolves with the first event, from index `from` on, that matches; rejects after `timeoutMs`. */
  waitFor(match: (value: T) => boolean, timeoutMs?: number, from?: number): Promise<LiveEvent<T>>;
  /**
   * Resolves once `probe()` holds, checked now and after every event of this
   * subscription (only: a probe over several subscriptions wants a poll such
   * as flows.ts waitUntil); rejects after `timeoutMs`.
   */
  waitUntil(probe: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  last(): T | undefined;
  unsubscribe(): void;
}

/** Starts one subscription on `client`; `field` is the subscription field whose value each event records. */
export function record<T>(client: Client, query: string, variables: Record<string, unknown>, field: string): Recorded<T> {
  const checks = new Set<() => void>();
  const recorded: Recorded<T> = {
    subscribedAt: Date.now(),
    events: [],
    errors: [],
    ending: null,
    ended: undefined as unknown as Promise<Ending>,
    waitFor(match, timeoutMs = 10000, from = 0) {
      let found: LiveEvent<T> | undefined;
      return recorded
        .waitUntil(
          () => {
            found = recorded.events.slice(from).find((e) => match(e.value));
            return found !== undefined;
          },
          timeoutMs,
          'a matching event',
        )
        .then(() => found as LiveEvent<T>);
    },
    waitUntil(probe, timeoutMs = 10000, what = 'condition') {
      return new Promise<void>((resolve, reject) => {
        if (probe()) return resolve();
        const check = (): void => {
          if (!probe()) return;
          finish();
          resolve();
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${JSON.stringify(recorded.events.map((e) => e.value))}; errors: ${JSON.stringify(recorded.errors)}; ending: ${JSON.stringify(recorded.ending)}`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          checks.delete(check);
        };
        checks.add(check);
      });
    },
    last: () => recorded.events[recorded.events.length - 1]?.value,
    unsubscribe: () => undefined,
  };
  const changed = (): void => {
    for (const check of [...checks]) check();
  };
  recorded.ended = new Promise<Ending>((resolve) => {
    recorded.unsubscribe = client.subscribe<Record<string, T>>(
      { query, variables },
      {
        next: (result: FormattedExecutionResult<Record<string, T>, unknown>) => {
          if (result.errors?.length) recorded.errors.push(...result.errors);
          const value = result.data?.[field];
          if (value !== undefined && value !== null) recorded.events.push({ receivedAt: Date.now(), value });
          changed();
        },
        error: (error: unknown) => {
          recorded.ending = { kind: 'error', error };
          resolve(recorded.ending);
          changed();
        },
        complete: () => {
          recorded.ending = { kind: 'complete' };
          resolve(recorded.ending);
          changed();
        },
      },
    );
  });
  return recorded;
}

export interface QueueStatsEvent {
  connectionId: string;
  queueOwnerId: string;
  queueSize: number;
  inFlight: number;
  concurrencyLevel: number | null;
  at: string;
}

export const QUEUE_SIZE = `subscription($ids: [ID!]) { queueSize(connectionIds: $ids) { connectionId queueOwnerId queueSize inFlight concurrencyLevel at } }`;
export const QUEUE_SIZE_ALL = `subscription { queueSize { connectionId queueOwnerId queueSize inFlight concurrencyLevel at } }`;

export function watchQueues(client: Client, connectionIds: string[]): Recorded<QueueStatsEvent> {
  return record<QueueStatsEvent>(client, QUEUE_SIZE, { ids: connectionIds }, 'queueSize');
}

export interface JobEvent {
  id: string;
  status: string;
  recordsExported: number;
  recordsSucceeded: number;
  recordsFailed: number;
  startedAt: string | null;
  finishedAt: string | null;
}

export const JOB_UPDATED = `subscription($id: ID!) { jobUpdated(jobId: $id) { id status recordsExported recordsSucceeded recordsFailed startedAt finishedAt } }`;

export function watchJob(client: Client, jobId: string): Recorded<JobEvent> {
  return record<JobEvent>(client, JOB_UPDATED, { id: jobId }, 'jobUpdated');
}

/** The drained state: nothing queued, nothing running. */
export const drained = (e: QueueStatsEvent): boolean => e.queueSize === 0 && e.inFlight === 0;

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
