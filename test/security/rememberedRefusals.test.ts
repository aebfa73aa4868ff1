/**
 * Refusals remembered by the document's text (src/http/refusalMemory.ts): a
 * bomb sent again is refused from memory, with the same errors, and only
 * what the text alone decides is remembered, so what its variables or the
 * rows there are would admit is admitted.
 */
import type { GraphQLError } from 'graphql';
import { MAX_COST } from '../../src/http/queryCost';
import { REMEMBERED_BYTES, REMEMBERED_REFUSALS, RefusalMemory, textKey } from '../../src/http/refusalMemory';
import { limitError, MAX_ALIASES, MAX_DEPTH, MAX_TOKENS } from '../../src/http/requestLimits';
import { createHttpConnection, waitUntil } from '../support/flows';
import { codeOf, useTestSluice, type GraphQLResponse } from '../support/sluice';

const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

function nested(depth: number): string {
  let inner = 'id';
  for (let level = 2; level < depth; level++) inner = `borrowConcurrencyFrom { ${inner} }`;
  return `query($id: ID!) { connection(id: $id) { ${inner} } }`;
}

/** Each connection's flows' jobs, `first` of each: cost 1 + connections × (2 + 7 × first), the flows counted as 1 while no connection has one. */
const JOBS_OF_EVERY_CONNECTION = `{ connections { flows { jobs(first: 500) { id status startedAt finishedAt recordsExported recordsSucceeded recordsFailed } } } }`;
const jobsCost = (connections: number, first: number): number => 1 + connections * (2 + 7 * first);

/** What a client sees of a response: everything but timing. */
function seen(response: GraphQLResponse): unknown {
  return { status: response.status, data: response.data ?? null, errors: response.errors };
}

/** The value of one series of /metrics, 0 when it is not there yet. */
async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('remembered refusals', () => {
  const s = useTestSluice();
  let monitor: string;

  beforeAll(async () => {
    monitor = await s.token('MONITOR');
  });

  it('refuse a document sent again with the same errors, naming the same limit, from memory', async () => {
    const bombs = {
      depth: nested(MAX_DEPTH + 1),
      aliases: `{ ${Array.from({ length: MAX_ALIASES + 1 }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`,
      tokens: `{ ${'viewer { role } '.repeat(MAX_TOKENS / 4)} }`,
      cost: `{ jobs(first: 500) { id flow { id jobs(first: 500) { id status recordsSucceeded } } } }`,
    };
    for (const [limit, query] of Object.entries(bombs)) {
      const series = `sluice_graphql_refusals_total{reason="${limit}",remembered="true"}`;
      const recalledBefore = await metric(s.url, series);
      const first = await s.gql(query, { id: NO_SUCH_ID }, monitor);
      const again = await s.gql(query, { id: NO_SUCH_ID }, monitor);
      expect({ limit, code: codeOf(first), named: first.errors?.[0]?.extensions?.limit }).toEqual({ limit, code: 'GRAPHQL_VALIDATION_FAILED', named: limit });
      expect(seen(again)).toEqual(seen(first));
      expect({ limit, recalled: (await metric(s.url, series)) - recalledBefore }).toEqual({ limit, recalled: 1 });
    }
    expect(await metric(s.url, 'sluice_graphql_remembered_refusals')).toBeGreaterThanOrEqual(Object.keys(bombs).length);
  });

  it('remember a bad string in the text, and still check the variables before a remembered limit', async () => {
    const badLiteral = `{ connection(id: "a\\u0000b") { id } }`;
    const first = await s.gql(badLiteral, {}, monitor);
    expect(codeOf(first)).toBe('BAD_USER_INPUT');
    expect(seen(await s.gql(badLiteral, {}, monitor))).toEqual(seen(first));

    // Without the memory, bad variables are BAD_USER_INPUT before the depth is counted: so with it.
    const deep = nested(MAX_DEPTH + 1);
    expect((await s.gql(deep, { id: NO_SUCH_ID }, monitor)).errors?.[0]?.extensions?.limit).toBe('depth');
    const badVariables = await s.gql(deep, { id: 'a\u0000b' }, monitor);
    expect(codeOf(badVariables)).toBe('BAD_USER_INPUT');
    expect((await s.gql(deep, { id: NO_SUCH_ID }, monitor)).errors?.[0]?.extensions?.limit).toBe('depth');
  });

  it('admit a document refused by its cost once a variable makes it affordable', async () => {
    const query = `query($n: Int) { jobs(first: $n) { id flow { id jobs(first: $n) { id status } } } }`;
    expect((await s.gql(query, { n: 500 }, monitor)).errors?.[0]?.extensions?.limit).toBe('cost');
    const affordable = await s.gql(query, { n: 5 }, monitor);
    expect({ errors: affordable.errors, data: affordable.data }).toEqual({ errors: undefined, data: { jobs: [] } });
    expect((await s.gql(query, { n: 500 }, monitor)).errors?.[0]?.extensions?.limit).toBe('cost');
  });

  it('estimate a refused document again once fewer rows make it affordable', async () => {
    const existing = (await s.ok<{ connections: unknown[] }>(`{ connections { id } }`)).connections.length;
    const ids: string[] = [];
    while (existing + ids.length < 3) ids.push(await createHttpConnection(s, 'http://127.0.0.1:9'));
    expect(existing + ids.length).toBe(3);
    expect([jobsCost(3, 500), jobsCost(2, 500)].map((cost) => cost > MAX_COST)).toEqual([true, false]);
    // The list sizes are read at most once a second: wait until the estimate counts three connections.
    await waitUntil(async () => (await s.gql(JOBS_OF_EVERY_CONNECTION, {}, monitor)).errors?.[0]?.extensions?.limit === 'cost', 5000, 'the cost refusal');
    const recalled = await s.gql(JOBS_OF_EVERY_CONNECTION, {}, monitor);
    expect(recalled.errors?.[0]?.message).toContain(`estimated cost is ${jobsCost(3, 500)}`);

    await s.ok(`mutation($id: ID!) { deleteConnection(id: $id) }`, { id: ids[0] });
    await waitUntil(async () => (await s.gql(JOBS_OF_EVERY_CONNECTION, {}, monitor)).errors === undefined, 5000, 'the document admitted');
    const admitted = await s.gql<{ connections: unknown[] }>(JOBS_OF_EVERY_CONNECTION, {}, monitor);
    expect(admitted.data?.connections).toHaveLength(2);
  });
});

describe('RefusalMemory', () => {
  const refusal = (message: string): { kind: 'limits'; errors: readonly GraphQLError[] } => ({ kind: 'limits', errors: [limitError('depth', message)] });

  it(`keeps at most ${REMEMBERED_REFUSALS} documents, forgetting the least recently used first`, () => {
    const memory = new RefusalMemory();
    const keys = Array.from({ length: REMEMBERED_REFUSALS + 500 }, (_, i) => textKey(`{ bomb${i} }`));
    memory.remember(keys[0]!, refusal('the first'));
    for (const key of keys.slice(1)) {
      memory.remember(key, refusal('a bomb'));
      memory.recall(keys[0]!); // used again and again: kept
    }
    expect(memory.size.entries).toBe(REMEMBERED_REFUSALS);
    expect(memory.recall(keys[0]!)?.errors[0]?.message).toBe('the first');
    expect(memory.recall(keys[1]!)).toBeUndefined();
    expect(memory.recall(keys[keys.length - 1]!)?.kind).toBe('limits');
  });

  it(`keeps at most ${REMEMBERED_BYTES} bytes of keys and messages`, () => {
    const memory = new RefusalMemory();
    const long = 'x'.repeat(20000);
    for (let i = 0; i < 200; i++) memory.remember(textKey(`{ bomb${i} }`), refusal(long));
    expect(memory.size.bytes).toBeLessThanOrEqual(REMEMBERED_BYTES);
    expect(memory.size.entries).toBeLessThan(200);
    expect(memory.size.entries).toBeGreaterThan(0);
  });

  it('keys a text by its SHA-256, never the text itself', () => {
    const text = `{ ${'viewer { role } '.repeat(10000)} }`;
    expect(textKey(text)).toHaveLength(44);
    expect(textKey(text)).toBe(textKey(text));
    expect(textKey(text)).not.toBe(textKey(`${text} `));
  });
});
