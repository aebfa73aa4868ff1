/**
 * What one token may hold open over WebSocket, across its sockets
 * (src/http/subscriptionCaps.ts): MAX_SOCKETS_PER_TOKEN sockets and
 * MAX_SUBSCRIPTIONS_PER_TOKEN operations at once; another token is not
 * affected, and ending an operation makes room for one more.
 */
import type { Client } from 'graphql-ws';
import { openSocket, record } from '../support/liveClient';
import { useTestSluice } from '../support/sluice';

const QUEUE_SIZE = `subscription { queueSize { connectionId queueSize } }`;

describe('subscription caps per token', () => {
  const s = useTestSluice({ env: { MAX_SOCKETS_PER_TOKEN: '2', MAX_SUBSCRIPTIONS_PER_TOKEN: '3' } });
  const clients: Client[] = [];

  beforeAll(async () => {
    // So that every queueSize subscription gets its first snapshot at once: proof that it runs.
    await s.ok(`mutation { createConnection(input: { name: "watched", connectorType: "http", config: { baseUrl: "http://127.0.0.1:9" } }) { id } }`);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });

  function socket(secret: string) {
    const opened = openSocket(s.url, secret);
    clients.push(opened.client);
    return opened;
  }

  it('refuses the subscription past the cap over two sockets of one token, and takes one again once another ends', async () => {
    const monitor = await s.token('MONITOR');
    const a = socket(monitor);
    const b = socket(monitor);
    await Promise.all([a.connected, b.connected]);
    const first = record(a.client, QUEUE_SIZE, {}, 'queueSize');
    const second = record(b.client, QUEUE_SIZE, {}, 'queueSize');
    const third = record(b.client, QUEUE_SIZE, {}, 'queueSize');
    await Promise.all([first, second, third].map((r) => r.waitFor(() => true)));
    const fourth = record(a.client, QUEUE_SIZE, {}, 'queueSize');
    const ending = await fourth.ended;
    expect(ending.kind).toBe('error');
    expect(JSON.stringify((ending as { error: unknown }).error)).toMatch(/at most 3 operations may run at once per token, over all its sockets/);

    // Another token has its own allowance.
    const other = socket(await s.token('MONITOR'));
    const theirs = record(other.client, `{ viewer { role } }`, {}, 'viewer');
    expect((await theirs.ended).kind).toBe('complete');

    first.unsubscribe();
    await waitForRoom(a.client);
  });

  it(`closes a token's third socket (1008) and keeps its first two`, async () => {
    const manage = await s.token('MANAGE');
    const a = socket(manage);
    const b = socket(manage);
    await Promise.all([a.connected, b.connected]);
    const c = socket(manage);
    expect(await c.closed).toEqual({ code: 1008, reason: 'at most 2 sockets per token' });
    const viewer = record(b.client, `{ viewer { role } }`, {}, 'viewer');
    expect((await viewer.ended).kind).toBe('complete');
    // Closing one makes room for another.
    await a.client.dispose();
    await a.closed;
    const d = socket(manage);
    await d.connected;
  });
});

/** Resolves once an operation on `client` is accepted again (the server sees an unsubscribe shortly after it is sent). */
async function waitForRoom(client: Client): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = record(client, `{ viewer { role } }`, {}, 'viewer');
    if ((await probe.ended).kind === 'complete') return;
  }
  throw new Error('no room for an operation after one ended');
}
