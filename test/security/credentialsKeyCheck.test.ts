/**
 * The key check (contract: "credentials"; README "Secrets and credentials"):
 * a process whose CREDENTIALS_KEY is not the one the stored credentials were
 * encrypted with refuses to start, naming CREDENTIALS_KEY; a credential that
 * does not decrypt at call time is CREDENTIALS_UNREADABLE (permanent, logged
 * naming the connection), never PLUGIN_ERROR.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startSluice } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { startFakeApi, type FakeApi } from '../support/fakeApi';
import { startSluiceProcess, stopSluiceProcesses } from '../support/sluiceProcess';
import { useTestSluice } from '../support/sluice';

const ECHO = path.resolve(__dirname, '../fixtures/plugins/echo.mjs');
const otherKey = (): string => randomBytes(32).toString('base64');

afterAll(() => stopSluiceProcesses());

describe('the credentials key check at start', () => {
  const s = useTestSluice();

  it('a process started with another CREDENTIALS_KEY exits non-zero, naming CREDENTIALS_KEY; with the same key it starts', async () => {
    await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'sealed', credentials: { type: 'bearer', token: 'sealed-with-the-first-key' } });
    const refused = await startSluiceProcess(s, { CREDENTIALS_KEY: otherKey() }).then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/the process exited \(\{"code":1,"signal":null\}\) before it was ready/);
    expect(refused).toMatch(/CREDENTIALS_KEY is not the key this database's credentials were encrypted with/);

    const same = await startSluiceProcess(s);
    same.signal('SIGTERM');
    expect((await same.exited).code).toBe(0);
  });

  it('the first start writes the one check value, before any credential is stored', async () => {
    const rows = (await s.sluice.dataSource.query(`SELECT count(*)::int AS n FROM credentials_key_check`)) as { n: number }[];
    expect(rows[0]!.n).toBe(1);
  });

  it('on a database from before the check, a stored credential decides, and a wrong key writes no check value', async () => {
    await s.sluice.dataSource.query(`DELETE FROM credentials_key_check`);
    const config = (key: string) => loadConfig({ DATABASE_URL: s.databaseUrl, CREDENTIALS_KEY: key, PORT: '0', ROLE: 'api' });
    await expect(startSluice(config(otherKey()), createLogger('silent'))).rejects.toThrow(/CREDENTIALS_KEY is not the key/);
    expect(await s.sluice.dataSource.query(`SELECT id FROM credentials_key_check`)).toEqual([]);

    const right = await startSluice(config(s.credentialsKey), createLogger('silent'));
    await right.close();
    expect(await s.sluice.dataSource.query(`SELECT id FROM credentials_key_check`)).toEqual([{ id: 1 }]);
  });
});

describe('credentials that do not decrypt at call time', () => {
  const logLines: string[] = [];
  const s = useTestSluice({ engine: true, logLines, env: { CONNECTOR_PLUGINS: ECHO } });
  let api: FakeApi;
  beforeAll(async () => {
    api = await startFakeApi();
  });
  afterAll(() => api.close());

  /** A connection whose sealed credentials were sealed for another connection: they do not open for it. */
  async function unreadable(name: string): Promise<string> {
    const owner = await createHttpConnection(s, api.url, { name: `${name} owner`, credentials: { type: 'bearer', token: 'owners-token' } });
    const id = await createHttpConnection(s, api.url, { name, credentials: { type: 'bearer', token: 'its-own-token' } });
    await s.sluice.dataSource.query(`UPDATE connection SET credentials = (SELECT credentials FROM connection WHERE id = $1) WHERE id = $2`, [owner, id]);
    return id;
  }

  it('testConnection answers CREDENTIALS_UNREADABLE and sends nothing', async () => {
    const id = await unreadable('unreadable ping');
    const { testConnection } = await s.ok<{ testConnection: { ok: boolean; code: string; message: string } }>(
      `mutation($id: ID!) { testConnection(id: $id) { ok code message } }`,
      { id },
    );
    expect(testConnection).toMatchObject({ ok: false, code: 'CREDENTIALS_UNREADABLE' });
    expect(testConnection.message).toContain('CREDENTIALS_KEY');
    expect(api.requests).toEqual([]);
  });

  it("fails a flow's records with CREDENTIALS_UNREADABLE, not PLUGIN_ERROR, at once, with a log line naming the connection", async () => {
    const source = (
      await s.ok<{ createConnection: { id: string } }>(
        `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
        { input: { name: 'echo source', connectorType: 'echo', config: { records: 2 } } },
      )
    ).createConnection.id;
    const target = await unreadable('unreadable import');
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: source, config: {} },
      { kind: 'IMPORT', connectionId: target, config: { path: '/import' } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id));
    expect(job).toMatchObject({ recordsSucceeded: 0, recordsFailed: 2 });
    expect(job.errors.map((e) => e.code)).toEqual(['CREDENTIALS_UNREADABLE', 'CREDENTIALS_UNREADABLE']);
    for (const error of job.errors) expect(error.message).not.toMatch(/gave up after/);
    expect(api.requests).toEqual([]);
    await waitUntil(() => logLines.some((l) => l.includes('CREDENTIALS_UNREADABLE') && l.includes(target)), 5000, 'the log line');
    expect(logLines.filter((l) => l.includes('owners-token') || l.includes('its-own-token'))).toEqual([]);
  });
});
