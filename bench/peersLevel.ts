/**
 * `npm run bench -- peersLevel` (issue #18): Sluice at a level beside the two
 * things a user would otherwise write, in one run, on one endpoint process
 * (the harness's bench/endpoint.ts), each record one POST to
 * /import?latency=20 (0 in burst mode):
 *
 *   bare client      undici `Pool` + `request`, exactly `inFlight` POSTs in
 *                    flight until N are answered: the most any client can get.
 *   graphile-worker  one worker process, concurrency `inFlight`, one job per
 *                    record added in one add_jobs call, its task the same POST
 *                    with undici (bench/graphilePostProcess.ts); in burst mode
 *                    with its local queue and batched completions.
 *   Sluice           a connection at the level (burst: no level), auto-
 *                    recovery off, and an export→import flow of N records.
 *
 * Modes (BENCH_PEERS_MODES, default all): level25 (25 in flight, 20 ms),
 * level4 (4, 20 ms), burst (0 ms; 200 in flight for all three, what Sluice's
 * burst mode runs per queue: MAX_CALLS_PER_QUEUE's default). N:
 * BENCH_PEERS_N (default 5,000); rounds: BENCH_PEERS_ROUNDS (default 3). A
 * round measures every mode, the three back to back per mode (in an order
 * that turns each round: bare, gw, Sluice; gw, Sluice, bare; …), then
 * enqueue-to-start of both queues (run.ts's `latency` case and
 * graphile-worker's latencyTest, bench/graphileWorker.ts, whose task then
 * makes the same GET /orders: both timed from just before the enqueuing
 * statement to the request's arrival at the endpoint; graphile-worker's own
 * measure, to its task's start, is printed beside it) and the
 * hidden-limit case (run.ts's `hiddenConcurrency`); BENCH_PEERS_EXTRAS=0
 * leaves those two out (to profile a mode alone).
 *
 * One window for all three, counted at the endpoint: from the first /import's
 * arrival to the last one's answer (GET /window). Sluice's job timestamps
 * (startedAt → finishedAt) are shown beside it. The endpoint also says how
 * long each number of calls was in flight, so every shortfall splits exactly
 * (Little's law, rate = mean in flight / mean call time) into slots left empty
 * and calls that took longer than the endpoint's latency.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { Pool } from 'undici';
import { createGraphileDatabase, startChild, startGraphileLatency, stopChild, type Child } from './graphileWorker';
import type { Harness } from './harness';
import { percentile } from './percentile';
import { cpuSeconds, treeCpuSeconds } from './processCpu';

/** What run.ts already has for Sluice's side (passed in: run.ts is the entry point). */
export interface SluiceCases {
  connection(h: Harness, level: number | null): Promise<string>;
  exportImportFlow(h: Harness, conn: string, total: number, pageSize: number, latencyMs: number): Promise<string>;
  runToEnd(h: Harness, flowId: string): Promise<{ status: string; recordsSucceeded: number; recordsFailed: number; startedAt: string; finishedAt: string }>;
  latency(h: Harness): Promise<Record<string, unknown>>;
  hiddenConcurrency(h: Harness): Promise<Record<string, unknown>>;
}

type ModeName = 'level25' | 'level4' | 'burst';

interface Mode {
  name: ModeName;
  /** Sluice's concurrencyLevel; null: burst mode. */
  level: number | null;
  /** Calls in flight of the bare client and graphile-worker's concurrency. */
  inFlight: number;
  latencyMs: number;
  /** Sluice's export page size (the `level` and `burst` cases' sizes). */
  pageSize: number;
  /** graphile-worker's local queue and batched completions. */
  batched: boolean;
  /** Sluice's least ratio to the bare client and to graphile-worker (issue #18). */
  ofBareTarget: number;
  ofGraphileTarget: number;
}

const BURST_IN_FLIGHT = Number(process.env.BENCH_PEERS_BURST_IN_FLIGHT ?? 200);

const MODES: Record<ModeName, Mode> = {
  level25: { name: 'level25', level: 25, inFlight: 25, latencyMs: 20, pageSize: 500, batched: false, ofBareTarget: 0.95, ofGraphileTarget: 1.15 },
  level4: { name: 'level4', level: 4, inFlight: 4, latencyMs: 20, pageSize: 500, batched: false, ofBareTarget: 0.95, ofGraphileTarget: 1.15 },
  burst: { name: 'burst', level: null, inFlight: BURST_IN_FLIGHT, latencyMs: 0, pageSize: 1000, batched: true, ofBareTarget: 0.8, ofGraphileTarget: 3 },
};

/** Sluice's server + PostgreSQL CPU per record at level 25, at most this multiple of burst mode's. */
const CPU_RATIO_TARGET = 1.5;
/** The hidden-limit case: at least this share of 4 / 20 ms. */
const HIDDEN_TARGET = 0.9;

/**
 * PostgreSQL's CPU is its backends' (treeCpuSeconds): a backend that exits
 * adds its whole life's CPU to the postmaster's once reaped, so a connection
 * closed just before a measurement would bill that measurement for its past
 * work. Every connection this module closes is therefore waited out, and so
 * are graphile-worker's backends after each of its runs.
 */
async function reaped(pids: Iterable<number>): Promise<void> {
  const deadline = performance.now() + 10000;
  for (const pid of pids) {
    while (fs.existsSync(`/proc/${pid}`)) {
      if (performance.now() > deadline) {
        process.stderr.write(`PostgreSQL backend ${pid} still there after 10 s: its CPU will count in a later measurement\n`);
        return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

async function endAndReap(db: Client): Promise<void> {
  const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await db.end();
  await reaped([rows[0]!.pid]);
}

/** GET /window of bench/endpoint.ts. */
interface EndpointWindow {
  count: number;
  firstAt: number;
  lastAt: number;
  busyMs: number;
  msAtInFlight: number[];
}

interface Side {
  recordsPerSecond: number;
  windowMs: number;
  /** Little's law's two factors: calls in flight on average over the window, and each call's time at the endpoint. */
  meanInFlight: number;
  meanCallMs: number;
  /** Share of the window with every slot busy (exactly `inFlight` calls at the endpoint). */
  fullShare: number;
  /** CPU per record of the client (this process / the worker process / the Sluice server) and of PostgreSQL. */
  clientCpuMsPerRecord: number;
  postgresCpuMsPerRecord: number;
}

async function readWindow(endpointUrl: string): Promise<EndpointWindow> {
  return (await (await fetch(`${endpointUrl}/window`)).json()) as EndpointWindow;
}

function side(w: EndpointWindow, n: number, inFlight: number, clientCpuMs: number, postgresCpuMs: number): Side {
  if (w.count !== n) throw new Error(`the endpoint saw ${w.count} imports, not ${n}`);
  const windowMs = w.lastAt - w.firstAt;
  return {
    recordsPerSecond: Math.round((w.count * 1000) / windowMs),
    windowMs: Math.round(windowMs),
    meanInFlight: +(w.busyMs / windowMs).toFixed(2),
    meanCallMs: +(w.busyMs / w.count).toFixed(2),
    fullShare: +((w.msAtInFlight[inFlight] ?? 0) / windowMs).toFixed(3),
    clientCpuMsPerRecord: +(clientCpuMs / n).toFixed(3),
    postgresCpuMsPerRecord: +(postgresCpuMs / n).toFixed(3),
  };
}

/** N POSTs, exactly `inFlight` of them in flight: `inFlight` loops over one Pool of as many sockets. */
async function bareClient(h: Harness, mode: Mode, n: number): Promise<Side> {
  const pool = new Pool(h.endpointUrl, { connections: mode.inFlight, pipelining: 1, keepAliveTimeout: 30000 });
  const importPath = `/import?latency=${mode.latencyMs}`;
  await readWindow(h.endpointUrl);
  const cpu = process.cpuUsage();
  const postgresBefore = treeCpuSeconds(h.postgresPid);
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const { statusCode, body } = await pool.request({ method: 'POST', path: importPath, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: i + 1, total: i * 3 }) });
      await body.text();
      if (statusCode !== 201) throw new Error(`endpoint answered ${statusCode}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: mode.inFlight }, loop));
  } finally {
    await pool.close();
  }
  const used = process.cpuUsage(cpu);
  return side(await readWindow(h.endpointUrl), n, mode.inFlight, (used.user + used.system) / 1000, (treeCpuSeconds(h.postgresPid) - postgresBefore) * 1000);
}

/** graphile-worker's process for a mode, up for the whole run (warm after round 1, as Sluice's server is). */
async function startGraphileWorker(h: Harness, databaseUrl: string, mode: Mode): Promise<Child> {
  const child = startChild('post', {
    DATABASE_URL: databaseUrl,
    CONCURRENCY: String(mode.inFlight),
    LATENCY_MS: String(mode.latencyMs),
    ENDPOINT_URL: h.endpointUrl,
    ...(mode.batched ? { BATCHED: '1' } : {}),
  }, path.join(__dirname, 'graphilePostProcess.js'));
  await child.next();
  return child;
}

async function graphileWorker(h: Harness, worker: Child, databaseUrl: string, mode: Mode, n: number): Promise<Side & { addJobsMs: number }> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const added = performance.now();
    // Every job in one add_jobs call, as graphile-worker's perfTest adds them; the payload is the record the task POSTs.
    await db.query(
      `SELECT graphile_worker.add_jobs(array(
         SELECT json_populate_record(NULL::graphile_worker.job_spec, json_build_object('identifier', 'post', 'payload', json_build_object('id', i, 'total', (i - 1) * 3)))
           FROM generate_series(1, $1::int) i))`,
      [n],
    );
    const addJobsMs = Math.round(performance.now() - added);
    await readWindow(h.endpointUrl);
    const postgresBefore = treeCpuSeconds(h.postgresPid);
    worker.process.send('go');
    const done = worker.next() as Promise<{ jobs: number; cpuMs: number }>;
    // runOnce's backends, seen while it runs (its database is its own; the latency worker has another): once it
    // has ended its pool, their CPU counts when they are reaped, so this measurement waits for that.
    const backends = new Set<number>();
    let finished = false;
    void done.finally(() => (finished = true));
    while (!finished) {
      const { rows } = await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      for (const r of rows) backends.add(r.pid);
      await Promise.race([done, new Promise((r) => setTimeout(r, 100))]);
    }
    const report = await done;
    await reaped(backends);
    const postgresCpuMs = (treeCpuSeconds(h.postgresPid) - postgresBefore) * 1000;
    const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM graphile_worker._private_jobs`);
    if (report.jobs !== n || Number(rows[0]?.n) !== 0) throw new Error(`graphile-worker ran ${report.jobs} of ${n} jobs, ${rows[0]?.n} left`);
    return { ...side(await readWindow(h.endpointUrl), n, mode.inFlight, report.cpuMs, postgresCpuMs), addJobsMs };
  } finally {
    await endAndReap(db);
  }
}

/** What PostgreSQL counted so far: commits in the bench database, and calls of each engine function (track_functions, set by the harness). */
async function postgresCounts(db: Client): Promise<Record<string, number>> {
  const { rows } = await db.query<{ name: string; n: string }>(
    `SELECT 'commits' AS name, xact_commit AS n FROM pg_stat_database WHERE datname = current_database()
     UNION ALL SELECT funcname, sum(calls) FROM pg_stat_user_functions WHERE funcname LIKE 'sluice\\_%' GROUP BY funcname`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
}

/**
 * The statements that took PostgreSQL's time in one Sluice run, and the ones run most often (BENCH_PG_STATEMENTS=1;
 * the harness loads the extension).
 */
async function printStatements(db: Client, mode: Mode, n: number): Promise<void> {
  const top = async (order: string, toplevelOnly: boolean): Promise<{ ms: number; calls: string; query: string }[]> =>
    (
      await db.query<{ ms: number; calls: string; query: string }>(
        `SELECT total_exec_time AS ms, calls, regexp_replace(query, '\\s+', ' ', 'g') AS query
           FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND (toplevel OR NOT $1)
          ORDER BY ${order} DESC LIMIT 20`,
        [toplevelOnly],
      )
    ).rows;
  const lists = [
    ['total_exec_time', false, 'by time, nested ones too'],
    ['calls', false, 'by calls, nested ones too'],
    ['calls', true, 'sent by a client, by calls'],
  ] as const;
  for (const [order, toplevelOnly, title] of lists) {
    process.stderr.write(`\n${mode.name}: PostgreSQL's statements ${title}: execution ms per record, calls per record\n`);
    for (const r of await top(order, toplevelOnly)) process.stderr.write(`${(r.ms / n).toFixed(4)} ms  ${(Number(r.calls) / n).toFixed(3)}  ${r.query.slice(0, 160)}\n`);
  }
}

type SluiceSide = Side & { jobRecordsPerSecond: number; serverAndPostgresCpuMsPerRecord: number; perRecord: Record<string, number> };

async function sluice(h: Harness, cases: SluiceCases, mode: Mode, n: number): Promise<SluiceSide> {
  const conn = await cases.connection(h, mode.level);
  const flow = await cases.exportImportFlow(h, conn, n, mode.pageSize, mode.latencyMs);
  const stats = new Client({ connectionString: h.databaseUrl });
  await stats.connect();
  // A backend reports its counts at most once a second: the ones before this run first.
  await new Promise((r) => setTimeout(r, 1100));
  const countsBefore = await postgresCounts(stats);
  if (process.env.BENCH_PG_STATEMENTS === '1') await stats.query('SELECT pg_stat_statements_reset()');
  await readWindow(h.endpointUrl);
  const serverBefore = cpuSeconds(h.sluicePid);
  const postgresBefore = treeCpuSeconds(h.postgresPid);
  const job = await cases.runToEnd(h, flow);
  const serverCpuMs = (cpuSeconds(h.sluicePid) - serverBefore) * 1000;
  const postgresCpuMs = (treeCpuSeconds(h.postgresPid) - postgresBefore) * 1000;
  if (job.status !== 'COMPLETED' || job.recordsSucceeded !== n) throw new Error(`Sluice's job ended ${job.status} with ${job.recordsSucceeded} of ${n} records`);
  const s = side(await readWindow(h.endpointUrl), n, mode.inFlight, serverCpuMs, postgresCpuMs);
  await new Promise((r) => setTimeout(r, 1100));
  const countsAfter = await postgresCounts(stats);
  if (process.env.BENCH_PG_STATEMENTS === '1') await printStatements(stats, mode, n);
  await endAndReap(stats);
  // Round trips to PostgreSQL per record, by kind (the commits include this loop's job polls, ~10 a second).
  const perRecord = Object.fromEntries(
    Object.entries(countsAfter)
      .map(([name, count]) => [name, +((count - (countsBefore[name] ?? 0)) / n).toFixed(3)] as const)
      .filter(([, x]) => x > 0),
  );
  return {
    ...s,
    perRecord,
    jobRecordsPerSecond: Math.round((n * 1000) / (Date.parse(job.finishedAt) - Date.parse(job.startedAt))),
    serverAndPostgresCpuMsPerRecord: +((serverCpuMs + postgresCpuMs) / n).toFixed(3),
  };
}

interface ModeRound {
  bare: Side;
  graphile: Side;
  sluice: SluiceSide;
  /** The 1-minute load average when the three had run. */
  load: number;
}

interface Round {
  modes: Partial<Record<ModeName, ModeRound>>;
  latency?: { sluiceP50Ms: number; graphileP50Ms: number };
  hiddenOfLimit?: number;
}

function print(line: Record<string, unknown>): void {
  // `at`: when the line's measurement ended, to tell it apart from another benchmark's run on the same machine.
  process.stdout.write(JSON.stringify({ ...line, at: new Date().toISOString() }) + '\n');
}

function loadAverage(): number {
  return Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

const ratio = (a: number, b: number): number => +(a / b).toFixed(3);
const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');

function modeTable(mode: Mode, rounds: Round[]): string {
  const limit = mode.level !== null ? mode.level / (mode.latencyMs / 1000) : null;
  const rows = rounds.flatMap((r, i) => {
    const m = r.modes[mode.name];
    if (!m) return [];
    const ofBare = ratio(m.sluice.recordsPerSecond, m.bare.recordsPerSecond);
    const ofGraphile = ratio(m.sluice.recordsPerSecond, m.graphile.recordsPerSecond);
    const little = (s: Side): string => (limit ? ` (${ratio(s.recordsPerSecond, limit)})` : '');
    return [
      `| ${i + 1} | ${m.bare.recordsPerSecond}${little(m.bare)} | ${m.graphile.recordsPerSecond}${little(m.graphile)} | ${m.sluice.recordsPerSecond}${little(m.sluice)} | ` +
        `${ofBare} (${met(ofBare >= mode.ofBareTarget)}) | ${ofGraphile}× (${met(ofGraphile >= mode.ofGraphileTarget)}) | ` +
        `${m.bare.meanInFlight} / ${m.graphile.meanInFlight} / ${m.sluice.meanInFlight} | ${m.bare.meanCallMs} / ${m.graphile.meanCallMs} / ${m.sluice.meanCallMs} | ` +
        `${m.sluice.jobRecordsPerSecond} | ${m.sluice.serverAndPostgresCpuMsPerRecord} | ${m.load} |`,
    ];
  });
  return (
    `\n${mode.name}: ${mode.inFlight} in flight, ${mode.latencyMs} ms endpoint${limit ? `, Little's law ${limit}/s` : ''}; records/s in the endpoint's window${limit ? " (share of Little's law)" : ''}\n\n` +
    `| round | bare undici | graphile-worker | Sluice | Sluice / bare (≥ ${mode.ofBareTarget}) | Sluice / graphile-worker (≥ ${mode.ofGraphileTarget}×) | mean in flight bare / gw / Sluice | mean call ms bare / gw / Sluice | Sluice by job timestamps | Sluice server + PG CPU ms/record | load after |\n` +
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n` +
    rows.join('\n') +
    '\n'
  );
}

export async function peersLevel(h: Harness, cases: SluiceCases): Promise<Record<string, unknown>> {
  const n = Number(process.env.BENCH_PEERS_N ?? 5000);
  const roundCount = Number(process.env.BENCH_PEERS_ROUNDS ?? 3);
  const extras = process.env.BENCH_PEERS_EXTRAS !== '0';
  const modes = (process.env.BENCH_PEERS_MODES ?? 'level25,level4,burst').split(',').map((name) => {
    const mode = MODES[name as ModeName];
    if (!mode) throw new Error(`no peersLevel mode "${name}" (modes: ${Object.keys(MODES).join(', ')})`);
    return mode;
  });
  const postUrl = await createGraphileDatabase(h.databaseUrl, 'graphile_worker_level');
  const workers = new Map<ModeName, Child>();
  for (const mode of modes) workers.set(mode.name, await startGraphileWorker(h, postUrl, mode));
  const latency = extras ? await startGraphileLatency(await createGraphileDatabase(h.databaseUrl, 'graphile_worker_latency'), h.endpointUrl) : null;
  const rounds: Round[] = [];
  const startedAt = new Date().toISOString();
  try {
    for (let r = 1; r <= roundCount; r++) {
      const round: Round = { modes: {} };
      for (const mode of modes) {
        // The three back to back, in an order that turns each round, so that a drift of the machine's speed favours none.
        let bare: Side | undefined;
        let graphile: Side | undefined;
        let s: SluiceSide | undefined;
        const runs: (() => Promise<void>)[] = [
          async () => {
            const load = loadAverage();
            bare = await bareClient(h, mode, n);
            print({ case: `round ${r} ${mode.name}: bare undici, ${mode.inFlight} in flight`, load, ...bare });
          },
          async () => {
            const load = loadAverage();
            graphile = await graphileWorker(h, workers.get(mode.name)!, postUrl, mode, n);
            print({ case: `round ${r} ${mode.name}: graphile-worker, concurrency ${mode.inFlight}${mode.batched ? ', local queue, batched completions' : ''}`, load, ...graphile });
          },
          async () => {
            const load = loadAverage();
            s = await sluice(h, cases, mode, n);
            print({ case: `round ${r} ${mode.name}: Sluice, level ${mode.level ?? 'none (burst)'}, export→import`, load, ...s });
          },
        ];
        for (let k = 0; k < runs.length; k++) await runs[(k + r - 1) % runs.length]!();
        round.modes[mode.name] = { bare: bare!, graphile: graphile!, sluice: s!, load: loadAverage() };
      }
      if (latency) {
        const load = loadAverage();
        const measured = await latency.measure();
        const graphileArrivals = [...measured.arrivals].sort((a, b) => a - b);
        const graphileTaskStarts = [...measured.latencies].sort((a, b) => a - b);
        const sluiceLatency = await cases.latency(h);
        round.latency = { sluiceP50Ms: Number(sluiceLatency.p50Ms), graphileP50Ms: +percentile(graphileArrivals, 50).toFixed(2) };
        print({
          case: `round ${r}: enqueue-to-start p50, 1,000 sequential, to the request's arrival at the endpoint`,
          load,
          ...round.latency,
          graphileP95Ms: +percentile(graphileArrivals, 95).toFixed(2),
          sluiceP95Ms: sluiceLatency.p95Ms,
          graphileToTaskStartP50Ms: +percentile(graphileTaskStarts, 50).toFixed(2),
        });
        const hidden = await cases.hiddenConcurrency(h);
        round.hiddenOfLimit = Number(hidden.ofLimit);
        print({ ...hidden, case: `round ${r}: ${String(hidden.case)}`, load: loadAverage() });
      }
      rounds.push(round);
    }
  } finally {
    for (const worker of workers.values()) await stopChild(worker);
    await latency?.stop();
  }

  // Targets, round by round.
  const targets: Record<string, boolean[]> = {};
  const check = (name: string, ok: boolean): void => void (targets[name] ??= []).push(ok);
  for (const r of rounds) {
    for (const mode of modes) {
      const m = r.modes[mode.name]!;
      check(`${mode.name}: Sluice ≥ ${mode.ofBareTarget} of the bare client`, m.sluice.recordsPerSecond >= mode.ofBareTarget * m.bare.recordsPerSecond);
      check(`${mode.name}: Sluice ≥ ${mode.ofGraphileTarget}× graphile-worker`, m.sluice.recordsPerSecond >= mode.ofGraphileTarget * m.graphile.recordsPerSecond);
    }
    const at25 = r.modes.level25;
    const burst = r.modes.burst;
    if (at25 && burst) {
      check(`Sluice CPU per record at level 25 ≤ ${CPU_RATIO_TARGET}× burst`, at25.sluice.serverAndPostgresCpuMsPerRecord <= CPU_RATIO_TARGET * burst.sluice.serverAndPostgresCpuMsPerRecord);
    }
    if (r.latency) check('enqueue-to-start p50 ≤ graphile-worker', r.latency.sluiceP50Ms <= r.latency.graphileP50Ms);
    if (r.hiddenOfLimit !== undefined) check(`hidden limit ≥ ${HIDDEN_TARGET} of 4 / 20 ms`, r.hiddenOfLimit >= HIDDEN_TARGET);
  }
  const extraRows = rounds.map((r, i) => {
    const cpu25 = r.modes.level25?.sluice.serverAndPostgresCpuMsPerRecord;
    const cpuBurst = r.modes.burst?.sluice.serverAndPostgresCpuMsPerRecord;
    const cpu = cpu25 !== undefined && cpuBurst !== undefined ? `${cpu25} / ${cpuBurst} = ${ratio(cpu25, cpuBurst)}× (${met(cpu25 <= CPU_RATIO_TARGET * cpuBurst)})` : '—';
    const lat = r.latency ? `${r.latency.sluiceP50Ms} / ${r.latency.graphileP50Ms} ms (${met(r.latency.sluiceP50Ms <= r.latency.graphileP50Ms)})` : '—';
    const hidden = r.hiddenOfLimit !== undefined ? `${r.hiddenOfLimit} (${met(r.hiddenOfLimit >= HIDDEN_TARGET)})` : '—';
    return `| ${i + 1} | ${cpu} | ${lat} | ${hidden} |`;
  });
  process.stdout.write(
    `\npeersLevel: ${n} records per measurement, ${roundCount} rounds, started ${startedAt}\n` +
      modes.map((m) => modeTable(m, rounds)).join('') +
      `\n| round | Sluice server + PG CPU ms/record, level 25 / burst (≤ ${CPU_RATIO_TARGET}×) | enqueue-to-start p50 Sluice / graphile-worker (≤) | hidden limit, share of 4 / 20 ms (≥ ${HIDDEN_TARGET}) |\n| --- | --- | --- | --- |\n` +
      extraRows.join('\n') +
      '\n\n' +
      Object.entries(targets)
        .map(([name, oks]) => `${name}: met in ${oks.filter(Boolean).length} of ${oks.length} rounds`)
        .join('\n') +
      '\n\n',
  );
  return {
    case: 'peersLevel: Sluice beside a bare undici client and graphile-worker, one endpoint',
    records: n,
    rounds: roundCount,
    targets: Object.fromEntries(Object.entries(targets).map(([name, oks]) => [name, `${oks.filter(Boolean).length}/${oks.length}`])),
  };
}
