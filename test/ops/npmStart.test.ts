/**
 * `npm start` stopped the way supervisors stop it: systemd, Docker and
 * Kubernetes send SIGTERM to the process they started, which is npm; a
 * terminal's Ctrl-C sends SIGINT to the whole process group. Either way the
 * server drains, stops its embedded PostgreSQL and exits 0, npm exits 0, and
 * no process of the group, nor any PostgreSQL of its DATA_DIR, is left; the
 * data is there at the next start.
 *
 * `npm start` runs the built server (dist/): built here first when dist/ is
 * older than the sources, as `npm install` (prepare) would have built it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/database/embeddedPostgres';
import { waitUntil } from '../support/flows';
import { graphqlClient } from '../support/graphqlClient';

const ROOT = path.resolve(__dirname, '../..');
const BUILT = path.join(ROOT, 'dist', 'src', 'main.js');

/** The newest modification time of the files under `dir` (ms). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return latest;
}

function buildIfStale(): void {
  const sources = Math.max(newest(path.join(ROOT, 'src')), newest(path.join(ROOT, 'migrations')));
  if (fs.existsSync(BUILT) && fs.statSync(BUILT).mtimeMs >= sources) return;
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
}

interface Started {
  npm: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start` in a process group of its own, as a supervisor (or a terminal's job) runs it. */
async function npmStart(env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  npm.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  npm.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      if (npm.exitCode !== null) throw new Error(`npm start exited (${npm.exitCode}) before it was ready:\n${output}`);
      return (await fetch(`${url}/healthz`).then((r) => r.status, () => 0)) === 200;
    },
    90000,
    'npm start to be ready',
  );
  return { npm, url, output: () => output, exited };
}

/** Live processes whose process group is `pgid`, or whose command line names `dir`. */
function processes(pgid: number, dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command's closing parenthesis: state ppid pgrp ...
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue; // exited, not yet reaped by a parent that is itself gone
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (Number(pgrp) === pgid || cmdline.includes(dir)) found.push(`${entry}: ${cmdline}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

describe('npm start under a supervisor', () => {
  let dataDir: string;
  const started: ChildProcess[] = [];

  beforeAll(() => {
    buildIfStale();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-npm-start-'));
  }, 120000);

  afterAll(async () => {
    for (const npm of started) if (npm.exitCode === null && npm.pid) process.kill(-npm.pid, 'SIGKILL');
    for (const line of processes(-1, path.join(dataDir, 'pg'))) process.kill(Number(line.split(':')[0]), 'SIGINT');
    await waitUntil(() => processes(-1, path.join(dataDir, 'pg')).length === 0, 10000, 'postgres to stop').catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30000);

  it('drains and stops everything on SIGTERM to npm, then on Ctrl-C to the group, exiting 0 each time with the data kept', async () => {
    const admin = `bootstrap-${randomBytes(16).toString('hex')}`;
    const env = { DATA_DIR: dataDir, BOOTSTRAP_ADMIN_TOKEN: admin };

    const first = await npmStart(env);
    started.push(first.npm);
    const pgid = first.npm.pid as number;
    // npm's child is node itself (the script execs it): no shell in between to die and orphan it.
    expect(processes(pgid, path.join(dataDir, 'pg')).some((l) => l.includes('node dist/src/main.js'))).toBe(true);
    expect(processes(pgid, path.join(dataDir, 'pg')).some((l) => l.includes('sh -c'))).toBe(false);
    const created = await graphqlClient(first.url, admin).ok<{ createConnection: { id: string } }>(
      `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
      { input: { name: 'kept', connectorType: 'http', config: { baseUrl: 'https://api.example.com' } } },
    );

    // A supervisor's stop: SIGTERM to npm's pid only.
    process.kill(pgid, 'SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.output()).toContain('"msg":"stopped"');
    await waitUntil(() => processes(pgid, path.join(dataDir, 'pg')).length === 0, 5000, 'every process of the group to be gone');
    expect(fs.existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);

    // The next start has the data; then a terminal's Ctrl-C: SIGINT to the whole group (npm forwards it too).
    const second = await npmStart(env);
    started.push(second.npm);
    const pgid2 = second.npm.pid as number;
    const listed = await graphqlClient(second.url, admin).ok<{ connections: { id: string; name: string }[] }>(`{ connections { id name } }`);
    expect(listed.connections).toEqual([{ id: created.createConnection.id, name: 'kept' }]);
    process.kill(-pgid2, 'SIGINT');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.output()).toContain('"msg":"stopped"');
    expect(second.output()).not.toContain('second signal');
    await waitUntil(() => processes(pgid2, path.join(dataDir, 'pg')).length === 0, 5000, 'every process of the group to be gone');
  }, 240000);
});
