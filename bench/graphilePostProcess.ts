/**
 * One graphile-worker process of `peersLevel` (bench/peersLevel.ts starts it
 * through bench/graphileWorker.ts's `startChild`, same IPC protocol as
 * bench/graphileWorkerProcess.ts): `runOnce` with CONCURRENCY workers and one
 * task, `post`, that makes the POST a Sluice import makes, one record per job,
 * to ENDPOINT_URL/import?latency=LATENCY_MS, through an undici Pool of
 * CONCURRENCY connections (a job's task holds its connection only for its
 * call, as Sluice's slots do).
 *
 * BATCHED=1 is graphile-worker's fast path (perfTest/graphile.config.js):
 * a local queue of LOCAL_QUEUE_SIZE jobs fetched at once, completions and
 * failures batched (completeJobBatchDelay / failJobBatchDelay 0).
 *
 * {ready} once loaded; each {go} runs until no job is left and answers
 * {done, jobs, cpuMs}; {stop} ends the process.
 */
import { Logger, runMigrations, runOnce, type TaskList } from 'graphile-worker';
import { Pool } from 'undici';

type Message = { ready: true } | { done: true; jobs: number; cpuMs: number };

function send(message: Message): Promise<void> {
  return new Promise((resolve, reject) => process.send!(message, undefined, {}, (e) => (e ? reject(e) : resolve())));
}

function next(): Promise<'go' | 'stop'> {
  return new Promise((resolve) => process.once('message', (m) => resolve(m === 'stop' ? 'stop' : 'go')));
}

const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

async function main(): Promise<void> {
  const connectionString = process.env.DATABASE_URL as string;
  const concurrency = Number(process.env.CONCURRENCY ?? 25);
  const latencyMs = Number(process.env.LATENCY_MS ?? 20);
  const batched = process.env.BATCHED === '1';
  const localQueueSize = Math.max(concurrency, Number(process.env.LOCAL_QUEUE_SIZE ?? 500));
  const endpoint = new Pool(process.env.ENDPOINT_URL as string, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30000 });
  const path = `/import?latency=${latencyMs}`;
  let jobs = 0;
  const taskList: TaskList = {
    async post(payload) {
      const { statusCode, body } = await endpoint.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
      await body.text();
      // A failed call is a failed job (graphile-worker retries it later): the bench then sees fewer than N arrive and says so.
      if (statusCode >= 300) throw new Error(`endpoint answered ${statusCode}`);
      jobs++;
    },
  };
  const preset = batched
    ? { worker: { localQueue: { size: localQueueSize, refetchDelay: { durationMs: 10 } }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } }
    : {};
  // Unbatched, every worker holds a client while it fetches and completes; batched, the local queue and the batches share a few.
  const maxPoolSize = batched ? Math.min(concurrency + 1, 20) : concurrency + 1;
  await runMigrations({ connectionString, logger });
  await send({ ready: true });
  while ((await next()) === 'go') {
    jobs = 0;
    const cpu = process.cpuUsage();
    await runOnce({ connectionString, concurrency, maxPoolSize, taskList, logger, noHandleSignals: true, preset });
    const used = process.cpuUsage(cpu);
    await send({ done: true, jobs, cpuMs: (used.user + used.system) / 1000 });
  }
  await endpoint.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
    process.exit(1);
  },
);
