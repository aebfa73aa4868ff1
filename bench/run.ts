/**
 * `npm run bench`: the queue engine's speed, one JSON line per case, each
 * with the theoretical limit or the target beside the figure.
 *
 *   npm run bench                  every case
 *   npm run bench -- level burst   only the named cases (level, burst, latency, live, hiddenConcurrency,
 *                                  hiddenRate, recovery, memory, ceiling, apiLoad, apiLoadHostile, apiLoadSplit,
 *                                  retryErrors, outage, outageShortCap, peersLevel)
 *   npm run bench -- peersLevel    level 25, level 4 and burst beside a bare undici client and graphile-worker (bench/peersLevel.ts)
 *   npm run bench -- --peers       beside graphile-worker (bench/peers.ts)
 */
import { arrivalPollInPlace, nextArrival as nextArrivalAt } from './endpointArrival';
import fs from 'node:fs';
import { createClient } from 'graphql-ws';
import { Client } from 'pg';
import WebSocket from 'ws';
import { enqueueMessages } from '../src/engine/sql/enqueueMessages';
import { rssMb, startHarness, type Harness } from './harness';
import { apiLoad, apiLoadHostile, apiLoadSplit, SPLIT_ENV, startWorker } from './apiLoad';
import { runPeers } from './peers';
import { drainMessages } from './sluiceDrain';
import { ceiling } from './ceiling';
import { retryErrors } from './retryErrors';
import { outage } from './outage';
import { peersLevel } from './peersLevel';

const FLOW_FIELDS = 'id';

async function connection(h: Harness, level: number | null): Promise<string> {
  const data = await h.gql(`mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`, {
    i: { name: `bench-${level ?? 'burst'}`, connectorType: 'http', config: { baseUrl: h.endpointUrl }, concurrencyLevel: level, autoRecoverRateLimitErrors: false },
  });
  return data.createConnection.id;
}

async function exportImportFlow(h: Harness, conn: string, total: number, pageSize: number, latencyMs: number): Promise<string> {
  const data = await h.gql(`mutation($i: CreateFlowInput!) { createFlow(input: $i) { ${FLOW_FIELDS} } }`, {
    i: {
      name: `bench ${total}`,
      steps: [
        {
          name: 'export',
          kind: 'EXPORT',
          connectionId: conn,
          config: {
            path: '/orders',
            query: { total, latency: latencyMs },
            recordsPath: 'data',
            paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize },
          },
        },
        { name: 'import', kind: 'IMPORT', connectionId: conn, config: { path: `/import?latency=${latencyMs}` } },
      ],
    },
  });
  return data.createFlow.id;
}

interface FinishedJob {
  status: string;
  recordsSucceeded: number;
  recordsFailed: number;
  startedAt: string;
  finishedAt: string;
}

async function runToEnd(h: Harness, flowId: string): Promise<FinishedJob> {
  const { runFlow } = await h.gql(`mutation($f: ID!) { runFlow(flowId: $f) { id } }`, { f: flowId });
  for (;;) {
    const { job } = await h.gql(`query($j: ID!) { job(id: $j) { status recordsSucceeded recordsFailed startedAt finishedAt } }`, { j: runFlow.id });
    if (job.status !== 'QUEUED' && job.status !== 'RUNNING') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function autoRecoveringConnection(h: Harness, target: number): Promise<string> {
  const data = await h.gql(`mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`, {
    i: { name: 'bench-auto', connectorType: 'http', config: { baseUrl: h.endpointUrl }, concurrencyLevel: target },
  });
  return data.createConnection.id;
}

/** Export (not limited) → import through the endpoint's hidden limits. */
async function limitedImportFlow(h: Harness, conn: string, total: number, importQuery: string): Promise<string> {
  const data = await h.gql(`mutation($i: CreateFlowInput!) { createFlow(input: $i) { id } }`, {
    i: {
      name: 'limited',
      steps: [
        { name: 'export', kind: 'EXPORT', connectionId: conn, config: { path: '/orders', query: { total }, recordsPath: 'data', paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 500 } } },
        { name: 'import', kind: 'IMPORT', connectionId: conn, config: { path: `/import?${importQuery}` } },
      ],
    },
  });
  return data.createFlow.id;
}

async function endpointStats(h: Harness): Promise<{ rejected: number; msAtInFlight: number[] }> {
  return (await (await fetch(`${h.endpointUrl}/stats`)).json()) as { rejected: number; msAtInFlight: number[] };
}

function throughput(job: FinishedJob): number {
  const seconds = (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000;
  return Math.round(job.recordsSucceeded / seconds);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function cpuSeconds(pid: number): number {
  // utime + stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100/s on Linux).
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const cases: Record<string, (h: Harness) => Promise<Record<string, unknown>>> = {
  async level(h) {
    const records = 5000;
    // BENCH_LEVEL_LATENCY_MS=0 shows the engine's own cost per slot cycle.
    const latencyMs = Number(process.env.BENCH_LEVEL_LATENCY_MS ?? 20);
    // BENCH_LEVEL=4: the engine's cost per slot cycle at the level of the hiddenConcurrency case, without its limit.
    const level = Number(process.env.BENCH_LEVEL ?? 25);
    const conn = await connection(h, level);
    const flow = await exportImportFlow(h, conn, records, 500, latencyMs);
    const cpuBefore = cpuSeconds(h.sluicePid);
    const job = await runToEnd(h, flow);
    const cpuMs = (cpuSeconds(h.sluicePid) - cpuBefore) * 1000;
    const limit = latencyMs > 0 ? level / (latencyMs / 1000) : null;
    const rate = throughput(job);
    return {
      case: `level ${level}, ${latencyMs} ms endpoint, export→import`,
      records,
      status: job.status,
      failed: job.recordsFailed,
      recordsPerSecond: rate,
      littlesLawLimit: limit,
      ofLimit: limit ? +(rate / limit).toFixed(3) : null,
      target: 0.95,
      sluiceCpuMsPerRecord: +(cpuMs / records).toFixed(3),
    };
  },
  async burst(h) {
    const records = 20000;
    const conn = await connection(h, null);
    const flow = await exportImportFlow(h, conn, records, 1000, 0);
    const cpuBefore = cpuSeconds(h.sluicePid);
    const job = await runToEnd(h, flow);
    const cpuMs = (cpuSeconds(h.sluicePid) - cpuBefore) * 1000;
    return {
      case: 'burst, zero-latency endpoint, export→import',
      records,
      status: job.status,
      failed: job.recordsFailed,
      recordsPerSecond: throughput(job),
      target: 5000,
      // The server's CPU per record (user + system): what a busy machine cannot blur.
      sluiceCpuMsPerRecord: +(cpuMs / records).toFixed(3),
    };
  },
  async latency(h) {
    // Idle queue, 1,000 sequential messages (graphile-worker's perfTest method):
    // from just before the enqueuing transaction starts (the same INSERT and
    // NOTIFY that runFlow and every completion use) to the request's arrival
    // at the endpoint, i.e. enqueue (durable commit) → NOTIFY → claim →
    // connector call on the wire.
    // Then, for reference, the same from before a runFlow mutation is sent.
    const conn = await connection(h, 25);
    const flow = await exportImportFlow(h, conn, 0, 10, 0);
    const { runFlow } = await h.gql(`mutation($f: ID!) { runFlow(flowId: $f) { id } }`, { f: flow });
    const { flow: f } = await h.gql(`query($f: ID!) { flow(id: $f) { steps { id } } }`, { f: flow });
    const stepId: string = f.steps[0].id;
    const db = new Client({ connectionString: h.databaseUrl });
    await db.connect();
    const nextArrival = (): Promise<number> => nextArrivalAt(h.endpointUrl);
    const pollInPlace = (): Promise<void> => arrivalPollInPlace(h.endpointUrl);
    // graphile-worker's latencyTest warms up with 100 jobs and settles for a second; so does this.
    for (let i = 0; i < 100; i++) {
      const arrival = nextArrival();
      await pollInPlace();
      await enqueueMessages(db, [{ connectionId: conn, jobId: runFlow.id, stepId, payload: { kind: 'page', cursor: null } }]);
      await arrival;
    }
    await new Promise((r) => setTimeout(r, 1000));
    const enqueue: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const arrival = nextArrival();
      await pollInPlace();
      const sent = performance.timeOrigin + performance.now();
      // One autocommitted statement (INSERT + NOTIFY), as graphile-worker's add_job is.
      await enqueueMessages(db, [{ connectionId: conn, jobId: runFlow.id, stepId, payload: { kind: 'page', cursor: null } }]);
      enqueue.push((await arrival) - sent);
    }
    await db.end();
    const viaApi: number[] = [];
    for (let i = 0; i < 200; i++) {
      const arrival = nextArrival();
      await pollInPlace();
      const sent = performance.timeOrigin + performance.now();
      await h.gql(`mutation($f: ID!) { runFlow(flowId: $f) { id } }`, { f: flow });
      viaApi.push((await arrival) - sent);
    }
    enqueue.sort((a, b) => a - b);
    viaApi.sort((a, b) => a - b);
    return {
      case: 'enqueue-to-start on an idle queue (1,000 sequential messages)',
      p50Ms: +percentile(enqueue, 50).toFixed(2),
      p95Ms: +percentile(enqueue, 95).toFixed(2),
      targetP50Ms: 5,
      runFlowToFirstRequestP50Ms: +percentile(viaApi, 50).toFixed(2),
    };
  },
  async live(h) {
    // Event latency: from just before a message is enqueued (its transaction's
    // NOTIFY is what tells the API process) to the queueSize event at a
    // graphql-ws subscriber. Then the CPU that 1,000 idle subscribers cost.
    const conn = await connection(h, 25);
    const flow = await exportImportFlow(h, conn, 0, 10, 0);
    const { runFlow } = await h.gql(`mutation($f: ID!) { runFlow(flowId: $f) { id } }`, { f: flow });
    const { flow: f } = await h.gql(`query($f: ID!) { flow(id: $f) { steps { id } } }`, { f: flow });
    const db = new Client({ connectionString: h.databaseUrl });
    await db.connect();
    const client = createClient({ url: h.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${h.secret}` } });
    const events: number[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: `subscription($c: [ID!]) { queueSize(connectionIds: $c) { queueSize inFlight } }`, variables: { c: [conn] } },
        { next: () => void events.push(performance.now()), error: reject, complete: resolve },
      );
    });
    void done.catch(() => undefined);
    while (events.length === 0) await new Promise((r) => setTimeout(r, 5));
    const latencies: number[] = [];
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 100));
      const before = events.length;
      const sent = performance.now();
      await db.query('BEGIN');
      await enqueueMessages(db, [{ connectionId: conn, jobId: runFlow.id, stepId: f.steps[0].id, payload: { kind: 'page', cursor: null } }]);
      await db.query('COMMIT');
      while (events.length === before) await new Promise((r) => setTimeout(r, 1));
      latencies.push((events[before] as number) - sent);
    }
    await db.end();
    await client.dispose();
    latencies.sort((a, b) => a - b);

    // 1,000 subscribers, 50 sockets × 20 subscriptions, on an idle queue.
    const idle = await connection(h, 5);
    const clients = Array.from({ length: 50 }, () =>
      createClient({ url: h.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${h.secret}` } }),
    );
    let first = 0;
    for (const c of clients) {
      for (let k = 0; k < 20; k++) {
        c.subscribe({ query: `subscription($c: [ID!]) { queueSize(connectionIds: $c) { queueSize } }`, variables: { c: [idle] } }, {
          next: () => void first++,
          error: () => undefined,
          complete: () => undefined,
        });
      }
    }
    while (first < 1000) await new Promise((r) => setTimeout(r, 20));
    const cpuBefore = cpuSeconds(h.sluicePid);
    await new Promise((r) => setTimeout(r, 10000));
    const idleCpu = cpuSeconds(h.sluicePid) - cpuBefore;
    await Promise.all(clients.map((c) => c.dispose()));
    return {
      case: 'live queueSize events: enqueue to subscriber; 1,000 idle subscribers',
      events: latencies.length,
      p50Ms: +percentile(latencies, 50).toFixed(1),
      p95Ms: +percentile(latencies, 95).toFixed(1),
      targetP95Ms: 150,
      idleSubscribers: first,
      idleCpuPercentOfOneCore: +((idleCpu / 10) * 100).toFixed(1),
    };
  },
  async hiddenConcurrency(h) {
    // Auto-recovery against an API that allows 4 imports in flight and answers 429 (no Retry-After) beyond.
    const records = 2000;
    const latencyMs = 20;
    // BENCH_HIDDEN_FIXED_LEVEL=4: the same at a fixed level without auto-recovery, what knowing the limit would give.
    const fixed = process.env.BENCH_HIDDEN_FIXED_LEVEL ? Number(process.env.BENCH_HIDDEN_FIXED_LEVEL) : null;
    const conn = fixed === null ? await autoRecoveringConnection(h, 25) : await connection(h, fixed);
    const flow = await limitedImportFlow(h, conn, records, `latency=${latencyMs}&maxInFlight=4`);
    await endpointStats(h); // from here on
    const cpuBefore = cpuSeconds(h.sluicePid);
    const job = await runToEnd(h, flow);
    const cpuMs = (cpuSeconds(h.sluicePid) - cpuBefore) * 1000;
    const stats = await endpointStats(h);
    const limit = 4 / (latencyMs / 1000);
    const rate = throughput(job);
    return {
      case: fixed === null ? 'auto-recovery, hidden limit of 4 in flight, 20 ms endpoint, target 25' : `fixed level ${fixed}, hidden limit of 4 in flight, 20 ms endpoint`,
      records,
      status: job.status,
      failed: job.recordsFailed,
      recordsPerSecond: rate,
      limit,
      ofLimit: +(rate / limit).toFixed(3),
      target: 0.85,
      rejected429: stats.rejected,
      share429: +(stats.rejected / (stats.rejected + records)).toFixed(3),
      sluiceCpuMsPerRecord: +(cpuMs / records).toFixed(3),
      // Where the rest went: seconds the endpoint spent with 0, 1, … imports in flight.
      secondsAtInFlight: stats.msAtInFlight.map((ms) => +(ms / 1000).toFixed(2)),
    };
  },
  async recovery(h) {
    // A hidden limit of 4 in flight that lifts after 5 s: how long until the level in use is back at its target.
    const records = 20000;
    const conn = await autoRecoveringConnection(h, 25);
    const liftAt = Date.now() + 5000;
    const flow = await limitedImportFlow(h, conn, records, `latency=20&maxInFlight=4&limitUntil=${liftAt}`);
    const { runFlow } = await h.gql(`mutation($f: ID!) { runFlow(flowId: $f) { id } }`, { f: flow });
    let levelAtLift: number | null = null;
    let regainedAfterMs: number | null = null;
    while (Date.now() < liftAt + 30000) {
      const { connection: c } = await h.gql(`query($c: ID!) { connection(id: $c) { concurrencyLevel } }`, { c: conn });
      if (Date.now() >= liftAt && levelAtLift === null) levelAtLift = c.concurrencyLevel;
      if (Date.now() >= liftAt && c.concurrencyLevel === 25) {
        regainedAfterMs = Date.now() - liftAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await h.gql(`mutation($j: ID!) { cancelJob(id: $j) { id } }`, { j: runFlow.id });
    return { case: 'auto-recovery: back to target 25 after a hidden limit of 4 lifts', levelAtLift, regainedAfterMs };
  },
  async hiddenRate(h) {
    // Auto-recovery against an API that allows 100 imports per one-second window, 429 with Retry-After beyond.
    const records = 1500;
    const conn = await autoRecoveringConnection(h, 25);
    const job = await runToEnd(h, await limitedImportFlow(h, conn, records, 'latency=5&perSecond=100'));
    const stats = await endpointStats(h);
    const rate = throughput(job);
    return {
      case: 'auto-recovery, hidden limit of 100 requests/s (Retry-After), 5 ms endpoint, target 25',
      records,
      status: job.status,
      failed: job.recordsFailed,
      recordsPerSecond: rate,
      limit: 100,
      ofLimit: +(rate / 100).toFixed(3),
      target: 0.9,
      rejected429: stats.rejected,
    };
  },
  async memory(h) {
    // 100,000 records exported into an import queue that can barely move (level 1, 1 s per call).
    const records = 100000;
    const conn = await connection(h, 1);
    const data = await h.gql(`mutation($i: CreateFlowInput!) { createFlow(input: $i) { id } }`, {
      i: {
        name: 'memory',
        steps: [
          { name: 'export', kind: 'EXPORT', connectionId: await connection(h, null), config: { path: '/orders', query: { total: records }, recordsPath: 'data', paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 5000 } } },
          { name: 'import', kind: 'IMPORT', connectionId: conn, config: { path: '/import?latency=1000' } },
        ],
      },
    });
    const { runFlow } = await h.gql(`mutation($f: ID!) { runFlow(flowId: $f) { id } }`, { f: data.createFlow.id });
    let queued = 0;
    let peak = 0;
    for (let i = 0; i < 600 && queued < records - 10; i++) {
      const { connection: c } = await h.gql(`query($c: ID!) { connection(id: $c) { queueSize } }`, { c: conn });
      queued = c.queueSize;
      peak = Math.max(peak, rssMb(h.sluicePid));
      await new Promise((r) => setTimeout(r, 200));
    }
    peak = Math.max(peak, rssMb(h.sluicePid));
    // With the queue full: what one queueSize/inFlight read costs (a sum over the tally, not a count of the queue).
    const reads: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = performance.now();
      await h.gql(`query($c: ID!) { connection(id: $c) { queueSize inFlight } }`, { c: conn });
      reads.push(performance.now() - started);
    }
    reads.sort((a, b) => a - b);
    // For comparison, what counting the queue itself costs (how queueSize was read before queue_tally).
    const db = new Client({ connectionString: h.databaseUrl });
    await db.connect();
    const counts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await db.query(`SELECT count(*) FROM queue_message WHERE queue_owner_id = $1 AND state = 'queued'`, [conn]);
      counts.push(performance.now() - started);
    }
    await db.end();
    counts.sort((a, b) => a - b);
    await h.gql(`mutation($j: ID!) { cancelJob(id: $j) { id } }`, { j: runFlow.id });
    return {
      case: '100,000 queued messages: Sluice server memory',
      queued,
      peakRssMb: peak,
      limitMb: 300,
      queueSizeReadP50Ms: +percentile(reads, 50).toFixed(2),
      queueSizeReadP95Ms: +percentile(reads, 95).toFixed(2),
      countOfQueueP50Ms: +percentile(counts, 50).toFixed(2),
    };
  },
  ceiling: (h) => ceiling(h.endpointUrl),
  retryErrors,
  /** Sluice's burst half of `--peers` alone (BENCH_PEERS_N messages), with every process's CPU per message. */
  burstDrain: async (h) => ({
    ...(process.env.BENCH_DRAIN_TWICE ? { first: await drainMessages(h, Number(process.env.BENCH_PEERS_N ?? 20000), null) } : {}),
    case: 'burst drain: messages enqueued at once on one connection, zero-latency endpoint',
    ...(await drainMessages(h, Number(process.env.BENCH_PEERS_N ?? 20000), null)),
    ...(process.env.BENCH_METRICS ? { metrics: (await (await fetch(h.wsUrl.replace('ws:', 'http:').replace('/graphql', '/metrics'))).text()).split('\n').filter((l) => l.startsWith('sluice_call_duration')) } : {}),
  }),
  /** The same with a second engine: a ROLE=worker process beside the server, both running the queue. */
  burstDrain2: async (h) => {
    const worker = startWorker(h);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      return {
        case: 'burst drain with two engine processes',
        ...(await drainMessages(h, Number(process.env.BENCH_PEERS_N ?? 20000), null)),
        workerPid: worker.pid,
      };
    } finally {
      await worker.stop();
    }
  },
  apiLoad,
  apiLoadHostile,
  apiLoadSplit,
  outage: (h) => outage(h),
  outageShortCap: (h) => outage(h, 1500),
  peersLevel: (h) => peersLevel(h, { connection, exportImportFlow, runToEnd, latency: cases.latency!, hiddenConcurrency: cases.hiddenConcurrency! }),
};

/**
 * The live case runs the API without the engine, so that every enqueued
 * message stays queued and each one is a change a subscriber must be told of.
 */
const CASE_ENV: Record<string, Record<string, string>> = { live: { ROLE: 'api' }, outageShortCap: { PROBE_MAX_BACKOFF_MS: '1500' }, apiLoadSplit: SPLIT_ENV, burstDrain2: { CREDENTIALS_KEY: SPLIT_ENV.CREDENTIALS_KEY! } };

async function main(): Promise<void> {
  if (process.argv.includes('--peers')) return runPeers(cases.latency!);
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length > 0 ? wanted : Object.keys(cases);
  for (const name of names) {
    const run = cases[name];
    if (!run) throw new Error(`no bench case "${name}" (cases: ${Object.keys(cases).join(', ')})`);
    const h = await startHarness(CASE_ENV[name]);
    try {
      process.stdout.write(JSON.stringify(await run(h)) + '\n');
    } finally {
      await h.stop();
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
  process.exit(1);
});
