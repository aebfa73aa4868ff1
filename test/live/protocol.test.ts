/**
 * The graphql-transport-ws protocol as a raw client sees it, message by
 * message, against a live Sluice: each fatal error closes the socket with the
 * code node_modules/graphql-ws/PROTOCOL.md gives it (4400 invalid message,
 * 4401 subscribe before the ack, 4409 a duplicate operation id, 4429 a second
 * connection_init, 4408 no connection_init in time), and ping/pong work at
 * any time. The 4403 of a bad token is test/live/auth.test.ts's (and
 * test/api/websocket.test.ts's).
 */
import { Client } from 'pg';
import WebSocket from 'ws';
import { createHttpConnection } from '../support/flows';
import { QUEUE_SIZE_ALL, within, wsUrl, type Closed } from '../support/liveClient';
import { startTestSluice, type TestSluice, useTestSluice } from '../support/sluice';

/** Generous: the machine is shared; every wait ends as soon as its event arrives. */
const WAIT_MS = 10000;
/** How often an open socket's token is re-checked (src/http/server.ts TOKEN_RECHECK_MS). */
const TOKEN_RECHECK_MS = 2000;

type Message = { type: string; id?: string; payload?: unknown };

interface RawSocket {
  /** Every message the server sent, parsed, in order. */
  received: Message[];
  closed: Promise<Closed>;
  /** Sends `message` as JSON, or a string as it is. */
  send(message: Message | Record<string, unknown> | string): void;
  /** The first message, from index `from` on, that matches. */
  receive(match: (m: Message) => boolean, from?: number): Promise<Message>;
  isOpen(): boolean;
}

/** A `ws` socket speaking graphql-transport-ws by hand, opened and ready to send. */
async function openRaw(httpUrl: string): Promise<RawSocket> {
  const socket = new WebSocket(wsUrl(httpUrl), 'graphql-transport-ws');
  const received: Message[] = [];
  const waiters = new Set<() => void>();
  const closed = new Promise<Closed>((resolve) =>
    socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') })),
  );
  socket.on('message', (data: Buffer) => {
    received.push(JSON.parse(data.toString('utf8')) as Message);
    for (const wake of waiters) wake();
  });
  await within(new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject)), WAIT_MS, 'the WebSocket handshake');
  sockets.push(socket);
  return {
    received,
    closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    receive(match, from = 0) {
      return within(
        new Promise<Message>((resolve) => {
          const check = (): void => {
            const found = received.slice(from).find(match);
            if (found) {
              waiters.delete(check);
              resolve(found);
            }
          };
          waiters.add(check);
          check();
        }),
        WAIT_MS,
        'the expected message',
      );
    },
    isOpen: () => socket.readyState === WebSocket.OPEN,
  };
}

const sockets: WebSocket[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.terminate();
});

const ofType =
  (type: string, id?: string) =>
  (m: Message): boolean =>
    m.type === type && (id === undefined || m.id === id);

describe('graphql-transport-ws protocol', () => {
  let s: TestSluice;
  let connectionId: string;

  beforeAll(async () => {
    s = await startTestSluice({ engine: false });
    // queueSize sends each connection's numbers at once: with one connection, a subscription has spoken once it is running.
    connectionId = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
  });
  afterAll(() => s?.close());

  /** A socket whose connection_init the server acknowledged. */
  async function acknowledged(): Promise<RawSocket> {
    const socket = await openRaw(s.url);
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${s.adminSecret}` } });
    await socket.receive(ofType('connection_ack'));
    return socket;
  }

  it('acknowledges connection_init and runs a query under its id: next, then complete', async () => {
    const socket = await acknowledged();
    socket.send({ type: 'subscribe', id: 'q', payload: { query: '{ viewer { role } }' } });
    await socket.receive(ofType('complete', 'q'));
    expect(socket.received).toEqual([
      { type: 'connection_ack' },
      { type: 'next', id: 'q', payload: { data: { viewer: { role: 'ADMINISTER' } } } },
      { type: 'complete', id: 'q' },
    ]);
  });

  describe('ping', () => {
    it('answers a ping with a pong carrying the same payload, before connection_init', async () => {
      const socket = await openRaw(s.url);
      socket.send({ type: 'ping', payload: { n: 1 } });
      expect(await socket.receive(ofType('pong'))).toEqual({ type: 'pong', payload: { n: 1 } });
      // The socket is still waiting for its connection_init, and takes it.
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${s.adminSecret}` } });
      await socket.receive(ofType('connection_ack'));
    });

    it('answers a ping without payload with a bare pong once acknowledged, and ignores an unsolicited pong', async () => {
      const socket = await acknowledged();
      socket.send({ type: 'pong' });
      socket.send({ type: 'ping' });
      expect(await socket.receive(ofType('pong'))).toEqual({ type: 'pong' });
      expect(socket.isOpen()).toBe(true);
    });
  });

  describe('4400: a message of a type or format the protocol does not specify', () => {
    it.each<[string, string | Record<string, unknown>]>([
      ['text that is not JSON', 'not json'],
      ['JSON that is not an object', '["connection_init"]'],
      ['an object without a type', { payload: {} }],
      ['an unknown type', { type: 'start', payload: {} }],
      ['a connection_init whose payload is a string', { type: 'connection_init', payload: `Bearer ${'x'.repeat(20)}` }],
      ['a connection_init whose payload is an array', { type: 'connection_init', payload: ['authorization'] }],
    ])('closes the socket with 4400 for %s, before any acknowledgement', async (_what, message) => {
      const socket = await openRaw(s.url);
      socket.send(message);
      expect(await within(socket.closed, WAIT_MS, 'the close')).toEqual({ code: 4400, reason: 'Invalid message received' });
      expect(socket.received).toEqual([]);
    });

    it.each<[string, Record<string, unknown>]>([
      ['a subscribe without an id', { type: 'subscribe', payload: { query: '{ viewer { role } }' } }],
      ['a subscribe with an empty id', { type: 'subscribe', id: '', payload: { query: '{ viewer { role } }' } }],
      ['a subscribe whose query is not a string', { type: 'subscribe', id: 'q', payload: { query: { viewer: 'role' } } }],
      ['a subscribe whose variables are a string', { type: 'subscribe', id: 'q', payload: { query: '{ viewer { role } }', variables: '{}' } }],
      ['a ping whose payload is a number', { type: 'ping', payload: 42 }],
    ])('closes an acknowledged socket with 4400 for %s, running nothing', async (_what, message) => {
      const socket = await acknowledged();
      socket.send(message);
      expect(await within(socket.closed, WAIT_MS, 'the close')).toEqual({ code: 4400, reason: 'Invalid message received' });
      expect(socket.received).toEqual([{ type: 'connection_ack' }]);
    });
  });

  it('closes with 4401 a socket that subscribes before its connection_init was acknowledged, running nothing', async () => {
    const socket = await openRaw(s.url);
    socket.send({ type: 'subscribe', id: 'early', payload: { query: 'mutation { createFlow(input: { name: "before the ack" }) { id } }' } });
    expect(await within(socket.closed, WAIT_MS, 'the close')).toEqual({ code: 4401, reason: 'Unauthorized' });
    expect(socket.received).toEqual([]);
    const flows = await s.ok<{ flows: { name: string }[] }>(`{ flows { name } }`);
    expect(flows.flows.map((f) => f.name)).not.toContain('before the ack');
  });

  describe('operation ids', () => {
    it('closes with 4409 a socket that subscribes under the id of an operation still running', async () => {
      const socket = await acknowledged();
      socket.send({ type: 'subscribe', id: 'queues', payload: { query: QUEUE_SIZE_ALL } });
      await socket.receive(ofType('next', 'queues'));
      socket.send({ type: 'subscribe', id: 'queues', payload: { query: '{ viewer { role } }' } });
      expect(await within(socket.closed, WAIT_MS, 'the close')).toEqual({ code: 4409, reason: 'Subscriber for queues already exists' });
      expect(socket.received.filter((m) => m.type !== 'next')).toEqual([{ type: 'connection_ack' }]);
    });

    it('lets an id be used again once its operation completed, and ignores a complete for an unknown id', async () => {
      const socket = await acknowledged();
      for (const round of [1, 2]) {
        const from = socket.received.length;
        socket.send({ type: 'subscribe', id: 'again', payload: { query: '{ viewer { role } }' } });
        const complete = await socket.receive(ofType('complete', 'again'), from);
        expect({ round, complete }).toEqual({ round, complete: { type: 'complete', id: 'again' } });
      }
      socket.send({ type: 'complete', id: 'never-subscribed' });
      socket.send({ type: 'ping' });
      await socket.receive(ofType('pong'));
      expect(socket.isOpen()).toBe(true);
      expect(socket.received.filter(ofType('next', 'again'))).toHaveLength(2);
    });

    it('sends nothing more for a subscription the client completed, while another on the same socket goes on', async () => {
      const socket = await acknowledged();
      socket.send({ type: 'subscribe', id: 'stopped', payload: { query: QUEUE_SIZE_ALL } });
      socket.send({ type: 'subscribe', id: 'going-on', payload: { query: QUEUE_SIZE_ALL } });
      await socket.receive(ofType('next', 'stopped'));
      await socket.receive(ofType('next', 'going-on'));
      socket.send({ type: 'complete', id: 'stopped' });
      // A socket's messages are taken in order: once this pong is back, the complete was taken.
      socket.send({ type: 'ping', payload: { after: 'complete' } });
      await socket.receive(ofType('pong'));
      const from = socket.received.length;
      await s.ok(`mutation($input: SetConcurrencyInput!) { setConcurrency(input: $input) { id } }`, {
        input: { connectionId, level: 5, autoRecoverRateLimitErrors: false },
      });
      const atLevel5 = (m: Message): boolean => JSON.stringify(m.payload).includes('"concurrencyLevel":5');
      const changed = await socket.receive((m) => ofType('next', 'going-on')(m) && atLevel5(m), from);
      expect(changed).toMatchObject({ payload: { data: { queueSize: { connectionId, concurrencyLevel: 5 } } } });
      // Both would have had this event at once; the completed one got nothing of it.
      expect(socket.received.filter((m) => m.id === 'stopped' && atLevel5(m))).toEqual([]);
      expect(socket.isOpen()).toBe(true);
    });
  });

  describe('4429: more than one connection_init', () => {
    it('closes with 4429 a socket that sends connection_init again after its acknowledgement', async () => {
      const socket = await acknowledged();
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${s.adminSecret}` } });
      expect(await within(socket.closed, WAIT_MS, 'the close')).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
    });

    it('closes with 4429 a socket that sends two connection_init at once', async () => {
      const socket = await openRaw(s.url);
      const init = { type: 'connection_init', payload: { authorization: `Bearer ${s.adminSecret}` } };
      socket.send(init);
      socket.send(init);
      expect(await within(socket.closed, WAIT_MS, 'the close')).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
    });

    it('leaves no token re-check running for a socket closed by 4429 while its token was being looked up', async () => {
      // The real TokenService, counted: an open socket re-checks its token every TOKEN_RECHECK_MS.
      const isLive = jest.spyOn(s.sluice.services.tokens, 'isLive');
      const blocker = new Client({ connectionString: s.databaseUrl });
      await blocker.connect();
      try {
        // Hold the token lookup of the first connection_init until the second has closed the socket.
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE api_token IN ACCESS EXCLUSIVE MODE');
        const socket = await openRaw(s.url);
        const init = { type: 'connection_init', payload: { authorization: `Bearer ${s.adminSecret}` } };
        socket.send(init);
        socket.send(init);
        expect((await within(socket.closed, WAIT_MS, 'the close')).code).toBe(4429);
        await blocker.query('COMMIT');
        // Queued behind the same lock, so the socket's lookup has ended too once this answers.
        await s.ok(`{ viewer { role } }`);
        const lookedUpAt = isLive.mock.calls.length;
        // Absence cannot be awaited: wait past two re-check periods.
        await new Promise((resolve) => setTimeout(resolve, 2 * TOKEN_RECHECK_MS + 500));
        expect(isLive.mock.calls.length - lookedUpAt).toBe(0);
        expect(socket.received).toEqual([]);
      } finally {
        isLive.mockRestore();
        await blocker.end();
      }
    });
  });
});

describe('graphql-transport-ws connection_init timeout', () => {
  const INIT_TIMEOUT_MS = 500;
  const s = useTestSluice({ engine: false, env: { CONNECTION_INIT_TIMEOUT_MS: String(INIT_TIMEOUT_MS) } });

  it('closes with 4408 a socket that sends no connection_init within CONNECTION_INIT_TIMEOUT_MS', async () => {
    const before = Date.now();
    const socket = await openRaw(s.url);
    expect(await within(socket.closed, WAIT_MS, 'the close')).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    // Never before the timeout: the clock started before the socket existed.
    expect(Date.now() - before).toBeGreaterThanOrEqual(INIT_TIMEOUT_MS - 5);
    expect(socket.received).toEqual([]);
  });

  it('keeps open, past the timeout, a socket whose connection_init was acknowledged', async () => {
    const socket = await openRaw(s.url);
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${s.adminSecret}` } });
    await socket.receive(ofType('connection_ack'));
    // Absence of a close cannot be awaited: wait well past the timeout, then use the socket.
    await new Promise((resolve) => setTimeout(resolve, 4 * INIT_TIMEOUT_MS));
    socket.send({ type: 'subscribe', id: 'late', payload: { query: '{ viewer { role } }' } });
    expect(await socket.receive(ofType('next', 'late'))).toEqual({ type: 'next', id: 'late', payload: { data: { viewer: { role: 'ADMINISTER' } } } });
    expect(socket.isOpen()).toBe(true);
  });
});
