/**
 * The HTTP surface: GraphQL over POST and GET, what a malformed or oversized
 * request gets, the depth limit (the others: test/security/requestLimits.test.ts),
 * /healthz and /metrics.
 */
import { Client } from 'pg';
import { MAX_DEPTH } from '../../src/http/requestLimits';
import { waitUntil } from '../support/flows';
import { codeOf, startTestSluice, type GraphQLResponse, type TestSluice } from '../support/sluice';

const ONE_MB = 1024 * 1024;

async function getGraphql(s: TestSluice, params: Record<string, string>, secret: string | null = s.adminSecret): Promise<GraphQLResponse> {
  const headers: Record<string, string> = {};
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  const response = await fetch(`${s.url}/graphql?${new URLSearchParams(params).toString()}`, { headers });
  const text = await response.text();
  return { ...(text.startsWith('{') ? (JSON.parse(text) as GraphQLResponse) : {}), status: response.status };
}

async function postRaw(s: TestSluice, body: string, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  const response = await fetch(`${s.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${s.adminSecret}` },
    body,
  });
  return { status: response.status, text: await response.text() };
}

/** `{ connection(id) { borrowConcurrencyFrom { ... { id } } } }`, `depth` levels of selection sets deep. */
function nestedQuery(depth: number): string {
  let inner = 'id';
  for (let level = 2; level < depth; level++) inner = `borrowConcurrencyFrom { ${inner} }`;
  return `query($id: ID!) { connection(id: $id) { ${inner} } }`;
}

describe('GraphQL over HTTP', () => {
  let s: TestSluice;

  beforeAll(async () => {
    s = await startTestSluice();
  });

  afterAll(() => s?.close());

  it('answers a query sent with GET', async () => {
    const response = await getGraphql(s, { query: '{ viewer { role } limits { maxConcurrencyLevel } }' });
    expect(response).toEqual({ status: 200, data: { viewer: { role: 'ADMINISTER' }, limits: { maxConcurrencyLevel: 25 } } });
  });

  it('answers a GET with variables', async () => {
    const response = await getGraphql(s, {
      query: 'query($id: ID!) { connection(id: $id) { id } }',
      variables: JSON.stringify({ id: '00000000-0000-4000-8000-000000000000' }),
    });
    expect(response.status).toBe(200);
    expect(codeOf(response)).toBe('NOT_FOUND');
  });

  it('refuses a GET without a token with 401', async () => {
    const response = await getGraphql(s, { query: '{ viewer { role } }' }, null);
    expect({ status: response.status, code: codeOf(response) }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('refuses a mutation sent with GET (4xx) and runs nothing', async () => {
    const response = await getGraphql(s, { query: 'mutation { createFlow(input: { name: "over GET" }) { id } }' });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.data ?? null).toBeNull();
    const flows = await s.ok<{ flows: { name: string }[] }>(`{ flows { name } }`);
    expect(flows.flows.map((f) => f.name)).not.toContain('over GET');
  });

  it('answers a body that is not JSON with 400 and keeps answering', async () => {
    for (const body of ['{"query": "{ viewer { role } }"', 'not json at all', '{"query":']) {
      const response = await postRaw(s, body);
      expect(response.status).toBe(400);
    }
    expect(await s.ok(`{ viewer { role } }`)).toEqual({ viewer: { role: 'ADMINISTER' } });
  });

  it('answers JSON that is not a GraphQL request with 400', async () => {
    for (const body of ['"a string"', '[1, 2]', '{"query": 42}', '{}']) {
      const response = await postRaw(s, body);
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
    }
  });

  it('accepts a body just under 1 MB', async () => {
    const query = '{ viewer { role } }';
    const envelope = JSON.stringify({ query, variables: { pad: '' } });
    const body = JSON.stringify({ query, variables: { pad: 'x'.repeat(ONE_MB - envelope.length - 16) } });
    expect(body.length).toBeLessThan(ONE_MB);
    const response = await postRaw(s, body);
    expect(response).toEqual({ status: 200, text: expect.stringContaining('ADMINISTER') });
  });

  it('refuses a body over 1 MB with 413 and keeps answering', async () => {
    const body = JSON.stringify({ query: '{ viewer { role } }', variables: { pad: 'x'.repeat(ONE_MB + 10) } });
    const response = await postRaw(s, body);
    expect(response.status).toBe(413);
    expect(await s.ok(`{ viewer { role } }`)).toEqual({ viewer: { role: 'ADMINISTER' } });
  });

  it('refuses a chunked body (no Content-Length) over 1 MB with 413 and keeps answering', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"query": "{ viewer { role } }", "variables": {"pad": "'));
        if (sent > 2 * ONE_MB) {
          controller.enqueue(new TextEncoder().encode('"}}'));
          controller.close();
          return;
        }
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.adminSecret}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await response.text();
    expect(response.status).toBe(413);
    expect(await s.ok(`{ viewer { role } }`)).toEqual({ viewer: { role: 'ADMINISTER' } });
  });

  // GET / is the web console (test/api/consoleBundle.test.ts).
  it('answers an unknown path with 404', async () => {
    for (const path of ['/graphql/extra', '/nothing-here', '/healthz/x']) {
      const response = await fetch(`${s.url}${path}`);
      await response.text();
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
  });

  it(`refuses a query nested deeper than ${MAX_DEPTH} levels, and accepts one exactly that deep`, async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const atLimit = await s.gql(nestedQuery(MAX_DEPTH), { id });
    expect(codeOf(atLimit)).toBe('NOT_FOUND'); // validated, then executed
    const tooDeep = await s.gql(nestedQuery(MAX_DEPTH + 1), { id });
    expect(tooDeep.status).toBe(400);
    expect(codeOf(tooDeep)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(tooDeep.errors![0]!.message).toMatch(/deep/);
  });

  it('counts the depth that fragment spreads nest to', async () => {
    const fragments = Array.from({ length: MAX_DEPTH }, (_, i) =>
      i === MAX_DEPTH - 1 ? `fragment F${i} on Connection { id }` : `fragment F${i} on Connection { borrowConcurrencyFrom { ...F${i + 1} } }`,
    );
    const response = await s.gql(`query($id: ID!) { connection(id: $id) { ...F0 } } ${fragments.join(' ')}`, {
      id: '00000000-0000-4000-8000-000000000000',
    });
    expect(codeOf(response)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(response.errors![0]!.message).toMatch(/deep/);
  });

  it('refuses a method other than GET and POST on /graphql with 405', async () => {
    const response = await fetch(`${s.url}/graphql`, { method: 'PUT', headers: { authorization: `Bearer ${s.adminSecret}` } });
    await response.text();
    expect(response.status).toBe(405);
  });
});

describe('/healthz', () => {
  let s: TestSluice;

  beforeAll(async () => {
    s = await startTestSluice();
  });

  afterAll(() => s?.close());

  it('is 200 while the database answers, 503 while it does not, and 200 again once it does', async () => {
    const health = async (): Promise<number> => {
      const response = await fetch(`${s.url}/healthz`);
      await response.text();
      return response.status;
    };
    expect(await health()).toBe(200);
    const database = new URL(s.databaseUrl).pathname.slice(1);
    const admin = new Client({ connectionString: process.env.SLUICE_TEST_ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [database]);
      await waitUntil(async () => (await health()) === 503, 10000, '/healthz 503');
    } finally {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await waitUntil(async () => (await health()) === 200, 10000, '/healthz 200');
    expect(await s.ok(`{ viewer { role } }`)).toEqual({ viewer: { role: 'ADMINISTER' } });
  });
});

describe('/metrics', () => {
  let s: TestSluice;

  beforeAll(async () => {
    s = await startTestSluice();
  });

  afterAll(() => s?.close());

  async function scrape(): Promise<{ contentType: string; text: string }> {
    const response = await fetch(`${s.url}/metrics`);
    expect(response.status).toBe(200);
    return { contentType: response.headers.get('content-type') ?? '', text: await response.text() };
  }

  /** The sum of every sample of `name` whose labels include `labels`. */
  function sample(text: string, name: string, labels: string): number {
    let sum = 0;
    for (const line of text.split('\n')) {
      const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
      if (match && match[1] === name && match[2]!.includes(labels)) sum += Number(match[3]);
    }
    return sum;
  }

  it('serves Prometheus text with the HTTP request counter and duration histogram', async () => {
    await s.ok(`{ viewer { role } }`);
    const { contentType, text } = await scrape();
    expect(contentType).toMatch(/^text\/plain/);
    expect(text).toContain('# TYPE sluice_http_requests_total counter');
    expect(text).toContain('# TYPE sluice_http_request_duration_seconds histogram');
    expect(text).toMatch(/^sluice_http_request_duration_seconds_bucket\{.*le="\+Inf".*\} \d+$/m);
  });

  it('counts requests: the counter and the histogram grow by the requests made', async () => {
    const route = 'route="/graphql"';
    const before = (await scrape()).text;
    for (let i = 0; i < 3; i++) await s.ok(`{ limits { maxConcurrencyLevel } }`);
    const after = (await scrape()).text;
    expect(sample(after, 'sluice_http_requests_total', route) - sample(before, 'sluice_http_requests_total', route)).toBe(3);
    expect(
      sample(after, 'sluice_http_request_duration_seconds_count', route) - sample(before, 'sluice_http_request_duration_seconds_count', route),
    ).toBe(3);
    const notFound = 'status="404"';
    await (await fetch(`${s.url}/no-such-page`)).text();
    expect(sample((await scrape()).text, 'sluice_http_requests_total', notFound) - sample(after, 'sluice_http_requests_total', notFound)).toBe(1);
  });
});
