/**
 * CORS_ORIGINS (src/http/cors.ts): the listed origins get a preflight 204
 * and Access-Control-Allow-Origin on their requests; any other origin, and
 * every origin when the list is empty (the default), gets none.
 */
import { useTestSluice, type TestSluice } from '../support/sluice';

const ALLOWED = 'http://console.example.test:8080';
const OTHER = 'http://attacker.example.test';

function preflight(s: TestSluice, origin: string): Promise<Response> {
  return fetch(`${s.url}/graphql`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
}

function postFrom(s: TestSluice, origin: string): Promise<Response> {
  return fetch(`${s.url}/graphql`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${s.adminSecret}` },
    body: JSON.stringify({ query: '{ viewer { role } }' }),
  });
}

describe('CORS with CORS_ORIGINS set', () => {
  const s = useTestSluice({ env: { CORS_ORIGINS: `${ALLOWED}, http://other-console.example.test` } });

  it('answers the preflight of an allowed origin with 204 and the methods and headers a GraphQL client sends', async () => {
    const response = await preflight(s, ALLOWED);
    await response.text();
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET,POST');
    expect(response.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(response.headers.get('access-control-max-age')).toBe('600');
    expect(response.headers.get('vary')).toMatch(/Origin/);
  });

  it("lets an allowed origin read the answer to its request", async () => {
    const response = await postFrom(s, ALLOWED);
    expect(await response.json()).toEqual({ data: { viewer: { role: 'ADMINISTER' } } });
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('gives a refused origin no Access-Control-Allow-Origin, on its preflight or its request', async () => {
    const pre = await preflight(s, OTHER);
    await pre.text();
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.status).toBe(405);
    const response = await postFrom(s, OTHER);
    await response.text();
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS by default', () => {
  const s = useTestSluice();

  it('allows no origin beyond the same one', async () => {
    const pre = await preflight(s, ALLOWED);
    await pre.text();
    expect({ status: pre.status, allowOrigin: pre.headers.get('access-control-allow-origin') }).toEqual({ status: 405, allowOrigin: null });
    const response = await postFrom(s, ALLOWED);
    await response.text();
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
