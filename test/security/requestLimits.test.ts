/**
 * The request limits (src/http/requestLimits.ts, queryCost.ts): each refuses
 * an operation above it before it runs, with a GraphQL error naming it
 * (GRAPHQL_VALIDATION_FAILED, extensions.limit), over HTTP and over
 * WebSocket; the standard introspection query passes them all.
 */
import fs from 'node:fs';
import { buildClientSchema, getIntrospectionQuery, printSchema, type IntrospectionQuery } from 'graphql';
import type { FormattedExecutionResult } from 'graphql-ws';
import { SCHEMA_FILE, SCHEMA_HEADER } from '../../scripts/print-schema';
import { MAX_COST } from '../../src/http/queryCost';
import { MAX_ALIASES, MAX_DEPTH, MAX_DIRECTIVES, MAX_TOKENS } from '../../src/http/requestLimits';
import { waitUntil } from '../support/flows';
import { openSocket } from '../support/liveClient';
import { codeOf, useTestSluice, type GraphQLResponse } from '../support/sluice';

const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

/** `connection(id) { borrowConcurrencyFrom { … { id } } }`: `depth` levels of fields. */
function nested(depth: number): string {
  let inner = 'id';
  for (let level = 2; level < depth; level++) inner = `borrowConcurrencyFrom { ${inner} }`;
  return `query($id: ID!) { connection(id: $id) { ${inner} } }`;
}

function aliases(count: number): string {
  return `{ ${Array.from({ length: count }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`;
}

/** One directive per inline fragment: graphql-js allows @include once per location. */
function directives(count: number): string {
  return `{ viewer { ${Array.from({ length: count }, () => '... @include(if: true) { role }').join(' ')} } }`;
}

function refusal(response: GraphQLResponse): { status: number; code: string | undefined; limit: unknown; data: unknown } {
  return { status: response.status, code: codeOf(response), limit: response.errors?.[0]?.extensions?.limit, data: response.data ?? null };
}

describe('the request limits', () => {
  const s = useTestSluice();
  let monitor: string;

  beforeAll(async () => {
    monitor = await s.token('MONITOR');
  });

  it('answer the standard introspection query, and the schema it describes is the committed schema.graphql', async () => {
    const committed = fs.readFileSync(SCHEMA_FILE, 'utf8').slice(SCHEMA_HEADER.length);
    const printed = async (query: string): Promise<string> => {
      const response = await s.gql<IntrospectionQuery>(query, {}, monitor);
      expect(response.errors).toBeUndefined();
      return printSchema(buildClientSchema(response.data as IntrospectionQuery)) + '\n';
    };
    // The default query does not ask for scalars' @specifiedBy URL; with it asked for, the schema is the same to the byte.
    expect(await printed(getIntrospectionQuery())).toBe(committed.replace(/ @specifiedBy\(url: "[^"]*"\)/g, ''));
    expect(await printed(getIntrospectionQuery({ specifiedByUrl: true }))).toBe(committed);
  });

  it(`refuse an operation nested deeper than ${MAX_DEPTH} levels, naming the depth limit, and accept one that deep`, async () => {
    expect(codeOf(await s.gql(nested(MAX_DEPTH), { id: NO_SUCH_ID }, monitor))).toBe('NOT_FOUND'); // validated, then run
    const refused = await s.gql(nested(MAX_DEPTH + 1), { id: NO_SUCH_ID }, monitor);
    expect(refusal(refused)).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED', limit: 'depth', data: null });
    expect(refused.errors![0]!.message).toBe(`depth limit: the operation is nested ${MAX_DEPTH + 1} levels deep; at most ${MAX_DEPTH} are allowed`);
  });

  it(`refuse more than ${MAX_ALIASES} aliases, naming the aliases limit, and accept that many`, async () => {
    const accepted = await s.gql(aliases(MAX_ALIASES), {}, monitor);
    expect(Object.keys(accepted.data ?? {})).toHaveLength(MAX_ALIASES);
    const refused = await s.gql(aliases(MAX_ALIASES + 1), {}, monitor);
    expect(refusal(refused)).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED', limit: 'aliases', data: null });
    expect(refused.errors![0]!.message).toMatch(/^aliases limit: .* 16 aliases; at most 15/);
  });

  it('count the aliases of a fragment wherever it is spread', async () => {
    const fragment = `fragment F on Query { ${Array.from({ length: 8 }, (_, i) => `f${i}: viewer { role }`).join(' ')} }`;
    const refused = await s.gql(`{ ...F viewer { ... on Viewer { role } } a: limits { maxConcurrencyLevel } b: limits { maxConcurrencyLevel } ...G } ${fragment} fragment G on Query { ...F }`, {}, monitor);
    expect(refusal(refused)).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'aliases' });
  });

  it(`refuse more than ${MAX_DIRECTIVES} directives, naming the directives limit`, async () => {
    expect((await s.gql(directives(MAX_DIRECTIVES), {}, monitor)).data).toEqual({ viewer: { role: 'MONITOR' } });
    const refused = await s.gql(directives(MAX_DIRECTIVES + 1), {}, monitor);
    expect(refusal(refused)).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED', limit: 'directives', data: null });
    expect(refused.errors![0]!.message).toMatch(/^directives limit: /);
  });

  it(`refuse a document of more than ${MAX_TOKENS} tokens, naming the tokens limit`, async () => {
    // `{ viewer { role } }` is 6 tokens; each `__typename` one more. (Past a few hundred
    // identical fields graphql-js's own OverlappingFieldsCanBeMerged budget gives up.)
    const padded = (n: number): string => `{ viewer { role } ${'__typename '.repeat(n - 6)}}`;
    expect(codeOf(await s.gql(padded(500), {}, monitor))).toBeUndefined();
    const refused = await s.gql(padded(MAX_TOKENS + 1), {}, monitor);
    expect(refusal(refused)).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED', limit: 'tokens', data: null });
    expect(refused.errors![0]!.message).toBe(`tokens limit: the document has more than ${MAX_TOKENS} tokens; at most ${MAX_TOKENS} are allowed`);
  });

  it(`refuse an operation whose estimated cost, counting \`first\`, is above ${MAX_COST}, before it runs`, async () => {
    // jobs: 1 + 500 × (id 1 + flow (1 + id 1 + jobs (1 + 20 × 2))) = 22,001, with no job in the database: `first` is what counts.
    const query = `{ jobs(first: 500) { id flow { id jobs { id status } } } }`;
    const refused = await s.gql(query, {}, monitor);
    expect(refusal(refused)).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED', limit: 'cost', data: null });
    expect(refused.errors![0]!.message).toMatch(/^cost limit: the operation's estimated cost is 22001 .*at most 10000/);
    // 1 + 200 × 44 = 8,801.
    expect((await s.gql(`{ jobs(first: 200) { id flow { id jobs { id status } } } }`, {}, monitor)).data).toEqual({ jobs: [] });
  });

  it('count an unpaged list by the rows there are: the same query is accepted over a few connections and refused over many', async () => {
    const query = `{ connections { ${Array.from({ length: 20 }, () => 'id').join(' ')} name application config hasCredentials } }`;
    const create = (n: number): string =>
      `mutation { ${Array.from({ length: n }, (_, i) => `c${i}: createConnection(input: { name: "bulk ${Math.random()}", connectorType: "http", config: { baseUrl: "http://127.0.0.1:9" } }) { id }`).join(' ')} }`;
    await s.ok(create(10));
    expect(codeOf(await s.gql(query, {}, monitor))).toBeUndefined();
    // 1 + n × (20 + 4) > 10,000 from n = 417 on (the sizes are re-read at most every second).
    for (let i = 0; i < 30; i++) await s.ok(create(15));
    // The figure the estimate uses is up to a second old, by design.
    await waitUntil(async () => refusal(await s.gql(query, {}, monitor)).limit === 'cost', 5000, 'the unpaged list to be refused');
    // Paged, it passes: 1 + 400 × 24 = 9,601.
    expect((await s.ok<{ connections: unknown[] }>(query.replace('connections', 'connections(first: 400)'), {}, monitor)).connections).toHaveLength(400);
  });

  it('apply the same limits over WebSocket', async () => {
    const { client } = openSocket(s.url, monitor);
    try {
      const run = (query: string): Promise<FormattedExecutionResult | { errors: unknown }> =>
        new Promise((resolve) => {
          let result: FormattedExecutionResult | null = null;
          client.subscribe(
            { query, variables: { id: NO_SUCH_ID } },
            { next: (r) => (result = r as FormattedExecutionResult), error: (errors) => resolve({ errors }), complete: () => resolve(result as FormattedExecutionResult) },
          );
        });
      const limitOf = (r: { errors?: unknown }): unknown => (r.errors as { extensions?: { limit?: unknown } }[] | undefined)?.[0]?.extensions?.limit;
      expect(limitOf(await run(nested(MAX_DEPTH + 1)))).toBe('depth');
      expect(limitOf(await run(aliases(MAX_ALIASES + 1)))).toBe('aliases');
      expect(limitOf(await run(directives(MAX_DIRECTIVES + 1)))).toBe('directives');
      expect(limitOf(await run(`{ viewer { role } ${'__typename '.repeat(MAX_TOKENS)}}`))).toBe('tokens');
      expect(limitOf(await run(`{ jobs(first: 500) { id flow { id jobs { id status } } } }`))).toBe('cost');
      const introspection = (await run(getIntrospectionQuery())) as FormattedExecutionResult;
      expect(introspection.errors).toBeUndefined();
      expect(introspection.data).toHaveProperty('__schema');
    } finally {
      await client.dispose();
    }
  });

  it('leave field suggestions out of validation errors', async () => {
    const response = await s.gql(`{ viewer { rol } }`, {}, monitor);
    expect(codeOf(response)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(response.errors![0]!.message).toBe('Cannot query field "rol" on type "Viewer".');
  });
});
