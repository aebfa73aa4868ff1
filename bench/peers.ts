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
 * In rounds (BENCH_PEERS_ROUNDS, default 3), each round measuring both
 * systems back to back: graphile-worker's drain, Sluice's burst drain,
 * graphile-worker's enqueue-to-start, Sluice's. This machine's speed drifts
 * by a third within minutes (graphile-worker alone drained 2,328 and 3,328
 * jobs/s on the same day), so two figures are compared only when taken
 * within seconds of each other, and every round's ratio is shown. The first
 * round runs in fresh processes on both sides; graphile-worker's processes
 * and Sluice's server stay up for the next ones (both warm). graphile-
 * worker's perfTest batching config and Sluice's level 25 are measured once,
 * for reference.
 *
 * One JSON line per measurement, then a table per round with the ratios and
 * targets. BENCH_PEERS_N sets N (default 20,000, the size of graphile-
 * worker's perfTest and of the `burst` case).
 */
import { createGraphileDatabase, startGraphileDrainers, startGraphileLatency, type DrainResult } from './graphileWorker';
import { startHarness, type Harness } from './harness';
import { percentile } from './percentile';
import { drainMessages, type SluiceDrainResult } from './sluiceDrain';

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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return percentile(sorted, 50);
}

interface LatencyFigures {
  p50Ms: number;
  p95Ms: number;
}

function latencyFigures(samples: number[]): LatencyFigures & { avgMs: number; maxMs: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50Ms: +percentile(sorted, 50).toFixed(2),
    p95Ms: +percentile(sorted, 95).toFixed(2),
    avgMs: +(sorted.reduce((s, x) => s + x, 0) / sorted.length).toFixed(2),
    maxMs: +Math.max(...sorted).toFixed(2),
  };
}

interface Round {
  graphile: DrainResult;
  burst: SluiceDrainResult;
  graphileLatency: LatencyFigures;
  sluiceLatency: LatencyFigures;
}

export async function runPeers(sluiceLatency: (h: Harness) => Promise<Record<string, unknown>>): Promise<void> {
  const n = Number(process.env.BENCH_PEERS_N ?? 20000);
  const roundCount = Number(process.env.BENCH_PEERS_ROUNDS ?? 3);
  const h = await startHarness();
  try {
    const graphileUrl = await createGraphileDatabase(h.databaseUrl, 'graphile_worker_perf');
    const rounds: Round[] = [];
    const drainers = await startGraphileDrainers(graphileUrl, { processes: PROCESSES, concurrency: CONCURRENCY, batched: false });
    const graphileLatency = await startGraphileLatency(graphileUrl);
    try {
      for (let r = 1; r <= roundCount; r++) {
        const graphile = await drainers.drain(n);
        print({ case: `round ${r}: graphile-worker, ${n} no-op jobs, ${PROCESSES} processes × ${CONCURRENCY}, defaults`, ...graphile });
        const burst = await drainMessages(h, n, null);
        print({ case: `round ${r}: Sluice, ${n} messages, one connection, burst mode, zero-latency endpoint`, ...burst });
        const gwLatency = latencyFigures((await graphileLatency.measure()).latencies);
        print({ case: `round ${r}: graphile-worker, enqueue-to-start on an idle queue (1,000 sequential jobs, latencyTest.js)`, ...gwLatency });
        const latency = await sluiceLatency(h);
        print({ ...latency, case: `round ${r}: Sluice, ${String(latency.case)}` });
        rounds.push({
          graphile,
          burst,
          graphileLatency: gwLatency,
          sluiceLatency: { p50Ms: Number(latency.p50Ms), p95Ms: Number(latency.p95Ms) },
        });
      }
    } finally {
      await drainers.stop();
      await graphileLatency.stop();
    }

    // For reference, once: graphile-worker's fast path and Sluice under a level.
    const batchedDrainers = await startGraphileDrainers(graphileUrl, { processes: PROCESSES, concurrency: CONCURRENCY, batched: true });
    let batched: DrainResult;
    try {
      batched = await batchedDrainers.drain(n);
    } finally {
      await batchedDrainers.stop();
    }
    print({ case: `graphile-worker: ${n} no-op jobs, ${PROCESSES} processes × ${CONCURRENCY}, perfTest config (localQueue 500, batched completions)`, ...batched });
    const level = await drainMessages(h, n, 25);
    print({ case: `Sluice: ${n} messages, one connection, level 25, zero-latency endpoint`, ...level });

    const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
    const throughputRatios = rounds.map((r) => ratio(r.burst.messagesPerSecond, r.graphile.jobsPerSecond));
    const latencyRatios = rounds.map((r) => ratio(r.sluiceLatency.p50Ms, r.graphileLatency.p50Ms));
    const rows = rounds.map((r, i) => [
      String(i + 1),
      `${r.graphile.jobsPerSecond} jobs/s`,
      `${r.burst.messagesPerSecond} msg/s`,
      `${throughputRatios[i]}× (${met(throughputRatios[i]! >= THROUGHPUT_TARGET)})`,
      `${r.graphileLatency.p50Ms} ms`,
      `${r.sluiceLatency.p50Ms} ms`,
      `${latencyRatios[i]}× (${met(latencyRatios[i]! <= 1)})`,
    ]);
    rows.push([
      'median',
      `${median(rounds.map((r) => r.graphile.jobsPerSecond))} jobs/s`,
      `${median(rounds.map((r) => r.burst.messagesPerSecond))} msg/s`,
      `${median(throughputRatios)}×`,
      `${median(rounds.map((r) => r.graphileLatency.p50Ms)).toFixed(2)} ms`,
      `${median(rounds.map((r) => r.sluiceLatency.p50Ms)).toFixed(2)} ms`,
      `${median(latencyRatios)}×`,
    ]);
    const metIn = (ratios: number[], ok: (x: number) => boolean): string => `${ratios.filter(ok).length} of ${ratios.length} rounds`;
    process.stdout.write(
      `\n${n} jobs/messages per drain, ${roundCount} rounds; each round's figures taken back to back\n\n` +
        `| round | graphile-worker, defaults | Sluice, burst | throughput ratio (target ≥ ${THROUGHPUT_TARGET}×) | graphile-worker enqueue-to-start p50 | Sluice enqueue-to-start p50 | latency ratio (target ≤ 1×) |\n` +
        `| --- | --- | --- | --- | --- | --- | --- |\n` +
        rows.map((r) => `| ${r.join(' | ')} |`).join('\n') +
        `\n\nthroughput target met in ${metIn(throughputRatios, (x) => x >= THROUGHPUT_TARGET)}; latency target met in ${metIn(latencyRatios, (x) => x <= 1)}\n` +
        `for reference: graphile-worker's perfTest config ${batched.jobsPerSecond} jobs/s (Sluice's burst median ${ratio(median(rounds.map((r) => r.burst.messagesPerSecond)), batched.jobsPerSecond)}× that); ` +
        `Sluice at level 25 ${level.messagesPerSecond} msg/s\n`,
    );
  } finally {
    await h.stop();
  }
}
