/**
 * Subscription.queueSize: each connection's numbers at once on subscribing,
 * then its changes at most every 100 ms, and always the drained state last.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { drained, openSocket, record, QUEUE_SIZE_ALL, watchQueues, within, type QueueStatsEvent } from '../support/liveClient';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startTestSluice, type TestSluice } from '../support/sluice';

const key = (e: QueueStatsEvent): string => `${e.queueSize}/${e.inFlight}`;

describe('Subscription.queueSize', () => {
  let s: TestSluice;
  let api: RecordingApi;
  let client: Client;
  let knownId = '';

  beforeAll(async () => {
    s = await startTestSluice({ engine: true });
    api = await startRecordingApi({ orders: orders(60), latencyMs: 50 });
    client = openSocket(s.url, s.adminSecret).client;
    knownId = await createHttpConnection(s, api.url, { name: 'known', concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
  });
  afterAll(async () => {
    await client?.dispose();
    await s?.close();
    await api?.close();
  });

  async function exportImportFlow(conn: string, name: string): Promise<string> {
    const flow = await createFlow(
      s,
      [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } },
        { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
      ],
      name,
    );
    return flow.id;
  }

  it('sends each requested connection’s numbers within 1 s of subscribing', async () => {
    const a = await createHttpConnection(s, api.url, { name: 'first-a', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const b = await createHttpConnection(s, api.url, { name: 'first-b', concurrencyLevel: 3, autoRecoverRateLimitErrors: false });
    const live = watchQueues(client, [a, b]);
    await live.waitUntil(() => new Set(live.events.map((e) => e.value.connectionId)).size === 2, 1000, 'an event for each connection');
    for (const e of live.events) expect(e.receivedAt - live.subscribedAt).toBeLessThan(1000);
    const byId = new Map(live.events.map((e) => [e.value.connectionId, e.value]));
    expect(byId.get(a)).toEqual({ connectionId: a, queueOwnerId: a, queueSize: 0, inFlight: 0, concurrencyLevel: 2, at: expect.any(String) });
    expect(byId.get(b)).toEqual({ connectionId: b, queueOwnerId: b, queueSize: 0, inFlight: 0, concurrencyLevel: 3, at: expect.any(String) });
    expect(Math.abs(Date.parse(byId.get(a)!.at) - Date.now())).toBeLessThan(5000);
    live.unsubscribe();
  });

  it('sends every connection’s numbers when connectionIds is omitted', async () => {
    await createHttpConnection(s, api.url, { name: 'all-c', concurrencyLevel: 4, autoRecoverRateLimitErrors: false });
    const { connections } = await s.ok<{ connections: { id: string }[] }>(`{ connections { id } }`);
    expect(connections.length).toBeGreaterThanOrEqual(3);
    const live = record<QueueStatsEvent>(client, QUEUE_SIZE_ALL, {}, 'queueSize');
    const expected = connections.map((c) => c.id).sort();
    await live.waitUntil(() => new Set(live.events.map((e) => e.value.connectionId)).size === expected.length, 1000, 'an event for every connection');
    for (const e of live.events) expect(e.receivedAt - live.subscribedAt).toBeLessThan(1000);
    expect([...new Set(live.events.map((e) => e.value.connectionId))].sort()).toEqual(expected);
    live.unsubscribe();
  });

  it('includes, when connectionIds is omitted, a connection created after subscribing', async () => {
    const live = record<QueueStatsEvent>(client, QUEUE_SIZE_ALL, {}, 'queueSize');
    await live.waitUntil(() => live.events.length > 0, 1000, 'the first events');
    const later = await createHttpConnection(s, api.url, { name: 'created later', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const job = await waitForJob(s, await runFlow(s, await exportImportFlow(later, 'later-flow')));
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 60 });
    // Its work shows up, and its drained state is the last it is told.
    await live.waitUntil(() => live.events.some((e) => e.value.connectionId === later && e.value.inFlight > 0), 5000, 'the new connection at work');
    await live.waitUntil(() => {
      const mine = live.events.filter((e) => e.value.connectionId === later);
      return mine.length > 0 && drained(mine[mine.length - 1]!.value);
    }, 5000, 'the new connection drained');
    live.unsubscribe();
  });

  it('reports a borrower’s queue owner and the owner’s numbers', async () => {
    const owner = await createHttpConnection(s, api.url, { name: 'owner', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const borrower = await createHttpConnection(s, api.url, { name: 'borrower', borrowConcurrencyFromId: owner });
    const ofOwner = watchQueues(client, [owner]);
    const ofBorrower = watchQueues(client, [borrower]);
    const first = await ofBorrower.waitFor(() => true, 1000);
    expect(first.value).toEqual({ connectionId: borrower, queueOwnerId: owner, queueSize: 0, inFlight: 0, concurrencyLevel: 2, at: expect.any(String) });

    // Work on the owner's own flow shows on the borrower, which has no step of its own.
    const job = await waitForJob(s, await runFlow(s, await exportImportFlow(owner, 'owner-flow')));
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 60 });
    const bothDrained = (): boolean =>
      [ofOwner, ofBorrower].every((l) => l.events.length > 1 && drained(l.last()!));
    await waitUntil(bothDrained, 5000, 'both subscriptions to end drained');
    expect(ofBorrower.events.some((e) => e.value.queueSize > 0 || e.value.inFlight > 0)).toBe(true);
    // One read per flush serves both: the same numbers in the same order.
    expect(ofBorrower.events.map((e) => key(e.value))).toEqual(ofOwner.events.map((e) => key(e.value)));
    for (const e of ofBorrower.events) expect(e.value).toMatchObject({ connectionId: borrower, queueOwnerId: owner, concurrencyLevel: 2 });
    ofOwner.unsubscribe();
    ofBorrower.unsubscribe();
  });

  it('follows a connection to the queue it starts, and stops, borrowing from', async () => {
    const own = await createHttpConnection(s, api.url, { name: 'to-borrow', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const lender = await createHttpConnection(s, api.url, { name: 'lender', concurrencyLevel: 6, autoRecoverRateLimitErrors: false });
    const live = watchQueues(client, [own]);
    await live.waitFor(() => true, 1000);
    const borrow = (from: string | null): Promise<unknown> =>
      s.ok(`mutation($id: ID!, $from: ID) { borrowConcurrency(connectionId: $id, fromConnectionId: $from) { id } }`, { id: own, from });

    await borrow(lender);
    const borrowing = await live.waitFor((e) => e.queueOwnerId === lender, 1000);
    expect(borrowing.value).toMatchObject({ connectionId: own, queueOwnerId: lender, concurrencyLevel: 6, queueSize: 0, inFlight: 0 });
    await borrow(null);
    const back = await live.waitFor((e) => e.queueOwnerId === own, 1000, live.events.indexOf(borrowing) + 1);
    expect(back.value).toMatchObject({ connectionId: own, queueOwnerId: own, concurrencyLevel: 2, queueSize: 0, inFlight: 0 });
    expect(live.events).toHaveLength(3);
    live.unsubscribe();
  });

  it.each([
    ['an unknown connection id', () => [randomUUID()]],
    ['a malformed connection id', () => ['not-a-connection-id']],
    ['an unknown id next to a known one', () => [knownId, randomUUID()]],
  ])('refuses %s with NOT_FOUND', async (_what, ids) => {
    const live = watchQueues(client, ids());
    const ending = await within(live.ended, 10000, 'the end of the subscription');
    expect(live.errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    expect(ending).toEqual({ kind: 'complete' });
    expect(live.events).toEqual([]);
  });
  describe('during a run at level 2', () => {
    it('rises, drains, stays within the level, at most one event per 100 ms, and ends with the drained event', async () => {
      const conn = await createHttpConnection(s, api.url, { name: 'run', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
      const live = watchQueues(client, [conn]);
      await live.waitFor(() => true, 1000);
      const jobId = await runFlow(s, await exportImportFlow(conn, 'run-flow'));
      const job = await waitForJob(s, jobId);
      expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 60, recordsSucceeded: 60, recordsFailed: 0 });
      const finished = Date.now();
      await live.waitUntil(() => live.events.length > 1 && drained(live.last()!), 3000, 'the drained event');
      const drainedAfterMs = Date.now() - finished;

      const values = live.events.map((e) => e.value);
      const firstBusy = values.findIndex((v) => v.queueSize > 0);
      expect(firstBusy).toBeGreaterThan(0);
      expect(values[values.length - 1]).toMatchObject({ connectionId: conn, queueSize: 0, inFlight: 0, concurrencyLevel: 2 });
      expect(Math.max(...values.map((v) => v.inFlight))).toBeGreaterThan(0);
      expect(Math.max(...values.map((v) => v.inFlight))).toBeLessThanOrEqual(2);
      // Consecutive events differ: an event is sent when something it shows changed.
      for (let i = 1; i < values.length; i++) expect(key(values[i])).not.toBe(key(values[i - 1]));

      // While the queue is busy: from the first non-empty event to the drained one.
      const busy = live.events.slice(firstBusy);
      expect(busy.length).toBeGreaterThanOrEqual(4);
      const gaps = busy.slice(1).map((e, i) => e.receivedAt - busy[i].receivedAt);
      const averageGap = (busy[busy.length - 1].receivedAt - busy[0].receivedAt) / (busy.length - 1);
      const atGaps = busy.slice(1).map((e, i) => Date.parse(e.value.at) - Date.parse(busy[i].value.at));
      expect(averageGap).toBeGreaterThanOrEqual(100);
      // The reads behind two events of one connection are 100 ms apart or more (`at` is cut to whole ms).
      expect(Math.min(...atGaps)).toBeGreaterThanOrEqual(99);
      console.log(
        `queueSize during a run: ${values.length} events, ${busy.length} while busy, average gap ${averageGap.toFixed(0)} ms, ` +
          `min gap ${Math.min(...gaps)} ms (received) / ${Math.min(...atGaps)} ms (read), drained event ${drainedAfterMs} ms after the job was seen completed`,
      );
      live.unsubscribe();
    });

    it('sends the new concurrencyLevel after setConcurrency', async () => {
      const conn = await createHttpConnection(s, api.url, { name: 'level', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
      const live = watchQueues(client, [conn]);
      await live.waitFor((e) => e.concurrencyLevel === 2, 1000);
      const changedAt = Date.now();
      await s.ok(`mutation($input: SetConcurrencyInput!) { setConcurrency(input: $input) { id } }`, {
        input: { connectionId: conn, level: 5, autoRecoverRateLimitErrors: false },
      });
      const event = await live.waitFor((e) => e.concurrencyLevel === 5, 1000);
      expect(event.value).toMatchObject({ connectionId: conn, queueOwnerId: conn, queueSize: 0, inFlight: 0, concurrencyLevel: 5 });
      expect(live.events).toHaveLength(2);
      console.log(`setConcurrency → queueSize event in ${event.receivedAt - changedAt} ms`);
      live.unsubscribe();
    });
  });
});
