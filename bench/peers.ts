/**
 * `npm run bench -- --peers`: Sluice beside graphile-worker, on the same
 * embedded PostgreSQL and machine, in one run (issue #7, item 1).
 *
 *   graphile-worker  N trivial jobs, added in bulk, drained by 2 processes ×
 *                    concurrency 24, with its defaults and with perfTest's
 *                    batching config; enqueue-to-start of 1,000 sequential jobs.
 *   Sluice           the same N messages on one connection, in burst mode and
 *                    at level 25, each a real HTTP call to the zero-latency
 *                    endpoint; enqueue-to-start of 1,000 sequential messages
 *                    (bench/run.ts's `latency` case).
 *
 * One JSON line per measurement, then a table with the ratios and targets.
 * BENCH_PEERS_N sets N (default 20,000, the size of graphile-worker's perfTest
 * and of the `burst` case).
 */
import { createGraphileDatabase, drainJobs, enqueueToStart } from './graphileWorker';
import { startHarness, type Harness } from './harness';
import { percentile } from './percentile';
import { drainMessages } from './sluiceDrain';

const PROCESSES = 2;
const CONCURRENCY = 24;
/** Targets of issue #7: burst throughput at least this multiple of graphile-worker's. */
const THROUGHPUT_TARGET = 2;

function print(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

function ratio(a: number, b: number): number {
  return +(a / b).toFixed(2);
}

export async function runPeers(sluiceLatency: (h: Harness) => Promise<Record<string, unknown>>): Promise<void> {
  const n = Number(process.env.BENCH_PEERS_N ?? 20000);
  const h = await startHarness();
  try {
    const graphileUrl = await createGraphileDatabase(h.databaseUrl, 'graphile_worker_perf');

    const plain = await drainJobs(graphileUrl, n, { processes: PROCESSES, concurrency: CONCURRENCY, batched: false });
    print({ case: `graphile-worker: ${n} no-op jobs, ${PROCESSES} processes × ${CONCURRENCY}, defaults`, ...plain });
    const batched = await drainJobs(graphileUrl, n, { processes: PROCESSES, concurrency: CONCURRENCY, batched: true });
    print({ case: `graphile-worker: ${n} no-op jobs, ${PROCESSES} processes × ${CONCURRENCY}, perfTest config (localQueue 500, batched completions)`, ...batched });

    const gwLatencies = (await enqueueToStart(graphileUrl)).sort((a, b) => a - b);
    const gwLatency = {
      p50Ms: +percentile(gwLatencies, 50).toFixed(2),
      p95Ms: +percentile(gwLatencies, 95).toFixed(2),
      avgMs: +(gwLatencies.reduce((s, x) => s + x, 0) / gwLatencies.length).toFixed(2),
      maxMs: +Math.max(...gwLatencies).toFixed(2),
    };
    print({ case: 'graphile-worker: enqueue-to-start on an idle queue (1,000 sequential jobs, latencyTest.js)', samples: gwLatencies.length, ...gwLatency });

    const burst = await drainMessages(h, n, null);
    print({ case: `Sluice: ${n} messages, one connection, burst mode, zero-latency endpoint`, ...burst });
    const level = await drainMessages(h, n, 25);
    print({ case: `Sluice: ${n} messages, one connection, level 25, zero-latency endpoint`, ...level });
    const latency = await sluiceLatency(h);
    print(latency);

    // Ratios against both graphile-worker configurations: its defaults (what
    // the issue's ~1,500 jobs/s describes) and perfTest's batching config.
    const sluiceP50 = Number(latency.p50Ms);
    const versus = (rate: number): string => `${ratio(rate, plain.jobsPerSecond)}× / ${ratio(rate, batched.jobsPerSecond)}×`;
    const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
    const rows = [
      ['graphile-worker, defaults', `${plain.jobsPerSecond} jobs/s`, `${plain.workerCpuMsPerJob} (workers)`, '', ''],
      ['graphile-worker, perfTest config', `${batched.jobsPerSecond} jobs/s`, `${batched.workerCpuMsPerJob} (workers)`, '', ''],
      [
        'Sluice, burst',
        `${burst.messagesPerSecond} msg/s`,
        `${burst.serverCpuMsPerMessage} (server)`,
        versus(burst.messagesPerSecond),
        `≥ ${THROUGHPUT_TARGET}×: ${met(burst.messagesPerSecond >= THROUGHPUT_TARGET * plain.jobsPerSecond)} / ${met(burst.messagesPerSecond >= THROUGHPUT_TARGET * batched.jobsPerSecond)}`,
      ],
      ['Sluice, level 25', `${level.messagesPerSecond} msg/s`, `${level.serverCpuMsPerMessage} (server)`, versus(level.messagesPerSecond), ''],
      ['graphile-worker, enqueue-to-start', `p50 ${gwLatency.p50Ms} ms, p95 ${gwLatency.p95Ms} ms`, '', '', ''],
      ['Sluice, enqueue-to-start', `p50 ${latency.p50Ms} ms, p95 ${latency.p95Ms} ms`, '', `${ratio(sluiceP50, gwLatency.p50Ms)}×`, `≤ 1×: ${met(sluiceP50 <= gwLatency.p50Ms)}`],
    ];
    process.stdout.write(
      `\n${n} jobs/messages; throughput ratios: against graphile-worker's defaults / its perfTest config\n\n` +
        `| measurement | figure | CPU ms per job | ratio | target |\n| --- | --- | --- | --- | --- |\n` +
        rows.map((r) => `| ${r.join(' | ')} |`).join('\n') +
        '\n',
    );
  } finally {
    await h.stop();
  }
}
