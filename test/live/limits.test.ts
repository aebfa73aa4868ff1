/**
 * What one socket may hold: at most 100 operations at once; the 101st is
 * refused with BAD_USER_INPUT while the others go on.
 */
import type { Client } from 'graphql-ws';
import { createHttpConnection } from '../support/flows';
import { openSocket, watchQueues, within } from '../support/liveClient';
import { startTestSluice, type TestSluice } from '../support/sluice';

describe('subscriptions per socket', () => {
  let s: TestSluice;
  let client: Client | undefined;

  beforeAll(async () => {
    s = await startTestSluice({ engine: false });
  });
  afterAll(async () => {
    await client?.dispose();
    await s?.close();
  });

  it('refuses the 101st subscription on one socket and keeps the first 100', async () => {
    const conn = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: 3, autoRecoverRateLimitErrors: false });
    const socket = openSocket(s.url, s.adminSecret);
    client = socket.client;
    await socket.connected;
    const first = Array.from({ length: 100 }, () => watchQueues(socket.client, [conn]));
    await within(Promise.all(first.map((r) => r.waitFor(() => true))), 10000, 'the first event of 100 subscriptions');
    const extra = watchQueues(socket.client, [conn]);
    const ending = await within(extra.ended, 5000, 'the 101st subscription to be refused');
    expect(ending.kind).toBe('error');
    expect(JSON.stringify(ending)).toContain('BAD_USER_INPUT');
    expect(first.every((r) => r.ending === null)).toBe(true);
  });
});
