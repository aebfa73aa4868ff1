/**
 * 1,000 subscribers of one connection's queueSize while a flow runs through
 * it: one read per flush serves them all, and every one of them gets the
 * final drained event.
 */
import type { Client } from 'graphql-ws';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { drained, openSocket, watchQueues, within, type QueueStatsEvent, type Recorded } from '../support/liveClient';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startTestSluice, type TestSluice } from '../support/sluice';

const SOCKETS = 50;
const PER_SOCKET = 20;
const SUBSCRIBERS = SOCKETS * PER_SOCKET;
const RECORDS = 60;
const LEVEL = 2;

const key = (e: QueueStatsEvent): string => `${e.queueSize}/${e.inFlight}/${e.concurrencyLevel}`;

describe('Subscription.queueSize under load', () => {
  let s: TestSluice;
  let api: RecordingApi;
  let clients: Client[] = [];

  beforeAll(async () => {
    // One token's 1,000 subscribers: above the caps per token (README, Security), raised here.
    s = await startTestSluice({ engine: true, env: { MAX_SOCKETS_PER_TOKEN: '50', MAX_SUBSCRIPTIONS_PER_TOKEN: '1000' } });
    api = await startRecordingApi({ orders: orders(RECORDS), latencyMs: 50 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await s?.close();
    await api?.close();
  });

  it(
    `gives each of ${SUBSCRIBERS} subscribers the same events, ending with the drained one`,
    async () => {
      const conn = await createHttpConnection(s, api.url, { concurrencyLevel: LEVEL, autoRecoverRateLimitErrors: false });
      const flow = await createFlow(s, [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
        { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
      ]);

      const started = Date.now();
      const sockets = Array.from({ length: SOCKETS }, () => openSocket(s.url, s.adminSecret));
      clients = sockets.map((socket) => socket.client);
      await within(Promise.all(sockets.map((socket) => socket.connected)), 20000, `${SOCKETS} sockets to connect`);
      const connectedMs = Date.now() - started;
      const subscribers: Recorded<QueueStatsEvent>[] = clients.flatMap((client) =>
        Array.from({ length: PER_SOCKET }, () => watchQueues(client, [conn])),
      );
      await waitUntil(() => subscribers.every((l) => l.events.length > 0), 20000, 'every first event');
      const subscribedMs = Date.now() - started;
      for (const l of subscribers) expect(l.events[0].value).toMatchObject({ connectionId: conn, queueSize: 0, inFlight: 0 });

      const jobId = await runFlow(s, flow.id);
      const job = await waitForJob(s, jobId, 30000);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: RECORDS, recordsSucceeded: RECORDS, recordsFailed: 0 });
      const finished = Date.now();
      await waitUntil(
        () => subscribers.every((l) => l.events.length > 1 && drained(l.last()!)),
        5000,
        'the drained event at every subscriber',
      );
      const drainedMs = Date.now() - finished;

      for (const l of subscribers) {
        expect(l.errors).toEqual([]);
        expect(l.ending).toBeNull();
        expect(l.last()).toMatchObject({ connectionId: conn, queueSize: 0, inFlight: 0, concurrencyLevel: LEVEL });
      }
      // All subscribed before the run, so all saw the same flushes: the same events.
      const reference = subscribers[0].events.map((e) => key(e.value));
      expect(reference.some((k) => !k.startsWith('0/0/'))).toBe(true);
      for (const v of subscribers[0].events.map((e) => e.value)) expect(v.inFlight).toBeLessThanOrEqual(LEVEL);
      for (const l of subscribers) expect(l.events.map((e) => key(e.value))).toEqual(reference);

      // Unsubscribing leaves nothing watching in the server's hub.
      for (const l of subscribers) l.unsubscribe();
      const hub = s.sluice.services.live as unknown as { queueListeners: Map<string, Set<unknown>> };
      await waitUntil(() => hub.queueListeners.size === 0, 5000, 'the hub to forget every subscriber');

      console.log(
        `load: ${SUBSCRIBERS} subscribers on ${SOCKETS} sockets; all connected after ${connectedMs} ms, every first event after ${subscribedMs} ms; ` +
          `${reference.length} events each; all drained ${drainedMs} ms after the job was seen completed`,
      );
    },
    60000,
  );
});
