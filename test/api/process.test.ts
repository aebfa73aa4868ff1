/**
 * Sluice as an operator runs it: `src/main.ts` in a child process configured by
 * its environment only. The embedded default keeps its data and credentials
 * key under DATA_DIR across restarts and stops its PostgreSQL on a signal;
 * DATABASE_URL without CREDENTIALS_KEY does not start; ROLE=worker serves
 * health and metrics but no API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/database/embeddedPostgres';
import { createTestDatabase } from '../support/database';
import { startFakeApi, type FakeApi } from '../support/fakeApi';
import { waitUntil } from '../support/flows';

const ROOT = path.join(__dirname, '..', '..');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface SluiceProcess {
  child: ChildProcess;
  url: string;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  exited: Promise<Exit>;
}

const started: ChildProcess[] = [];

/**
 * `node src/main.ts` with only these variables (and PATH, HOME) set.
 * `ownGroup`: in a process group of its own, as a shell job is, so that a
 * signal to the group is what Ctrl-C in a terminal sends.
 */
async function spawnSluice(env: Record<string, string>, ownGroup = false): Promise<SluiceProcess> {
  const port = env.PORT ?? String(await freePort());
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), LOG_LEVEL: 'debug', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: ownGroup,
  });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}

async function status(url: string): Promise<number | null> {
  try {
    const response = await fetch(url);
    await response.text();
    return response.status;
  } catch {
    return null;
  }
}

/** Resolves once /healthz answers 200; fails with the process's output if it exits first. */
async function healthy(p: SluiceProcess, timeoutMs = 45000): Promise<void> {
  let exit: Exit | null = null;
  void p.exited.then((e) => (exit = e));
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (exit) throw new Error(`sluice exited (${JSON.stringify(exit)}) before it was healthy:\n${p.output()}`);
    if ((await status(`${p.url}/healthz`)) === 200) return;
    if (Date.now() > until) throw new Error(`sluice not healthy after ${timeoutMs} ms:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function gql<T = any>(p: SluiceProcess, secret: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${p.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data: T; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Pids of the processes whose command line names `dir` (a postmaster started with -D dir). */
function processesNaming(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** Kills what this file started and is still running, should a test have failed half-way. */
function killStarted(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** A temporary DATA_DIR; removed with the PostgreSQL a failed test may have left running on it. */
function temporaryDataDir(): { dir: string; remove(): Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-process-'));
  return {
    dir,
    async remove() {
      killStarted();
      const cluster = path.join(dir, 'pg');
      for (const pid of processesNaming(cluster)) process.kill(pid, 'SIGINT');
      await waitUntil(() => processesNaming(cluster).length === 0, 10000, 'postgres to stop').catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

afterAll(killStarted);

describe('the embedded default (no DATABASE_URL)', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  let dataDir: string;
  let api: FakeApi;

  beforeAll(async () => {
    data = temporaryDataDir();
    dataDir = data.dir;
    api = await startFakeApi((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok": true}');
    });
  });

  afterAll(async () => {
    await api?.close();
    await data.remove();
  });

  it(
    'keeps connections and their credentials across a restart, and stops cleanly on SIGTERM and SIGINT',
    async () => {
      const admin = `bootstrap-${randomBytes(16).toString('hex')}`;
      const apiToken = `remote-${randomBytes(12).toString('hex')}`;
      const env = { DATA_DIR: dataDir, BOOTSTRAP_ADMIN_TOKEN: admin };

      // First start: initdb, a generated key, a connection with credentials.
      const first = await spawnSluice(env);
      await healthy(first);
      const created = await gql<{ createConnection: { id: string; hasCredentials: boolean } }>(
        first,
        admin,
        `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id hasCredentials } }`,
        { input: { name: 'remote', connectorType: 'http', config: { baseUrl: api.url }, credentials: { type: 'bearer', token: apiToken } } },
      );
      expect(created.createConnection.hasCredentials).toBe(true);
      first.child.kill('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });

      const keyFile = path.join(dataDir, 'credentials.key');
      expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
      const key = fs.readFileSync(keyFile, 'utf8');

      // Second start on the same DATA_DIR: same data, same key.
      const second = await spawnSluice(env, true);
      await healthy(second);
      const listed = await gql<{ connections: { id: string; name: string; hasCredentials: boolean }[] }>(
        second,
        admin,
        `{ connections { id name hasCredentials } }`,
      );
      expect(listed.connections).toEqual([{ id: created.createConnection.id, name: 'remote', hasCredentials: true }]);
      const tested = await gql<{ testConnection: { ok: boolean } }>(second, admin, `mutation($id: ID!) { testConnection(id: $id) { ok } }`, {
        id: created.createConnection.id,
      });
      expect(tested.testConnection.ok).toBe(true);
      expect(api.requests.at(-1)?.headers.authorization).toBe(`Bearer ${apiToken}`);
      expect(fs.readFileSync(keyFile, 'utf8')).toBe(key);

      // Ctrl-C: SIGINT to the whole process group, which must not reach PostgreSQL before the drain.
      process.kill(-second.child.pid!, 'SIGINT');
      expect(await second.exited).toEqual({ code: 0, signal: null });
      expect(second.output()).toContain('"msg":"stopped"');
      expect(processesNaming(path.join(dataDir, 'pg'))).toEqual([]);
      expect(fs.existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);

      // Secrets are never logged, not even at debug level.
      for (const output of [first.output(), second.output()]) {
        expect(output).toContain('Sluice is ready');
        expect(output).not.toContain(apiToken);
        expect(output).not.toContain(admin);
        expect(output).not.toContain(key.trim());
      }
    },
    120000,
  );
});

describe('the embedded default, when the server cannot start', () => {
  let data: ReturnType<typeof temporaryDataDir>;

  beforeAll(() => {
    data = temporaryDataDir();
  });

  afterAll(() => data.remove());

  it(
    'exits non-zero, before it starts PostgreSQL, when its port is taken',
    async () => {
      const blocker = await startFakeApi();
      try {
        const port = new URL(blocker.url).port;
        const p = await spawnSluice({ DATA_DIR: data.dir, PORT: port });
        const exit = await p.exited;
        expect(exit.code).not.toBe(0);
        expect(exit.code).not.toBeNull();
        expect(p.output()).toMatch(/EADDRINUSE/);
        // The port is the first thing a start takes (src/http/probes.ts): no PostgreSQL was started for nothing.
        expect(fs.existsSync(path.join(data.dir, 'pg', 'PG_VERSION'))).toBe(false);
        expect(p.output()).toContain('"level":60');
        expect(processesNaming(path.join(data.dir, 'pg'))).toEqual([]);
      } finally {
        await blocker.close();
      }
    },
    60000,
  );
});

describe('the embedded default, when a signal comes while it starts', () => {
  let data: ReturnType<typeof temporaryDataDir>;

  beforeAll(() => {
    data = temporaryDataDir();
  });

  afterAll(() => data.remove());

  it(
    'stops its PostgreSQL and exits 0 on SIGTERM before it is ready',
    async () => {
      const p = await spawnSluice({ DATA_DIR: data.dir });
      await waitUntil(() => p.output().includes('embedded PostgreSQL started'), 45000, 'PostgreSQL to start');
      p.child.kill('SIGTERM');
      expect(await p.exited).toEqual({ code: 0, signal: null });
      expect(processesNaming(path.join(data.dir, 'pg'))).toEqual([]);
    },
    60000,
  );
});

describe('DATABASE_URL without CREDENTIALS_KEY', () => {
  it(
    'does not start, and says CREDENTIALS_KEY is needed',
    async () => {
      const p = await spawnSluice({ DATABASE_URL: await createTestDatabase() });
      const exit = await p.exited;
      expect(exit.code).not.toBe(0);
      expect(exit.code).not.toBeNull();
      expect(p.output()).toMatch(/CREDENTIALS_KEY/);
      expect(await status(`${p.url}/healthz`)).toBeNull();
    },
    60000,
  );
});

describe('ROLE=worker', () => {
  it(
    'serves /healthz and /metrics but not /graphql, and stops on SIGTERM',
    async () => {
      const p = await spawnSluice({
        ROLE: 'worker',
        DATABASE_URL: await createTestDatabase(),
        CREDENTIALS_KEY: randomBytes(32).toString('base64'),
      });
      await healthy(p);
      expect(await status(`${p.url}/metrics`)).toBe(200);
      expect(await status(`${p.url}/graphql?query=%7B__typename%7D`)).toBe(404);
      const post = await fetch(`${p.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      await post.text();
      expect(post.status).toBe(404);
      p.child.kill('SIGTERM');
      expect(await p.exited).toEqual({ code: 0, signal: null });
    },
    60000,
  );
});
