import path from 'node:path';
import { ConnectorRegistry } from '../../src/connectors/registry';
import { loadPlugins, shapeProblems } from '../../src/connectors/pluginLoader';
import { httpConnector } from '../../src/connectors/http';
import type { Connector } from '../../src/connectors/sdk';
import { createFlow, runFlow, waitForJob } from '../support/flows';
import { startTestSluice, type TestSluice } from '../support/sluice';
import { startSluiceProcess, stopSluiceProcesses } from '../support/sluiceProcess';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'plugins');
const fixture = (name: string): string => path.join(FIXTURES, name);

describe('plugin shape check', () => {
  it('accepts the built-in http connector', () => {
    expect(shapeProblems(httpConnector)).toEqual([]);
  });

  it('names every problem of a broken plugin', () => {
    const problems = shapeProblems({ sdkVersion: 7, type: 'Bad Type', steps: { IMPORT: {} } });
    expect(problems.join('\n')).toMatch(/SDK version 7, but this Sluice supports version 1/);
    expect(problems.join('\n')).toMatch(/type must be a lower-case id/);
    expect(problems.join('\n')).toMatch(/displayName must be a non-empty string/);
    expect(problems.join('\n')).toMatch(/configSchema must be a JSON Schema object/);
    expect(problems.join('\n')).toMatch(/application\(config\) must be a function/);
    expect(problems.join('\n')).toMatch(/steps.IMPORT.importRecords must be a function/);
  });

  it('refuses something that is not an object', () => {
    expect(shapeProblems(undefined)).toEqual([expect.stringMatching(/default export is not an object/)]);
  });
});

describe('plugin loading (CommonJS, in process)', () => {
  it('registers a CommonJS plugin beside the built-in ones', async () => {
    const registry = new ConnectorRegistry([httpConnector as unknown as Connector]);
    const loaded = await loadPlugins([fixture('echo-cjs.cjs')], registry);
    expect(loaded.map((c) => c.type)).toEqual(['echo-cjs']);
    expect(registry.list().map((c) => c.type)).toEqual(['http', 'echo-cjs']);
    expect(registry.supportedStepKinds(registry.get('echo-cjs') as Connector)).toEqual(['LOOKUP']);
  });

  it('refuses a type that is already installed, naming the plugin', async () => {
    const registry = new ConnectorRegistry([httpConnector as unknown as Connector]);
    await expect(loadPlugins([fixture('duplicate-http.cjs')], registry)).rejects.toThrow(
      /connector plugin ".*duplicate-http.cjs": its type "http" is already installed/,
    );
  });

  it('refuses a module that cannot be found', async () => {
    const registry = new ConnectorRegistry();
    await expect(loadPlugins(['sluice-plugin-that-does-not-exist'], registry)).rejects.toThrow(
      /connector plugin "sluice-plugin-that-does-not-exist": cannot be loaded/,
    );
  });
});

describe('CONNECTOR_PLUGINS at start', () => {
  let s: TestSluice;

  beforeAll(async () => {
    s = await startTestSluice({ engine: false });
  });
  afterAll(async () => {
    await stopSluiceProcesses();
    await s?.close();
  });

  it('loads an ES module and a CommonJS plugin, lists them, and runs a flow through the ES one', async () => {
    const sluice = await startSluiceProcess(s, {
      ROLE: 'all',
      BOOTSTRAP_ADMIN_TOKEN: s.adminSecret,
      CONNECTOR_PLUGINS: `${fixture('echo.mjs')}, ${fixture('echo-cjs.cjs')}`,
    });
    const gql = async (query: string, variables: Record<string, unknown> = {}): Promise<any> => {
      const r = await fetch(`${sluice.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.adminSecret}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await r.json()) as { data: any; errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const { connectors } = await gql(`{ connectors { type version supportedStepKinds configSchema } }`);
    expect(connectors.map((c: { type: string }) => c.type)).toEqual(['http', 'echo', 'echo-cjs']);
    expect(connectors[1]).toMatchObject({ version: '1.0.0', supportedStepKinds: ['EXPORT', 'IMPORT'] });

    const created = await gql(`mutation { createConnection(input: { name: "echo", connectorType: "echo", config: { records: 25 }, autoRecoverRateLimitErrors: false, concurrencyLevel: 5 }) { id application } }`);
    expect(created.createConnection.application).toBe('echo://local');
    const conn = created.createConnection.id as string;
    const remote = { ...s, ok: async (q: string, v?: Record<string, unknown>) => gql(q, v) } as unknown as TestSluice;
    const flow = await createFlow(remote, [
      { kind: 'EXPORT', connectionId: conn, config: {} },
      { kind: 'IMPORT', connectionId: conn, config: { throwOnOdd: true } },
    ]);
    const job = await waitForJob(remote, await runFlow(remote, flow.id), 60000);
    // Something thrown outside the SDK's taxonomy is treated as transient:
    // retried a bounded number of times, then kept as a JobError; the rest go through.
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 25, recordsSucceeded: 12, recordsFailed: 13 });
    expect(new Set(job.errors.map((e) => e.code))).toEqual(new Set(['PLUGIN_ERROR']));
    expect(job.errors[0]?.message).toMatch(/plugin bug on record \d+ \(gave up after 5 attempts\)/);
  }, 90000);

  it.each([
    ['wrong-sdk.mjs', /connector plugin ".*wrong-sdk.mjs": it was built for connector SDK version 2, but this Sluice supports version 1/],
    ['broken-shape.mjs', /connector plugin ".*broken-shape.mjs": .*steps.UPSERT is not a step kind.*steps.IMPORT.importRecords must be a function/],
    ['duplicate-http.cjs', /its type "http" is already installed/],
  ])('refuses to start with %s, saying why', async (name, message) => {
    const output = await startSluiceProcess(s, { ROLE: 'all', CONNECTOR_PLUGINS: fixture(name) }).then(
      () => 'it started',
      (error: Error) => error.message,
    );
    // The reason is the start's one fatal JSON line (src/main.ts).
    const fatal = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .find((line) => line.level === 60);
    expect(fatal?.msg).toMatch(message);
  }, 30000);
});
