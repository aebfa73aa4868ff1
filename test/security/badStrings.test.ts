/**
 * Strings no column can hold (NUL, unpaired surrogates) and values nested
 * past 64 levels are BAD_USER_INPUT, in a variable or as a literal, and the
 * mutation that carried them changes nothing (src/http/badInput.ts).
 */
import { openSocket } from '../support/liveClient';
import { codeOf, useTestSluice, type GraphQLResponse } from '../support/sluice';

const CREATE_FLOW = `mutation($name: String!) { createFlow(input: { name: $name }) { id } }`;
const UPDATE_CONFIG = `mutation($id: ID!, $config: JSON) { updateConnection(id: $id, input: { config: $config }) { id config } }`;

function deepList(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

/** `[[[1]]]`, `levels` deep: as JSON and as a GraphQL literal alike (JSON.stringify of 5,000 levels runs out of stack). */
function deepText(levels: number): string {
  return `${'['.repeat(levels)}1${']'.repeat(levels)}`;
}

describe('bad strings and deep values', () => {
  const s = useTestSluice();
  let connectionId: string;
  const config = { baseUrl: 'http://127.0.0.1:9', headers: { 'X-Tenant': 'acme' } };
  /** As stored (with the connector's defaults). */
  let stored: unknown;

  beforeAll(async () => {
    const created = await s.ok<{ createConnection: { id: string; config: unknown } }>(
      `mutation($config: JSON) { createConnection(input: { name: "strings", connectorType: "http", config: $config }) { id config } }`,
      { config },
    );
    connectionId = created.createConnection.id;
    stored = created.createConnection.config;
  });

  async function flowNames(): Promise<string[]> {
    return (await s.ok<{ flows: { name: string }[] }>(`{ flows { name } }`)).flows.map((f) => f.name);
  }

  async function storedConfig(): Promise<unknown> {
    return (await s.ok<{ connection: { config: unknown } }>(`query($id: ID!) { connection(id: $id) { config } }`, { id: connectionId })).connection.config;
  }

  function refused(response: GraphQLResponse): { code: string | undefined; data: unknown } {
    return { code: codeOf(response), data: response.data ?? null };
  }

  it.each([
    ['a NUL character', 'nul \u0000 inside'],
    ['an unpaired high surrogate', 'lone \ud800 high'],
    ['an unpaired low surrogate', 'lone \udc00 low'],
  ])('refuses a variable holding %s as BAD_USER_INPUT, and creates nothing', async (_what, name) => {
    const response = await s.gql(CREATE_FLOW, { name });
    expect(refused(response)).toEqual({ code: 'BAD_USER_INPUT', data: null });
    expect(response.errors![0]!.message).toMatch(/\$name holds .*strings may not contain NUL or unpaired surrogates/);
    expect(await flowNames()).toEqual([]);
  });

  it.each([
    ['a NUL escape', String.raw`"nul \u0000 inside"`],
    ['an unpaired surrogate escape', String.raw`"lone \uD800 high"`],
    ['a raw NUL character', '"nul \u0000 raw"'],
  ])('refuses a literal string holding %s as BAD_USER_INPUT, and creates nothing', async (_what, literal) => {
    const response = await s.gql(`mutation { createFlow(input: { name: ${literal} }) { id } }`);
    expect(refused(response)).toEqual({ code: 'BAD_USER_INPUT', data: null });
    expect(await flowNames()).toEqual([]);
  });

  it('refuses a NUL in a JSON key or value deep in a variable, and changes nothing', async () => {
    for (const bad of [{ baseUrl: 'http://127.0.0.1:9', headers: { 'X-\u0000': 'a' } }, { baseUrl: 'http://127.0.0.1:9', headers: { 'X-A': ['\u0000'] } }]) {
      expect(refused(await s.gql(UPDATE_CONFIG, { id: connectionId, config: bad }))).toEqual({ code: 'BAD_USER_INPUT', data: null });
    }
    expect(await storedConfig()).toEqual(stored);
  });

  it('refuses JSON nested 5,000 levels deep in a variable as BAD_USER_INPUT, and changes nothing', async () => {
    const body = `{"query": ${JSON.stringify(UPDATE_CONFIG)}, "variables": {"id": "${connectionId}", "config": {"baseUrl": "http://127.0.0.1:9", "deep": ${deepText(5000)}}}}`;
    const answer = await fetch(`${s.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${s.adminSecret}` }, body });
    const response = { ...((await answer.json()) as GraphQLResponse), status: answer.status };
    expect(refused(response)).toEqual({ code: 'BAD_USER_INPUT', data: null });
    expect(response.errors![0]!.message).toBe('the variable $config is nested deeper than 64 levels of lists and objects');
    expect(await storedConfig()).toEqual(stored);
  });

  it('refuses JSON nested 5,000 levels deep as a literal as BAD_USER_INPUT, and changes nothing', async () => {
    const response = await s.gql(
      `mutation($id: ID!) { updateConnection(id: $id, input: { config: { baseUrl: "http://127.0.0.1:9", deep: ${deepText(5000)} } }) { id } }`,
      { id: connectionId },
    );
    expect(refused(response)).toEqual({ code: 'BAD_USER_INPUT', data: null });
    expect(response.errors![0]!.message).toMatch(/is nested deeper than 64 levels/);
    expect(await storedConfig()).toEqual(stored);
  });

  it('lets JSON nested exactly 64 levels deep through to the connector, and refuses 65', async () => {
    // The variable itself is level 1: the object holding `deep`. The http connector's configSchema then refuses `deep`.
    const at = await s.gql(UPDATE_CONFIG, { id: connectionId, config: { baseUrl: 'http://127.0.0.1:9', deep: deepList(63) } });
    expect(at.errors![0]!.message).toMatch(/^config does not match the http connector's configSchema/);
    const past = await s.gql(UPDATE_CONFIG, { id: connectionId, config: { baseUrl: 'http://127.0.0.1:9', deep: deepList(64) } });
    expect(past.errors![0]!.message).toBe('the variable $config is nested deeper than 64 levels of lists and objects');
  });

  it('refuses the same over WebSocket', async () => {
    const { client } = openSocket(s.url, s.adminSecret);
    try {
      const errors = await new Promise<unknown>((resolve) =>
        client.subscribe({ query: CREATE_FLOW, variables: { name: 'over ws \u0000' } }, { next: () => undefined, error: resolve, complete: () => resolve(null) }),
      );
      expect((errors as { extensions?: { code?: string } }[])[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    } finally {
      await client.dispose();
    }
    expect(await flowNames()).toEqual([]);
  });
});
