/**
 * A real json-server, the application this plugin is for, started as its
 * README says (`json-server --port <port> db.json`) in a child process, on a
 * free port, with a db file of its own in a temporary directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type Db = Record<string, Record<string, unknown>[]>;

export interface JsonServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The whole database as the application serves it (GET /db). */
  db(): Promise<Db>;
  close(): Promise<void>;
}

/** The json-server command line, from the package this example depends on. */
function jsonServerBin(): string {
  const manifest = require.resolve('json-server/package.json');
  const { bin } = require(manifest) as { bin: string | Record<string, string> };
  return path.join(path.dirname(manifest), typeof bin === 'string' ? bin : (bin['json-server'] as string));
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once GET / answers, or rejects when the process exits first (e.g. the port was taken meanwhile). */
async function ready(url: string, child: ChildProcess, output: string[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`json-server exited before it answered:\n${output.join('')}`);
    try {
      if ((await fetch(`${url}/db`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`json-server did not answer within ${timeoutMs} ms:\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startJsonServer(db: Db, timeoutMs = 20000): Promise<JsonServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'json-server-'));
  const dbFile = path.join(dir, 'db.json');
  await writeFile(dbFile, JSON.stringify(db));
  // Another process may take the free port before json-server does: then try another one.
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [jsonServerBin(), '--port', String(port), '--host', '127.0.0.1', '--quiet', dbFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    try {
      await ready(url, child, output, timeoutMs);
    } catch (error) {
      child.kill('SIGKILL');
      await exited;
      if (tries < 3 && child.exitCode !== null && /EADDRINUSE/.test(output.join(''))) continue;
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return {
      url,
      async db() {
        const response = await fetch(`${url}/db`);
        return (await response.json()) as Db;
      },
      async close() {
        child.kill('SIGTERM');
        await exited;
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
