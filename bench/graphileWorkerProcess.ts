/**
 * One graphile-worker process of the peer benchmark (bench/graphileWorker.ts
 * starts it with an IPC channel), doing what graphile-worker's own perfTest
 * does (graphile/worker perfTest/run.js, latencyTest.js):
 *
 *   drain     `runOnce` with a no-op task: works until no job is left, then
 *             exits, like perfTest's `graphile-worker --once -j 24 -m 25`.
 *   latency   one worker (concurrency 1) in this process; 1,000 sequential
 *             jobs, each added with add_job and awaited; the time from just
 *             before add_job to the task's start. With ENDPOINT_URL set, the
 *             task then makes the request Sluice's latency case makes (GET
 *             /orders, undici, one kept-alive socket), and each job is also
 *             timed to that request's arrival at the endpoint, as Sluice's
 *             is: the same start, the same finish line.
 *
 * Environment: DATABASE_URL; CONCURRENCY (drain); BATCHED=1 (drain) applies
 * perfTest/graphile.config.js: a local queue of 500 jobs fetched at once and
 * completions batched (completeJobBatchDelay 0), graphile-worker's fast path.
 *
 * It says {ready} once loaded and connected, then for each {go} runs one
 * round and reports {done, jobs, cpuMs} (drain: the CPU this process used
 * meanwhile) or {latencies} (latency); {stop} ends it. Rounds after the
 * first run in a warm process, as the Sluice server's do (bench/peers.ts).
 */
import { Logger, runMigrations, runOnce, runTaskList, type TaskList } from 'graphile-worker';
import { Pool } from 'pg';
import { Pool as HttpPool } from 'undici';
import { arrivalPollInPlace, nextArrival } from './endpointArrival';

type Message = { ready: true } | { done: true; jobs: number; cpuMs: number } | { latencies: number[]; arrivals: number[] };

function send(message: Message): Promise<void> {
  return new Promise((resolve, reject) => process.send!(message, undefined, {}, (e) => (e ? reject(e) : resolve())));
}

/** The next command from bench/graphileWorker.ts: another round, or the end. */
function next(): Promise<'go' | 'stop'> {
  return new Promise((resolve) => process.once('message', (m) => resolve(m === 'stop' ? 'stop' : 'go')));
}

// graphile-worker logs every job at info (perfTest silences it with NO_LOG_SUCCESS); keep warnings and errors.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

const connectionString = process.env.DATABASE_URL as string;

async function drain(): Promise<void> {
  const concurrency = Number(process.env.CONCURRENCY ?? 24);
  const preset = process.env.BATCHED
    ? { worker: { localQueue: { size: 500, refetchDelay: { durationMs: 10 } }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } }
    : {};
  let jobs = 0;
  const taskList: TaskList = {
    noop: () => {
      jobs++;
    },
  };
  // Schema check and module loading before the clock starts (perfTest subtracts a startup run instead).
  await runMigrations({ connectionString, logger });
  await send({ ready: true });
  while ((await next()) === 'go') {
    jobs = 0;
    const cpu = process.cpuUsage();
    await runOnce({ connectionString, concurrency, maxPoolSize: concurrency + 1, taskList, logger, noHandleSignals: true, preset });
    const used = process.cpuUsage(cpu);
    await send({ done: true, jobs, cpuMs: (used.user + used.system) / 1000 });
  }
}

async function latency(): Promise<void> {
  const samples = 1000;
  const pool = new Pool({ connectionString });
  const endpointUrl = process.env.ENDPOINT_URL;
  const endpoint = endpointUrl ? new HttpPool(endpointUrl, { connections: 1, pipelining: 1, keepAliveTimeout: 30000 }) : null;
  const startedAt = new Map<number, number>();
  const latencies: number[] = [];
  const waiters = new Map<number, () => void>();
  const taskList: TaskList = {
    latency: async (payload) => {
      const { id } = payload as { id: number };
      const start = startedAt.get(id);
      if (start !== undefined) latencies.push(performance.now() - start);
      if (endpoint) {
        const { body } = await endpoint.request({ method: 'GET', path: '/orders?total=0' });
        await body.text();
      }
      waiters.get(id)?.();
    },
  };
  const workers = runTaskList({ concurrency: 1, logger, noHandleSignals: true }, taskList, pool);
  // perfTest's warm-up: 100 jobs, then a pause to settle.
  await pool.query(`SELECT graphile_worker.add_job('latency', json_build_object('id', -i)) FROM generate_series(1, 100) i`);
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM graphile_worker._private_jobs WHERE task_id = (SELECT id FROM graphile_worker._private_tasks WHERE identifier = 'latency')`,
    );
    if (Number(rows[0]?.n) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1000));
  await send({ ready: true });
  let round = 0;
  while ((await next()) === 'go') {
    const client = await pool.connect();
    const first = round++ * samples;
    latencies.length = 0;
    const arrivals: number[] = [];
    try {
      for (let id = first; id < first + samples; id++) {
        const started = new Promise<void>((resolve) => waiters.set(id, resolve));
        // Asked before the job is added, as bench/run.ts's latency case does for Sluice.
        const arrival = endpointUrl ? nextArrival(endpointUrl) : null;
        if (endpointUrl) await arrivalPollInPlace(endpointUrl);
        const sent = performance.timeOrigin + performance.now();
        startedAt.set(id, performance.now());
        await client.query(`SELECT graphile_worker.add_job('latency', json_build_object('id', $1::int))`, [id]);
        await started;
        if (arrival) arrivals.push((await arrival) - sent);
      }
    } finally {
      client.release();
    }
    await send({ latencies: [...latencies], arrivals });
  }
  await workers.gracefulShutdown();
  await endpoint?.close();
  await pool.end();
}

const mode = process.argv[2];
(mode === 'latency' ? latency() : drain()).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
    process.exit(1);
  },
);
