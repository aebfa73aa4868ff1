/**
 * GraphQL over WebSocket (graphql-transport-ws) on /graphql: the token goes in
 * the connection_init payload; a bad one closes the socket with 4403, no
 * connection_init at all with 4408.
 */
import { createClient, type Client, type FormattedExecutionResult as Result } from 'graphql-ws';
import WebSocket from 'ws';
import { MAX_DEPTH } from '../../src/http/requestLimits';
import { startTestSluice, type TestSluice } from '../support/sluice';

type FormattedExecutionResult = Result<Record<string, unknown>, unknown>;

interface Closed {
  code: number;
  reason: string;
}

function wsUrl(s: TestSluice): string {
  return `${s.url.replace(/^http/, 'ws')}/graphql`;
}

/** A client that connects at once with this secret and never retries; `closed` settles when the socket closes. */
function connect(s: TestSluice, secret: string | null): { client: Client; closed: Promise<Closed> } {
  let onClosed: (c: Closed) => void = () => undefined;
  const closed = new Promise<Closed>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: wsUrl(s),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: secret === null ? {} : { authorization: `Bearer ${secret}` },
    onNonLazyError: () => undefined,
    on: { closed: (event) => onClosed({ code: (event as Closed).code, reason: (event as Closed).reason }) },
  });
  return { client, closed };
}

/** One operation over the socket; its single result, or what the socket failed with. */
function execute(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<FormattedExecutionResult> {
  return new Promise((resolve, reject) => {
    let result: FormattedExecutionResult | null = null;
    client.subscribe(
      { query, variables },
      {
        next: (value) => (result = value),
        error: reject,
        complete: () => (result ? resolve(result) : reject(new Error('completed without a result'))),
      },
    );
  });
}

describe('GraphQL over WebSocket', () => {
  let s: TestSluice;
  const clients: Client[] = [];

  beforeAll(async () => {
    s = await startTestSluice();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.dispose();
  });

  afterAll(() => s?.close());

  function open(secret: string | null): { client: Client; closed: Promise<Closed> } {
    const connection = connect(s, secret);
    clients.push(connection.client);
    return connection;
  }

  it('runs a query for the token given in connection_init', async () => {
    const secret = await s.token('MONITOR');
    const { client } = open(secret);
    const result = await execute(client, `{ viewer { role } limits { maxConcurrencyLevel } }`);
    expect(result).toEqual({ data: { viewer: { role: 'MONITOR' }, limits: { maxConcurrencyLevel: 25 } } });
  });

  it('enforces roles over the socket as over HTTP', async () => {
    const { client: monitor } = open(await s.token('MONITOR'));
    const refused = await execute(monitor, `mutation { createFlow(input: { name: "from a monitor socket" }) { id } }`);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const { client: manage } = open(await s.token('MANAGE'));
    const created = await execute(manage, `mutation { createFlow(input: { name: "from a manage socket" }) { name } }`);
    expect(created).toEqual({ data: { createFlow: { name: 'from a manage socket' } } });
    const names = (await s.ok<{ flows: { name: string }[] }>(`{ flows { name } }`)).flows.map((f) => f.name);
    expect(names).toContain('from a manage socket');
    expect(names).not.toContain('from a monitor socket');
  });

  it.each([
    ['an unknown token', 'slc_neverIssuedneverIssuedneverIssued00000000'],
    ['no token', null],
  ])('closes the socket with 4403 for %s', async (_what, secret) => {
    const { client, closed } = open(secret);
    const result = execute(client, `{ viewer { role } }`);
    await expect(result).rejects.toMatchObject({ code: 4403 });
    expect((await closed).code).toBe(4403);
  });

  it('closes the socket with 4403 for the admin secret without the Bearer scheme', async () => {
    const socket = new WebSocket(wsUrl(s), 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: s.adminSecret } }));
    const code = await new Promise<number>((resolve) => socket.once('close', (c: number) => resolve(c)));
    expect(code).toBe(4403);
  });

  it('closes with 4403 the socket of a token revoked since, before its next operation runs', async () => {
    const created = await s.ok<{ createApiToken: { secret: string; token: { id: string } } }>(
      `mutation { createApiToken(name: "socket", role: MANAGE) { secret token { id } } }`,
    );
    const { client, closed } = open(created.createApiToken.secret);
    expect(await execute(client, `{ viewer { role } }`)).toEqual({ data: { viewer: { role: 'MANAGE' } } });
    await s.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: created.createApiToken.token.id });
    const after = execute(client, `mutation { createFlow(input: { name: "after revocation" }) { id } }`);
    await expect(after).rejects.toMatchObject({ code: 4403 });
    expect((await closed).code).toBe(4403);
    const names = (await s.ok<{ flows: { name: string }[] }>(`{ flows { name } }`)).flows.map((f) => f.name);
    expect(names).not.toContain('after revocation');
  });

  it('applies the request limits over the socket', async () => {
    const { client } = open(s.adminSecret);
    let inner = 'id';
    for (let level = 2; level <= MAX_DEPTH; level++) inner = `borrowConcurrencyFrom { ${inner} }`;
    const result = await execute(client, `query($id: ID!) { connection(id: $id) { ${inner} } }`, {
      id: '00000000-0000-4000-8000-000000000000',
    }).catch((errors: unknown) => ({ errors: errors as FormattedExecutionResult['errors'] }));
    expect(result.errors?.[0]?.message).toMatch(/deep/);
  });

  it(
    'closes a socket that never sends connection_init with 4408 after the init timeout',
    async () => {
      const socket = new WebSocket(wsUrl(s), 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      const opened = Date.now();
      const code = await new Promise<number>((resolve) => socket.once('close', (c: number) => resolve(c)));
      expect(code).toBe(4408);
      expect(Date.now() - opened).toBeGreaterThanOrEqual(9000);
      // The server still accepts other sockets.
      const { client } = open(s.adminSecret);
      expect(await execute(client, `{ viewer { role } }`)).toEqual({ data: { viewer: { role: 'ADMINISTER' } } });
    },
    30000,
  );
});
