/**
 * The log lines an on-call engineer works from, read from a real server's
 * output (`node src/main.ts` in a child process, as an operator runs it):
 * one access-log line per GraphQL request over HTTP, one line per record
 * that failed for good, a job's start and end with its counts, a level
 * change naming its connection; never a secret, never a request's variables.
 * And a start that cannot go on says why in one JSON line.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createTestDatabase } from '../support/database';
import { createFlow, createHttpConnection, ORDERS_PAGING, runFlow, waitForJob, waitUntil } from '../support/flows';
import { graphqlClient, type GraphQLClient } from '../support/graphqlClient';
import { json, orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startSluiceProcess, stopSluiceProcesses, type SluiceProcess } from '../support/sluiceProcess';

const ROOT = path.resolve(__dirname, '../..');
const RECORDS = 30;

type Line = Record<string, unknown> & { msg: string };

function parsed(lines: string[]): Line[] {
  return lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Line];
    } catch {
      return [];
    }
  });
}

describe('operator logs', () => {
  let sluice: SluiceProcess;
  let client: GraphQLClient;
  let api: RecordingApi;
  const adminSecret = `admin-${randomBytes(16).toString('hex')}`;
  const apiToken = `remote-${randomBytes(12).toString('hex')}`;

  beforeAll(async () => {
    api = await startRecordingApi({ orders: orders(RECORDS) });
    const databaseUrl = await createTestDatabase();
    sluice = await startSluiceProcess(
      { databaseUrl, credentialsKey: randomBytes(32).toString('base64') },
      { ROLE: 'all', BOOTSTRAP_ADMIN_TOKEN: adminSecret, LOG_LEVEL: 'info' },
      60000,
    );
    client = graphqlClient(sluice.url, adminSecret);
  }, 90000);

  afterAll(async () => {
    await stopSluiceProcesses();
    await api?.close();
  });

  it('logs every failed record with its job, flow, step, connection, code and HTTP status, and the job with its counts', async () => {
    // Every import is refused for good: 30 JobErrors, each a line.
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      json(res, 422, { error: 'unprocessable' });
      return true;
    };
    const conn = await createHttpConnection(client, api.url, {
      name: 'erp-orders',
      concurrencyLevel: 4,
      credentials: { type: 'bearer', token: apiToken },
    });
    const flow = await createFlow(
      client,
      [
        { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data', paging: ORDERS_PAGING } },
        { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
      ],
      'nightly orders',
    );
    const jobId = await runFlow(client, flow.id);
    const job = await waitForJob(client, jobId, 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: RECORDS, recordsFailed: RECORDS });
    await waitUntil(() => parsed(sluice.lines).some((l) => l.msg === 'job finished' && l.jobId === jobId), 10000, 'the job finished line');

    const lines = parsed(sluice.lines);
    const failures = lines.filter((l) => l.msg === 'record failed' && l.jobId === jobId);
    expect(failures).toHaveLength(RECORDS);
    for (const f of failures) {
      expect(f).toMatchObject({
        level: 40,
        jobId,
        flowId: flow.id,
        flowName: 'nightly orders',
        stepId: flow.stepIds[1],
        stepPosition: 1,
        stepKind: 'IMPORT',
        connectionId: conn,
        connectionName: 'erp-orders',
        code: 'HTTP_422',
        httpStatus: 422,
        attempts: 1,
      });
      expect(String(f.reason)).toContain('HTTP 422');
    }
    expect(lines.find((l) => l.msg === 'job started' && l.jobId === jobId)).toMatchObject({ flowId: flow.id, flowName: 'nightly orders' });
    expect(lines.find((l) => l.msg === 'job finished' && l.jobId === jobId)).toMatchObject({
      flowName: 'nightly orders',
      status: 'COMPLETED',
      recordsExported: RECORDS,
      recordsSucceeded: 0,
      recordsFailed: RECORDS,
    });
  }, 60000);

  it('writes one access-log line per GraphQL request: operation, type, status, duration and token name, never the variables', async () => {
    const marker = `needle-${randomBytes(6).toString('hex')}`;
    const before = sluice.lines.length;
    // A named operation whose variables carry a credential and a marker, and a literal in the query's text.
    const response = await client.gql(
      `mutation CreateTheConnection($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
      { input: { name: marker, connectorType: 'http', config: { baseUrl: api.url }, credentials: { type: 'bearer', token: apiToken } } },
    );
    expect(response.errors).toBeUndefined();
    const anonymous = await client.gql(`{ connection(id: "literal-in-the-text") { name } }`, undefined, null); // no token: refused
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    // Found by what they are: a line of an earlier test's last request may still arrive meanwhile.
    const accessLines = (): Line[] => parsed(sluice.lines.slice(before)).filter((l) => l.msg === 'graphql request');
    const named = (): Line[] => accessLines().filter((l) => l.operationName === 'CreateTheConnection');
    const refused = (): Line[] => accessLines().filter((l) => l.status === 401);
    await waitUntil(() => named().length > 0 && refused().length > 0, 5000, 'both access-log lines');
    expect(named()).toHaveLength(1);
    expect(refused()).toHaveLength(1);
    const access = [named()[0], refused()[0]];
    expect(access[0]).toMatchObject({
      level: 30,
      access: 'graphql',
      method: 'POST',
      status: 200,
      operationName: 'CreateTheConnection',
      operationType: 'mutation',
      tokenName: 'bootstrap-admin',
    });
    expect(typeof access[0]?.durationMs).toBe('number');
    // Refused before it runs (whether or not it was parsed): no token name to give.
    expect(access[1]).toMatchObject({ status: 401, operationName: null, tokenName: null });

    const output = sluice.lines.slice(before).join('\n');
    expect(output).not.toContain(marker);
    expect(output).not.toContain('literal-in-the-text');
  });

  it('names the connection of every change of a level in use', async () => {
    let limited = 0;
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      if (limited++ < 3) {
        json(res, 429, { error: 'slow down' }, { 'retry-after': '0' });
        return true;
      }
      json(res, 200, { ok: true });
      return true;
    };
    const conn = await createHttpConnection(client, api.url, { name: 'limited-api', concurrencyLevel: 4, autoRecoverRateLimitErrors: true });
    const flow = await createFlow(client, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data', paging: ORDERS_PAGING } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const job = await waitForJob(client, await runFlow(client, flow.id), 30000);
    expect(job.status).toBe('COMPLETED');
    await waitUntil(() => parsed(sluice.lines).some((l) => /^level in use/.test(l.msg) && l.connectionId === conn), 10000, 'a level change line');
    const change = parsed(sluice.lines).find((l) => /^level in use/.test(l.msg) && l.connectionId === conn);
    expect(change).toMatchObject({ connectionName: 'limited-api', queueOwnerId: conn, reason: 'rate-limited' });
  }, 60000);

  it('never logs a secret: not the bootstrap token, not a connection credential', () => {
    const output = sluice.lines.join('\n');
    expect(output).toContain('record failed');
    expect(output).not.toContain(adminSecret);
    expect(output).not.toContain(apiToken);
  });
});

describe('a start that cannot go on', () => {
  async function run(env: Record<string, string>): Promise<{ code: number | null; lines: Line[]; raw: string }> {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let raw = '';
    child.stdout.on('data', (c: Buffer) => (raw += c.toString()));
    child.stderr.on('data', (c: Buffer) => (raw += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    return { code, lines: parsed(raw.split('\n')), raw };
  }

  it('names LOG_LEVEL when it is not a level, in one JSON line, and exits 2', async () => {
    const { code, lines, raw } = await run({ LOG_LEVEL: 'verbose' });
    expect(code).toBe(2);
    expect(raw.trim().split('\n')).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 60, code: 'CONFIG_ERROR', variable: 'LOG_LEVEL' });
    expect(lines[0]?.msg).toMatch(/LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/);
  }, 30000);

  it('says in JSON why it gave up on a database that does not answer, without its password', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const { code, lines, raw } = await run({
      DATABASE_URL: `postgres://sluice:${password}@127.0.0.1:1/sluice`,
      CREDENTIALS_KEY: randomBytes(32).toString('base64'),
      DATABASE_WAIT_MS: '600',
    });
    expect(code).toBe(1);
    expect(lines.filter((l) => l.msg === 'the database does not answer yet; waiting for it').length).toBeGreaterThanOrEqual(1);
    const fatal = lines.find((l) => l.level === 60);
    expect(fatal).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect(fatal?.msg).toMatch(/127\.0\.0\.1:1 did not answer within 1 s .*DATABASE_WAIT_MS/);
    expect(raw).not.toContain(password);
  }, 30000);
});
