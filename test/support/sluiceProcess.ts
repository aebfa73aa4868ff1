/**
 * Another Sluice process on a test's database, started the way an operator
 * starts one (`node src/main.ts` with the environment), for tests of what
 * holds across processes: shared levels, crashes, graceful shutdown.
 *
 * Every process started here is remembered, so `stopSluiceProcesses()` in an
 * afterAll can SIGKILL whatever a failed test left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestSluice } from './sluice';

const ROOT = path.resolve(__dirname, '../..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SluiceProcess {
  /** http://127.0.0.1:<port> */
  url: string;
  pid: number;
  /** stdout and stderr lines (JSON log lines, mostly). */
  lines: string[];
  /** Resolves when the process has exited and its output is read. */
  exited: Promise<Exit>;
  signal(signal: NodeJS.Signals): void;
  /** The sum of a Prometheus counter or gauge over its labels, from GET /metrics. */
  metric(name: string): Promise<number>;
}

const live = new Set<ChildProcess>();

/**
 * Starts `ROLE=worker` (unless `env` says otherwise) on the database of `s`,
 * with its credentials key, on a free port; resolves once /healthz is 200.
 */
export async function startSluiceProcess(
  s: Pick<TestSluice, 'databaseUrl' | 'credentialsKey'>,
  env: Record<string, string> = {},
  timeoutMs = 20000,
): Promise<SluiceProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: s.databaseUrl,
      CREDENTIALS_KEY: s.credentialsKey,
      ROLE: 'worker',
      PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const lines: string[] = [];
  // 'close', not 'exit': by then its output has been read to the end too.
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  let ready: (url: string) => void = () => undefined;
  const readyUrl = new Promise<string>((resolve) => (ready = resolve));
  const collect = (stream: NodeJS.ReadableStream): void => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const url = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(line)?.[1];
        if (url && line.includes('Sluice is ready')) ready(url);
      }
    });
  };
  collect(child.stdout as NodeJS.ReadableStream);
  collect(child.stderr as NodeJS.ReadableStream);

  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no "Sluice is ready" within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
    void exited.then((exit) => reject(new Error(`the process exited (${JSON.stringify(exit)}) before it was ready:\n${lines.join('\n')}`)));
  });
  try {
    const url = await Promise.race([readyUrl, failed]);
    for (;;) {
      const health = await Promise.race([fetch(`${url}/healthz`).then((r) => r.status), failed]);
      if (health === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      url,
      pid: child.pid as number,
      lines,
      exited,
      signal: (signal) => void child.kill(signal),
      async metric(name) {
        const text = await (await fetch(`${url}/metrics`)).text();
        let sum = 0;
        for (const line of text.split('\n')) {
          if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
        }
        return sum;
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs every process started here that is still running, and waits for them to go. */
export async function stopSluiceProcesses(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (!live.has(child)) return resolve();
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
