/**
 * A request without a valid token is refused before its document is parsed
 * (contract: "requests"): over HTTP with 401 before the body is read; over
 * WebSocket, graphql-ws closes a socket that subscribes before its
 * connection_init was acknowledged (4401), without answering the operation.
 */
import WebSocket from 'ws';
import { wsUrl } from '../support/liveClient';
import { useTestSluice } from '../support/sluice';

interface Answer {
  status: number;
  code: string | undefined;
  message: string | undefined;
  ms: number;
}

async function post(url: string, body: string, authorization: string | null): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== null) headers.authorization = authorization;
  const started = performance.now();
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers, body });
  const json = (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };
  return { status: response.status, code: json.errors?.[0]?.extensions?.code, message: json.errors?.[0]?.message, ms: performance.now() - started };
}

describe('authentication before parsing', () => {
  const s = useTestSluice();

  it.each([
    ['no token', null],
    ['an unknown token', 'Bearer sluice_not-a-token-at-all'],
    ['a malformed Authorization header', 'Basic dXNlcjpwYXNz'],
  ])('answers a malformed document sent with %s with 401 UNAUTHENTICATED, not a syntax error', async (_what, authorization) => {
    const answer = await post(s.url, JSON.stringify({ query: '{ viewer { role ' }), authorization);
    expect({ status: answer.status, code: answer.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    // With the admin token the same document is a syntax error: it is parsed only then.
    const parsed = await post(s.url, JSON.stringify({ query: '{ viewer { role ' }), `Bearer ${s.adminSecret}`);
    expect({ status: parsed.status, code: parsed.code }).toEqual({ status: 400, code: 'GRAPHQL_PARSE_FAILED' });
  });

  it('answers a body that is not even JSON with 401 when it has no token', async () => {
    const answer = await post(s.url, '{"query": "{ viewer', null);
    expect({ status: answer.status, code: answer.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('refuses a GET without a token with 401 before parsing its query', async () => {
    const response = await fetch(`${s.url}/graphql?${new URLSearchParams({ query: '{ viewer {' })}`);
    const json = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect({ status: response.status, code: json.errors[0]!.extensions.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('refuses a 900 KB document of directives without a token as fast as a small one', async () => {
    const huge = JSON.stringify({ query: `{ viewer { role ${'@include(if: true) '.repeat(47000)}} }` });
    expect(huge.length).toBeGreaterThan(880_000);
    // Warm both paths once, then compare.
    await post(s.url, huge, 'Bearer sluice_nope');
    const small = await post(s.url, JSON.stringify({ query: '{ viewer { role } }' }), 'Bearer sluice_nope');
    const big = await post(s.url, huge, 'Bearer sluice_nope');
    expect({ status: big.status, code: big.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    // Parsing and validating it takes hundreds of ms; the refusal takes the token lookup and the upload.
    expect(big.ms).toBeLessThan(small.ms + 150);
  });

  it('closes a WebSocket that subscribes before connection_init with 4401, answering nothing', async () => {
    const socket = new WebSocket(wsUrl(s.url), 'graphql-transport-ws');
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(String(data)));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ viewer { role ' } }));
    const code = await new Promise<number>((resolve) => socket.once('close', (c: number) => resolve(c)));
    expect({ code, messages }).toEqual({ code: 4401, messages: [] });
  });

  it('closes a WebSocket whose connection_init carries a bad token with 4403 before any operation', async () => {
    const socket = new WebSocket(wsUrl(s.url), 'graphql-transport-ws');
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(String(data)));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer sluice_nope' } }));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ viewer { role } }' } }));
    const code = await new Promise<number>((resolve) => socket.once('close', (c: number) => resolve(c)));
    // 4401 when the subscribe arrives while the token is being looked up, 4403 once it was refused.
    expect([4401, 4403]).toContain(code);
    expect(messages.filter((m) => m.includes('"next"'))).toEqual([]);
  });
});
