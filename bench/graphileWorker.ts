/**
 * graphile-worker, measured the way its own perfTest measures it
 * (graphile/worker perfTest/init.js, run.js, latencyTest.js), in a database of
 * its own on the benchmark's embedded PostgreSQL:
 *
 *   drain     N trivial jobs added in one add_jobs call, then several worker
 *             processes (bench/graphileWorkerProcess.ts, `runOnce`) run a
 *             no-op task until none is left; jobs per second over the time
 *             from "go" to the last process's end. The processes stay up
 *             between rounds.
 *   latency   1,000 sequential jobs, enqueue to task start (latencyTest.js),
 *             per round, in one process that stays up.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Logger, runMigrations } from 'graphile-worker';
import { Client } from 'pg';

const PROCESS_MODULE = path.join(__dirname, 'graphileWorkerProcess.js');

const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

/** A fresh database beside `databaseUrl`'s, with graphile-worker's schema installed; its URL. */
export async function createGraphileDatabase(databaseUrl: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  // Installed once here: worker processes that start together would race to migrate.
  await runMigrations({ connectionString: url.toString(), logger: quietLogger });
  return url.toString();
}

export interface Child {
  process: ChildProcess;
  /** The child's messages in order, each awaited once. */
  next(): Promise<any>;
}

/** `module`: another process of the same protocol (bench/graphilePostProcess.ts). */
export function startChild(mode: string, env: Record<string, string>, module = PROCESS_MODULE): Child {
  const child = fork(module, [mode], { env: { ...process.env, NO_LOG_SUCCESS: '1', ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: any[] = [];
  const readers: { resolve: (m: any) => void; reject: (e: Error) => void }[] = [];
  let exited: Error | null = null;
  child.on('message', (m) => {
    const reader = readers.shift();
    if (reader) reader.resolve(m);
    else inbox.push(m);
  });
  child.on('exit', (code) => {
    exited = new Error(`graphile-worker ${mode} process exited with ${code}`);
    for (const r of readers.splice(0)) r.reject(exited);
  });
  return {
    process: child,
    next() {
      if (inbox.length > 0) return Promise.resolve(inbox.shift());
      if (exited) return Promise.reject(exited);
      return new Promise((resolve, reject) => readers.push({ resolve, reject }));
    },
  };
}

export interface DrainResult {
  jobs: number;
  addJobsMs: number;
  drainMs: number;
  jobsPerSecond: number;
  /** CPU of the worker processes per job (PostgreSQL's not included): what a busy machine blurs least. */
  workerCpuMsPerJob: number;
}

/** Worker processes that drain, round after round, the jobs added before each round. */
export interface GraphileDrainers {
  drain(jobs: number): Promise<DrainResult>;
  stop(): Promise<void>;
}

export async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null) return;
  const exited = new Promise((r) => child.process.once('exit', r));
  child.process.send('stop');
  await exited;
}

export async function startGraphileDrainers(databaseUrl: string, options: { processes: number; concurrency: number; batched: boolean }): Promise<GraphileDrainers> {
  const env = { DATABASE_URL: databaseUrl, CONCURRENCY: String(options.concurrency), ...(options.batched ? { BATCHED: '1' } : {}) };
  const children = Array.from({ length: options.processes }, () => startChild('drain', env));
  await Promise.all(children.map((c) => c.next()));
  return {
    async drain(jobs) {
      const db = new Client({ connectionString: databaseUrl });
      await db.connect();
      try {
        // perfTest/init.js: every job in one add_jobs call (one statement, one transaction).
        const addStart = performance.now();
        await db.query(
          `SELECT graphile_worker.add_jobs(array(
             SELECT json_populate_record(NULL::graphile_worker.job_spec, json_build_object('identifier', 'noop', 'payload', json_build_object('id', i)))
               FROM generate_series(1, $1::int) i))`,
          [jobs],
        );
        const addJobsMs = performance.now() - addStart;
        const start = performance.now();
        for (const c of children) c.process.send('go');
        const reports = (await Promise.all(children.map((c) => c.next()))) as { jobs: number; cpuMs: number }[];
        const drainMs = performance.now() - start;

        const ran = reports.reduce((sum, r) => sum + r.jobs, 0);
        const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM graphile_worker._private_jobs`);
        if (ran !== jobs || Number(rows[0]?.n) !== 0) throw new Error(`graphile-worker ran ${ran} of ${jobs} jobs, ${rows[0]?.n} left`);
        const cpuMs = reports.reduce((sum, r) => sum + r.cpuMs, 0);
        return {
          jobs,
          addJobsMs: Math.round(addJobsMs),
          drainMs: Math.round(drainMs),
          jobsPerSecond: Math.round((jobs * 1000) / drainMs),
          workerCpuMsPerJob: +(cpuMs / jobs).toFixed(3),
        };
      } finally {
        await db.end();
      }
    },
    async stop() {
      await Promise.all(children.map(stopChild));
    },
  };
}

/**
 * One worker that measures enqueue-to-start of 1,000 sequential jobs per round, in milliseconds, in the order
 * measured: to the task's start, and (with an endpoint) to its request's arrival at the endpoint.
 */
export interface GraphileLatency {
  measure(): Promise<{ latencies: number[]; arrivals: number[] }>;
  stop(): Promise<void>;
}

export async function startGraphileLatency(databaseUrl: string, endpointUrl?: string): Promise<GraphileLatency> {
  const child = startChild('latency', { DATABASE_URL: databaseUrl, ...(endpointUrl ? { ENDPOINT_URL: endpointUrl } : {}) });
  await child.next();
  return {
    async measure() {
      child.process.send('go');
      return (await child.next()) as { latencies: number[]; arrivals: number[] };
    },
    stop: () => stopChild(child),
  };
}
