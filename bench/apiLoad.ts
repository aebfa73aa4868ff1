/**
 * `npm run bench -- apiLoad` (issue #7, item 4): the API under load while the
 * engine runs a big burst flow at full speed in the same process
 * (`apiLoadSplit`: in a ROLE=worker process beside a ROLE=api one).
 *
 * Open loop: 200 queries/s and 50 mutations/s are sent on a fixed schedule
 * whether or not earlier ones have been answered, so a slow server cannot
 * slow the load down and hide its own latency (coordinated omission). Each
 * latency is measured from the request's scheduled time to its answer.
 * Queries read what a dashboard reads (connections with queueSize/inFlight,
 * jobs, a flow, a job); mutations change connections the flow does not use
 * and create and revoke tokens. Meanwhile the job's records/s is sampled
 * every second straight from the database, to show whether the engine kept
 * its pace. Target: p99 under 100 ms, no errors.
 *
 * BENCH_APILOAD_SECONDS (default 20) and BENCH_APILOAD_RECORDS (default
 * 300,000: more than the engine can finish meanwhile) size it;
 * BENCH_APILOAD_LEVEL runs the flow's connection at that level instead of
 * in burst mode.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { Agent, request as httpRequest } from 'undici';
import type { Harness } from './harness';
import { percentile } from './percentile';
import { cpuSeconds } from './processCpu';

/** The issue's rates; BENCH_APILOAD_QPS and BENCH_APILOAD_MPS change them (to find where it breaks). */
const QUERIES_PER_SECOND = Number(process.env.BENCH_APILOAD_QPS ?? 200);
const MUTATIONS_PER_SECOND = Number(process.env.BENCH_APILOAD_MPS ?? 50);
const TARGET_P99_MS = 100;
const SPARE_CONNECTIONS = 5;
/**
 * The load goes through a fixed pool of keep-alive connections, as wrk2 and
 * k6 send theirs: without a bound, every request that finds the others still
 * waiting opens one more socket, and a server that falls behind drowns in
 * connects. A request waiting for a free connection is still late by its
 * schedule, so the wait counts in its latency.
 */
const CLIENT_CONNECTIONS = 64;

interface Request {
  /** What the request is, for the per-kind figures. */
  label: string;
  query: string;
  variables?: Record<string, unknown>;
  /** Keeps what a mutation created, for a later one to delete. */
  onData?: (data: any) => void;
}

interface Sample {
  label: string;
  latencyMs: number;
  /** performance.now() of the answer. */
  answeredAt: number;
  /** How late the request left compared to its schedule (the load generator's own lag). */
  lagMs: number;
  error: string | null;
}

/** p50 and p99 per kind of request, slowest p99 first: where the time goes. */
function byKind(samples: Sample[]): Record<string, { n: number; p50Ms: number; p99Ms: number; errors: number }> {
  const kinds = new Map<string, Sample[]>();
  for (const s of samples) kinds.set(s.label, [...(kinds.get(s.label) ?? []), s]);
  const rows = [...kinds].map(([label, list]) => {
    const sorted = list.map((s) => s.latencyMs).sort((x, y) => x - y);
    return [label, { n: list.length, p50Ms: +percentile(sorted, 50).toFixed(1), p99Ms: +percentile(sorted, 99).toFixed(1), errors: list.filter((s) => s.error !== null).length }] as const;
  });
  return Object.fromEntries(rows.sort((x, y) => y[1].p99Ms - x[1].p99Ms));
}

/** The p99 of the requests scheduled in each second of the load: a backlog from the first seconds shows as a slow decline. */
function p99BySecond(samples: Sample[], start: number): number[] {
  const seconds: number[][] = [];
  for (const s of samples) (seconds[Math.floor((s.answeredAt - s.latencyMs - start) / 1000)] ??= []).push(s.latencyMs);
  return [...seconds].map((list) => (list ? Math.round(percentile(list.sort((a, b) => a - b), 99)) : 0));
}

function summary(samples: Sample[], seconds: number, windowEnd: number): Record<string, number> {
  if (samples.length === 0) return { sent: 0, errors: 0, p99Ms: 0 };
  const ok = samples.filter((s) => s.error === null);
  const all = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  return {
    sent: samples.length,
    sentPerSecond: +(samples.length / seconds).toFixed(1),
    // Answered (without error) before the last request was sent: what the server kept up with.
    answeredInWindowPerSecond: +(samples.filter((s) => s.error === null && s.answeredAt <= windowEnd).length / seconds).toFixed(1),
    errors: samples.length - ok.length,
    p50Ms: +percentile(all, 50).toFixed(1),
    p95Ms: +percentile(all, 95).toFixed(1),
    p99Ms: +percentile(all, 99).toFixed(1),
    maxMs: +(all[all.length - 1] ?? 0).toFixed(1),
    maxLagMs: +Math.max(0, ...samples.map((s) => s.lagMs)).toFixed(1),
  };
}

/** The queries a monitoring page sends, in turn. */
function queryMix(ids: { busy: string; flow: string; job: string }): Request[] {
  return [
    { label: 'connections', query: `{ connections { id name concurrencyLevel queueSize inFlight } }` },
    { label: 'connection', query: `query($c: ID!) { connection(id: $c) { id queueSize inFlight concurrencyLevel flows { id name } } }`, variables: { c: ids.busy } },
    { label: 'jobs', query: `{ jobs(first: 20) { id status recordsSucceeded recordsFailed startedAt } }` },
    { label: 'flow', query: `query($f: ID!) { flow(id: $f) { id name steps { id kind position connection { id name } } jobs(first: 5) { id status recordsSucceeded } } }`, variables: { f: ids.flow } },
    { label: 'job', query: `query($j: ID!) { job(id: $j) { id status recordsExported recordsSucceeded recordsFailed errors(first: 5) { code } } }`, variables: { j: ids.job } },
  ];
}

/** The mutations of an operator at work, in turn; the n-th call makes the n-th one. */
function mutationMaker(h: Harness, spare: string[], prefix: string): (n: number) => Request {
  const tokens: string[] = [];
  const connections: string[] = [];
  return (n) => {
    const target = spare[n % spare.length] as string;
    switch (n % 6) {
      case 0:
        return { label: 'updateConnection', query: `mutation($c: ID!, $i: UpdateConnectionInput!) { updateConnection(id: $c, input: $i) { id name } }`, variables: { c: target, i: { name: `spare ${prefix}${n}` } } };
      case 1:
        return {
          label: 'setConcurrency',
          query: `mutation($i: SetConcurrencyInput!) { setConcurrency(input: $i) { id concurrencyLevel } }`,
          variables: { i: { connectionId: target, level: 1 + (n % 25), autoRecoverRateLimitErrors: false } },
        };
      case 2:
        // The secret is not asked for: nothing here may print one.
        return { label: 'createApiToken', query: `mutation($n: String!) { createApiToken(name: $n, role: MONITOR) { token { id } } }`, variables: { n: `${prefix}load ${n}` }, onData: (d) => tokens.push(d.createApiToken.token.id) };
      case 3: {
        const id = tokens.shift();
        if (id === undefined) return { label: 'apiTokens', query: `{ apiTokens { id name role } }` };
        return { label: 'revokeApiToken', query: `mutation($t: ID!) { revokeApiToken(id: $t) }`, variables: { t: id } };
      }
      case 4:
        return {
          label: 'createConnection',
          query: `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`,
          variables: { i: { name: `${prefix}load ${n}`, connectorType: 'http', config: { baseUrl: h.endpointUrl }, concurrencyLevel: 5 } },
          onData: (d) => connections.push(d.createConnection.id),
        };
      default: {
        const id = connections.shift();
        if (id === undefined) return { label: 'connections (ids)', query: `{ connections { id } }` };
        return { label: 'deleteConnection', query: `mutation($c: ID!) { deleteConnection(id: $c) }`, variables: { c: id } };
      }
    }
  };
}

/**
 * `apiLoadSplit`: the same load with the API and the engine in two processes
 * (the contract's ROLE=api and ROLE=worker), to tell how much of the API's
 * latency is the engine's share of one event loop. The harness starts the
 * API with this environment; the case starts the worker with the same key.
 */
export const SPLIT_ENV: Record<string, string> = { ROLE: 'api', CREDENTIALS_KEY: randomBytes(32).toString('base64') };

interface Worker {
  pid: number;
  stop(): Promise<void>;
}

export function startWorker(h: Harness): Worker {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(__dirname, '..', 'src', 'main.js')], {
    stdio: ['ignore', 'ignore', process.env.BENCH_SERVER_STDERR ? 'inherit' : 'ignore'],
    env: { ...process.env, DATABASE_URL: h.databaseUrl, CREDENTIALS_KEY: SPLIT_ENV.CREDENTIALS_KEY, ROLE: 'worker', PORT: '0', LOG_LEVEL: 'warn' },
  });
  return {
    pid: child.pid as number,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function apiLoad(h: Harness): Promise<Record<string, unknown>> {
  return loadWhileRunning(h, null);
}

/**
 * `apiLoadHostile` (issue #16): the same load while a MONITOR sends bombs
 * the server refuses (38 aliases of connections { flows { steps {
 * connection } } }, a cost of ~750,000 through `first`, 11 levels of depth),
 * open loop at BENCH_HOSTILE_RPS (default 50/s) on connections of its own
 * (BENCH_HOSTILE_RPS=0 with BENCH_HOSTILE_IN_FLIGHT=n: n back to back
 * instead, as fast as the server answers; BENCH_HOSTILE_VARY=1: each
 * bomb's text made unique by a comment, so that none is refused from
 * memory). Target: the normal requests' p99 still under 100 ms.
 */
export function apiLoadHostile(h: Harness): Promise<Record<string, unknown>> {
  return loadWhileRunning(h, null, true);
}

const HOSTILE_IN_FLIGHT = Number(process.env.BENCH_HOSTILE_IN_FLIGHT ?? 8);
const HOSTILE_PER_SECOND = Number(process.env.BENCH_HOSTILE_RPS ?? 50);
/** BENCH_HOSTILE_VARY=1: every bomb's text differs (a comment with its number), so none is refused from memory (src/http/refusalMemory.ts). */
const HOSTILE_VARY = process.env.BENCH_HOSTILE_VARY === '1';

function hostileBombs(): string[] {
  const alias = (i: number): string => `c${i}: connections { id name queueSize flows { id name steps { id kind connection { id name config } } } }`;
  let deep = 'id';
  for (let level = 2; level < 11; level++) deep = `borrowConcurrencyFrom { ${deep} }`;
  return [
    `{ ${Array.from({ length: 38 }, (_, i) => alias(i)).join(' ')} }`,
    `{ jobs(first: 500) { id flow { id jobs(first: 500) { id status recordsSucceeded } } } }`,
    `{ connections { ${deep} } }`,
  ];
}

interface HostileRun {
  stop(): Promise<Record<string, unknown>>;
}

/** HOSTILE_IN_FLIGHT loops, each sending the next bomb as soon as the last was answered, until stopped. */
async function startHostile(h: Harness, graphqlUrl: string): Promise<HostileRun> {
  const { createApiToken } = await h.gql(`mutation { createApiToken(name: "hostile monitor", role: MONITOR) { secret } }`);
  // As many sockets as an attacker wants: at 50/s with answers held for a second (refusalAllowance.ts), 16 made the bombs queue in this client.
  const agent = new Agent({ connections: 128 });
  const bombs = hostileBombs();
  const outcomes: Record<string, number> = {};
  const latencies: number[] = [];
  let running = true;
  let sent = 0;
  const fire = async (): Promise<void> => {
    const n = sent++;
    const query = `${bombs[n % bombs.length] as string}${HOSTILE_VARY ? ` # ${n}` : ''}`;
    const started = performance.now();
    const response = await httpRequest(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${createApiToken.secret}` },
      body: JSON.stringify({ query }),
      dispatcher: agent,
    });
    const body = (await response.body.json()) as { errors?: { extensions?: { limit?: string; code?: string } }[] };
    latencies.push(performance.now() - started);
    const outcome = body.errors?.[0]?.extensions?.limit ?? body.errors?.[0]?.extensions?.code ?? 'answered';
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  };
  const loops: Promise<void>[] = [];
  const start = performance.now();
  let timer: NodeJS.Timeout | null = null;
  if (HOSTILE_PER_SECOND > 0) {
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) * HOSTILE_PER_SECOND) / 1000);
      while (running && sent < due) loops.push(fire());
    }, 5);
  } else {
    const loop = async (): Promise<void> => {
      while (running) await fire();
    };
    for (let i = 0; i < HOSTILE_IN_FLIGHT; i++) loops.push(loop());
  }
  return {
    async stop() {
      running = false;
      if (timer) clearInterval(timer);
      await Promise.all(loops);
      await agent.close();
      const sorted = latencies.sort((a, b) => a - b);
      return {
        mode: `${HOSTILE_PER_SECOND > 0 ? `${HOSTILE_PER_SECOND}/s open loop` : `${HOSTILE_IN_FLIGHT} back to back`}${HOSTILE_VARY ? ', every text different' : ''}`,
        sent: latencies.length,
        perSecond: +(latencies.length / ((performance.now() - start) / 1000)).toFixed(1),
        outcomes,
        p50Ms: +percentile(sorted, 50).toFixed(1),
        p99Ms: +percentile(sorted, 99).toFixed(1),
      };
    },
  };
}

export async function apiLoadSplit(h: Harness): Promise<Record<string, unknown>> {
  const worker = startWorker(h);
  try {
    return await loadWhileRunning(h, worker.pid);
  } finally {
    await worker.stop();
  }
}

/** `workerPid`: the engine's own process, or null when the API's process runs it too. */
async function loadWhileRunning(h: Harness, workerPid: number | null, hostile = false): Promise<Record<string, unknown>> {
  const seconds = Number(process.env.BENCH_APILOAD_SECONDS ?? 20);
  const records = Number(process.env.BENCH_APILOAD_RECORDS ?? 300000);
  const level = process.env.BENCH_APILOAD_LEVEL ? Number(process.env.BENCH_APILOAD_LEVEL) : null;
  const graphqlUrl = h.wsUrl.replace(/^ws/, 'http');

  // The engine's work: an export→import flow on a connection of its own.
  const { createConnection: busy } = await h.gql(`mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`, {
    i: { name: 'load-busy', connectorType: 'http', config: { baseUrl: h.endpointUrl }, concurrencyLevel: level, autoRecoverRateLimitErrors: false },
  });
  const { createFlow: flow } = await h.gql(`mutation($i: CreateFlowInput!) { createFlow(input: $i) { id } }`, {
    i: {
      name: 'load',
      steps: [
        { name: 'export', kind: 'EXPORT', connectionId: busy.id, config: { path: '/orders', query: { total: records }, recordsPath: 'data', paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 1000 } } },
        { name: 'import', kind: 'IMPORT', connectionId: busy.id, config: { path: '/import' } },
      ],
    },
  });
  const spare: string[] = [];
  for (let i = 0; i < SPARE_CONNECTIONS; i++) {
    const { createConnection } = await h.gql(`mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`, {
      i: { name: `spare ${i}`, connectorType: 'http', config: { baseUrl: h.endpointUrl }, concurrencyLevel: 5 },
    });
    spare.push(createConnection.id);
  }

  const db = new Client({ connectionString: h.databaseUrl });
  await db.connect();
  const succeeded = async (): Promise<{ at: number; n: number; status: string }> => {
    const { rows } = await db.query<{ n: number; status: string }>(`SELECT records_succeeded AS n, status FROM job WHERE id = $1`, [job.id]);
    return { at: performance.now(), n: rows[0]!.n, status: rows[0]!.status };
  };
  const { runFlow: job } = await h.gql(`mutation($f: ID!) { runFlow(flowId: $f) { id } }`, { f: flow.id });

  const queries = queryMix({ busy: busy.id, flow: flow.id, job: job.id });
  const agent = new Agent({ connections: CLIENT_CONNECTIONS });
  const post = async (request: Request): Promise<{ status: number; body: { data?: any; errors?: { message: string }[] } }> => {
    const response = await httpRequest(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.secret}` },
      body: JSON.stringify({ query: request.query, variables: request.variables }),
      dispatcher: agent,
    });
    return { status: response.statusCode, body: (await response.body.json()) as { data?: any; errors?: { message: string }[] } };
  };

  // The engine at full speed before the load: wait for the first imports.
  for (let waited = 0; (await succeeded()).n === 0; waited += 100) {
    if (waited > 120000) throw new Error('the engine imported nothing in 2 minutes');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Warm-up, one request at a time: every kind of request a few times, so that
  // the measured seconds are not the JIT's first compilations of each path.
  const warmMutation = mutationMaker(h, spare, 'warm-up ');
  for (let i = 0; i < 60; i++) {
    for (const request of [queries[i % queries.length] as Request, warmMutation(i)]) {
      const { body } = await post(request);
      if (body.errors) throw new Error(`warm-up ${request.label}: ${JSON.stringify(body.errors)}`);
      request.onData?.(body.data);
    }
  }
  // Then 5 s of the engine's pace alone.
  const before0 = await succeeded();
  const serverCpuBefore0 = cpuSeconds(h.sluicePid);
  await new Promise((r) => setTimeout(r, 5000));
  const before1 = await succeeded();
  const serverCpuAlone = cpuSeconds(h.sluicePid) - serverCpuBefore0;

  const nextMutation = mutationMaker(h, spare, '');
  const querySamples: Sample[] = [];
  const mutationSamples: Sample[] = [];
  const answers: Promise<void>[] = [];
  const send = (request: Request, scheduledAt: number, into: Sample[]): void => {
    const lagMs = performance.now() - scheduledAt;
    answers.push(
      post(request)
        .then(({ status, body }) => {
          const latencyMs = performance.now() - scheduledAt;
          if (status !== 200 || body.errors) {
            into.push({ label: request.label, latencyMs, answeredAt: performance.now(), lagMs, error: `${status} ${body.errors?.[0]?.message ?? ''}` });
          } else {
            request.onData?.(body.data);
            into.push({ label: request.label, latencyMs, answeredAt: performance.now(), lagMs, error: null });
          }
        })
        .catch((error: unknown) => {
          const cause = error instanceof Error && error.cause ? ` (${String(error.cause)})` : '';
          into.push({ label: request.label, latencyMs: performance.now() - scheduledAt, answeredAt: performance.now(), lagMs, error: `${String(error)}${cause}` });
        }),
    );
  };

  const rates: number[] = [];
  let last = await succeeded();
  const sampler = setInterval(() => {
    void succeeded().then((now) => {
      rates.push(Math.round(((now.n - last.n) * 1000) / (now.at - last.at)));
      last = now;
    });
  }, 1000);
  const cpuBefore = cpuSeconds(h.sluicePid);
  const workerCpuBefore = workerPid === null ? 0 : cpuSeconds(workerPid);
  const clientCpuBefore = process.cpuUsage();
  const during0 = await succeeded();
  const bombing = hostile ? await startHostile(h, graphqlUrl) : null;
  const start = performance.now();
  let sentQueries = 0;
  let sentMutations = 0;
  await new Promise<void>((resolve) => {
    // Every millisecond: send whatever the schedule says is due by now. The
    // n-th request (from 0) is due at n / rate seconds; `due` counts those
    // due by `elapsed`. (Counting floor(elapsed * rate) sent each request one
    // period after its scheduled time, and that period, 5 ms for a query and
    // 20 ms for a mutation, was counted in every latency.)
    const due = (elapsed: number, perSecond: number): number =>
      Math.min(Math.floor((elapsed * perSecond) / 1000) + 1, Math.floor(seconds * perSecond));
    const tick = setInterval(() => {
      const elapsed = Math.min(performance.now() - start, seconds * 1000);
      while (sentQueries < due(elapsed, QUERIES_PER_SECOND)) {
        send(queries[sentQueries % queries.length] as Request, start + (sentQueries * 1000) / QUERIES_PER_SECOND, querySamples);
        sentQueries++;
      }
      while (sentMutations < due(elapsed, MUTATIONS_PER_SECOND)) {
        send(nextMutation(sentMutations), start + (sentMutations * 1000) / MUTATIONS_PER_SECOND, mutationSamples);
        sentMutations++;
      }
      if (elapsed >= seconds * 1000) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const windowEnd = performance.now();
  const hostileFigures = bombing ? await bombing.stop() : null;
  const during1 = await succeeded();
  const serverCpu = cpuSeconds(h.sluicePid) - cpuBefore;
  const workerCpu = workerPid === null ? null : cpuSeconds(workerPid) - workerCpuBefore;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  clearInterval(sampler);
  await Promise.all(answers);
  await agent.close();
  await h.gql(`mutation($j: ID!) { cancelJob(id: $j) { id } }`, { j: job.id }).catch(() => undefined);
  await db.end();

  // BENCH_APILOAD_SAMPLES=file: every request as [kind, ms from the load's start to its schedule, latency ms], to look into single seconds.
  if (process.env.BENCH_APILOAD_SAMPLES) {
    fs.writeFileSync(process.env.BENCH_APILOAD_SAMPLES, JSON.stringify([...querySamples, ...mutationSamples].map((s) => [s.label, Math.round(s.answeredAt - s.latencyMs - start), +s.latencyMs.toFixed(1)])));
  }
  const q = summary(querySamples, seconds, windowEnd);
  const m = summary(mutationSamples, seconds, windowEnd);
  const all = summary([...querySamples, ...mutationSamples], seconds, windowEnd);
  const errors = [...querySamples, ...mutationSamples].filter((s) => s.error !== null).map((s) => s.error);
  return {
    case: `API load: ${QUERIES_PER_SECOND} queries/s + ${MUTATIONS_PER_SECOND} mutations/s for ${seconds} s, open loop, while a ${level === null ? 'burst' : `level ${level}`} flow runs${workerPid === null ? '' : ' in a separate ROLE=worker process'}${hostile ? `, and a MONITOR sends refused bombs (${HOSTILE_PER_SECOND > 0 ? `${HOSTILE_PER_SECOND}/s` : `${HOSTILE_IN_FLIGHT} back to back`})` : ''}`,
    queries: q,
    mutations: m,
    p99Ms: all.p99Ms,
    errors: all.errors,
    targetP99Ms: TARGET_P99_MS,
    met: all.p99Ms < TARGET_P99_MS && all.errors === 0,
    firstErrors: [...new Set(errors)].slice(0, 5),
    byKind: byKind([...querySamples, ...mutationSamples]),
    ...(hostileFigures ? { hostile: hostileFigures } : {}),
    p99MsBySecond: p99BySecond([...querySamples, ...mutationSamples], start),
    engine: {
      recordsPerSecondBefore: Math.round(((before1.n - before0.n) * 1000) / (before1.at - before0.at)),
      recordsPerSecondDuring: Math.round(((during1.n - during0.n) * 1000) / (during1.at - during0.at)),
      slowestSecondDuring: rates.length > 0 ? Math.min(...rates) : null,
      stillRunningAtEnd: during1.status === 'RUNNING',
    },
    // The process serving the API (and, unless split, running the engine): before the load, then during it.
    serverCpuPercentOfOneCoreBefore: Math.round((serverCpuAlone / ((before1.at - before0.at) / 1000)) * 100),
    serverCpuPercentOfOneCore: Math.round((serverCpu / seconds) * 100),
    workerCpuPercentOfOneCore: workerCpu === null ? null : Math.round((workerCpu / seconds) * 100),
    // This process, sending the load: it must not be what limits it.
    loadGeneratorCpuPercentOfOneCore: Math.round((clientCpu.user + clientCpu.system) / 1e4 / seconds),
    // Split only (else the engine's share is in it): the API's CPU per request, which a busy machine blurs least.
    apiCpuMsPerRequest: workerCpu === null ? null : +((serverCpu * 1000) / (all.answeredInWindowPerSecond * seconds)).toFixed(2),
  };
}
