/**
 * The benchmark's moving parts, each real: an embedded PostgreSQL, a Sluice
 * server process (dist/src/main.js, exactly what `npm start` runs), an
 * endpoint process, and a GraphQL client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgres, freePort } from '../src/database/embeddedPostgres';

export interface Harness {
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  wsUrl: string;
  secret: string;
  endpointUrl: string;
  sluicePid: number;
  /** The endpoint process playing the external API. */
  endpointPid: number;
  /** The postmaster: with its backends (treeCpuSeconds), all of PostgreSQL's work. */
  postgresPid: number;
  databaseUrl: string;
  stop(): Promise<void>;
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${seen.slice(-2000)}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] ?? match[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`process exited with ${code}: ${seen.slice(-2000)}`)));
  });
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  // BENCH_PG_STATEMENTS=1 loads pg_stat_statements (statements inside functions too): peersLevel then prints
  // the statements that took PostgreSQL's time in each of Sluice's runs.
  const statements = process.env.BENCH_PG_STATEMENTS === '1';
  const pg = new EmbeddedPostgres({
    clusterDir: path.join(dir, 'pg'),
    passwordFile: path.join(dir, 'pg-password'),
    ...(statements ? { settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } } : {}),
  });
  await pg.start();
  const admin = new Client({ connectionString: await pg.url('postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE bench');
  if (statements) {
    const bench = new Client({ connectionString: await pg.url('bench') });
    await bench.connect();
    await bench.query('CREATE EXTENSION pg_stat_statements');
    await bench.end();
  }
  // pg_stat_user_functions then counts the engine's claims and completions and their time (bench/sluiceDrain.ts).
  await admin.query(`ALTER DATABASE bench SET track_functions = 'pl'`);
  await admin.end();
  const databaseUrl = await pg.url('bench');

  const root = path.join(__dirname, '..', '..');
  const endpoint = spawn(process.execPath, [path.join(root, 'dist', 'bench', 'endpoint.js')], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const endpointPort = await waitForLine(endpoint, /^(\d+)\n/m, 10000);

  const port = await freePort();
  const secret = randomBytes(16).toString('hex');
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const sluice = spawn(process.execPath, [...nodeArgs, path.join(root, 'dist', 'src', 'main.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      CREDENTIALS_KEY: randomBytes(32).toString('base64'),
      BOOTSTRAP_ADMIN_TOKEN: secret,
      PORT: String(port),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      ...env,
    },
  });
  sluice.stdout?.on('data', (c: Buffer) => { if (process.env.BENCH_LOG_LEVEL) process.stderr.write(c); });
  // BENCH_SERVER_STDERR=1 shows the server's stderr (its profiling lines, warnings).
  if (process.env.BENCH_SERVER_STDERR) sluice.stderr?.on('data', (c: Buffer) => process.stderr.write(c));
  sluice.stderr?.on('data', () => undefined);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    secret,
    endpointUrl: `http://127.0.0.1:${endpointPort}`,
    sluicePid: sluice.pid as number,
    endpointPid: endpoint.pid as number,
    postgresPid: Number(fs.readFileSync(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]),
    databaseUrl,
    async gql(query, variables) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: any; errors?: unknown[] };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    },
    async stop() {
      const exited = new Promise((r) => sluice.once('exit', r));
      sluice.kill('SIGTERM');
      await exited;
      endpoint.kill('SIGTERM');
      await pg.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resident memory of a process, in MB (Linux). */
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}
