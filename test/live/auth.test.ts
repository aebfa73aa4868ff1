/**
 * Who may subscribe: any live token (MONITOR is enough); a bad token closes
 * the socket with 4403 at connection_init, and revoking the token of an open
 * socket closes it with 4403, its subscriptions with it, within ~2 s.
 */
import type { Client } from 'graphql-ws';
import { createFlow, createHttpConnection, runFlow } from '../support/flows';
import { openSocket, watchJob, watchQueues, within, type LiveSocket } from '../support/liveClient';
import { startTestSluice, type TestSluice } from '../support/sluice';

/** The server re-checks an open socket's token this often (src/http/server.ts TOKEN_RECHECK_MS). */
const TOKEN_RECHECK_MS = 2000;

describe('subscription auth', () => {
  let s: TestSluice;
  let conn: string;
  const sockets: Client[] = [];

  beforeAll(async () => {
    // ROLE=api: nothing runs jobs, so a job stays QUEUED for as long as a test needs it.
    s = await startTestSluice({ engine: false });
    conn = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: 3, autoRecoverRateLimitErrors: false });
  });
  afterEach(async () => {
    for (const client of sockets.splice(0)) await client.dispose();
  });
  afterAll(() => s?.close());

  function open(secret: string | null): LiveSocket {
    const socket = openSocket(s.url, secret);
    sockets.push(socket.client);
    return socket;
  }

  async function createToken(role: 'MONITOR' | 'MANAGE'): Promise<{ id: string; secret: string }> {
    const data = await s.ok<{ createApiToken: { secret: string; token: { id: string } } }>(
      `mutation($name: String!, $role: Role!) { createApiToken(name: $name, role: $role) { secret token { id } } }`,
      { name: `live-${role.toLowerCase()}-${Date.now()}`, role },
    );
    return { id: data.createApiToken.token.id, secret: data.createApiToken.secret };
  }

  it('lets a MONITOR token subscribe to queueSize and jobUpdated', async () => {
    const flow = await createFlow(s, [{ kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data' } }], 'monitored');
    const jobId = await runFlow(s, flow.id);
    const { client } = open(await s.token('MONITOR'));
    const queue = watchQueues(client, [conn]);
    const job = watchJob(client, jobId);
    // The job's first message waits in the queue: nothing runs it here.
    const stats = await queue.waitFor(() => true, 1000);
    expect(stats.value).toMatchObject({ connectionId: conn, queueOwnerId: conn, queueSize: 1, inFlight: 0, concurrencyLevel: 3 });
    const first = await job.waitFor(() => true, 1000);
    expect(first.value).toMatchObject({ id: jobId, status: 'QUEUED', recordsExported: 0 });
    expect(queue.errors).toEqual([]);
    expect(job.errors).toEqual([]);
    expect(queue.ending).toBeNull();
    expect(job.ending).toBeNull();
  });

  it.each([
    ['an unknown token', 'slc_neverIssuedneverIssuedneverIssued00000000'],
    ['no token', null],
  ])('closes the socket with 4403 for %s, before any event', async (_what, secret) => {
    const { client, closed } = open(secret);
    const queue = watchQueues(client, [conn]);
    expect((await within(closed, 2000, 'the close')).code).toBe(4403);
    const ending = await within(queue.ended, 2000, 'the end of the subscription');
    expect(ending).toMatchObject({ kind: 'error', error: { code: 4403 } });
    expect(queue.events).toEqual([]);
  });

  it('closes with 4403 an open subscription’s socket once its token is revoked, and only that socket', async () => {
    const token = await createToken('MONITOR');
    const revoked = open(token.secret);
    const queue = watchQueues(revoked.client, [conn]);
    await queue.waitFor(() => true, 1000);
    const bystander = watchQueues(open(s.adminSecret).client, [conn]);
    await bystander.waitFor(() => true, 1000);

    const revokedAt = Date.now();
    await s.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: token.id });
    const closed = await within(revoked.closed, 5000, 'the close of the revoked token’s socket');
    const closedAfterMs = Date.now() - revokedAt;
    expect(closed.code).toBe(4403);
    expect(closedAfterMs).toBeLessThanOrEqual(TOKEN_RECHECK_MS + 500);
    expect(await within(queue.ended, 1000, 'the end of the subscription')).toMatchObject({ kind: 'error', error: { code: 4403 } });

    // The token is refused from now on, and other subscribers of the same queue carry on.
    const again = open(token.secret);
    expect((await within(again.closed, 2000, 'the close')).code).toBe(4403);
    await s.ok(`mutation($input: SetConcurrencyInput!) { setConcurrency(input: $input) { id } }`, {
      input: { connectionId: conn, level: 4, autoRecoverRateLimitErrors: false },
    });
    await bystander.waitFor((e) => e.concurrencyLevel === 4, 1500);
    expect(bystander.ending).toBeNull();
    expect(queue.events.every((e) => e.value.concurrencyLevel === 3)).toBe(true);
    console.log(`revokeApiToken → socket closed 4403 after ${closedAfterMs} ms`);
  });
});
