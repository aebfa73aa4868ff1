/**
 * The retryErrors case: `retryJobErrors` of N failed records by filter.
 *
 * A flow export→import of N records (BENCH_RETRY_N, default 10,000) whose
 * import the endpoint refuses with a 400 (`refuse=1`), so that the job ends
 * with N OPEN errors; then the import step is pointed at the accepting path
 * (updateStep) and `retryJobErrors(filter: { jobId, state: OPEN })` sends
 * them all again. Reported: the mutation's duration (time to enqueue), the
 * retried records' throughput (from the mutation's start to the job done
 * again), and, for comparison, a first run of the same N records through a
 * second flow into the accepting endpoint. Once at level 25 with a 20 ms
 * endpoint (BENCH_RETRY_LATENCY_MS), once in burst (no level) at 0 ms.
 */
import type { Harness } from './harness';

interface Job {
  status: string;
  recordsSucceeded: number;
  recordsFailed: number;
  startedAt: string;
  finishedAt: string | null;
}

const JOB_FIELDS = 'status recordsSucceeded recordsFailed startedAt finishedAt';

async function connection(h: Harness, level: number | null): Promise<string> {
  const data = await h.gql(`mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`, {
    i: { name: `bench-retry-${level ?? 'burst'}`, connectorType: 'http', config: { baseUrl: h.endpointUrl }, concurrencyLevel: level, autoRecoverRateLimitErrors: false },
  });
  return data.createConnection.id;
}

async function flow(h: Harness, conn: string, total: number, importPath: string): Promise<{ id: string; importStepId: string }> {
  const data = await h.gql(`mutation($i: CreateFlowInput!) { createFlow(input: $i) { id steps { id kind } } }`, {
    i: {
      name: `bench retry ${total}`,
      steps: [
        { name: 'export', kind: 'EXPORT', connectionId: conn, config: { path: '/orders', query: { total }, recordsPath: 'data', paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 500 } } },
        { name: 'import', kind: 'IMPORT', connectionId: conn, config: { path: importPath } },
      ],
    },
  });
  const steps = data.createFlow.steps as { id: string; kind: string }[];
  return { id: data.createFlow.id, importStepId: steps.find((s) => s.kind === 'IMPORT')!.id };
}

async function untilDone(h: Harness, jobId: string): Promise<Job> {
  for (;;) {
    const { job } = await h.gql(`query($j: ID!) { job(id: $j) { ${JOB_FIELDS} } }`, { j: jobId });
    if (job.status !== 'QUEUED' && job.status !== 'RUNNING') return job as Job;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run(h: Harness, flowId: string): Promise<{ jobId: string; job: Job }> {
  const { runFlow } = await h.gql(`mutation($f: ID!) { runFlow(flowId: $f) { id } }`, { f: flowId });
  return { jobId: runFlow.id, job: await untilDone(h, runFlow.id) };
}

function rate(records: number, fromMs: number, toMs: number): number {
  return Math.round(records / ((toMs - fromMs) / 1000));
}

async function imported(h: Harness): Promise<number> {
  return ((await (await fetch(`${h.endpointUrl}/stats`)).json()) as { imported: number }).imported;
}

async function scenario(h: Harness, records: number, level: number | null, latencyMs: number): Promise<Record<string, unknown>> {
  const conn = await connection(h, level);
  const accepting = `/import?latency=${latencyMs}`;

  // The failing pass: every record refused with a 400, N OPEN errors.
  const failing = await flow(h, conn, records, `${accepting}&refuse=1`);
  const failed = await run(h, failing.id);
  if (failed.job.recordsFailed !== records) throw new Error(`expected ${records} failed records, got ${JSON.stringify(failed.job)}`);

  // The endpoint accepts from here on; retry every OPEN error of the job.
  await h.gql(`mutation($s: ID!, $i: UpdateStepInput!) { updateStep(id: $s, input: $i) { id } }`, { s: failing.importStepId, i: { config: { path: accepting } } });
  const importedBefore = await imported(h);
  const retryStart = Date.now();
  const { retryJobErrors } = await h.gql(`mutation($f: JobErrorFilter!) { retryJobErrors(filter: $f) { id } }`, { f: { jobId: failed.jobId, state: 'OPEN' } });
  const enqueueMs = Date.now() - retryStart;
  const retried = await untilDone(h, failed.jobId);
  const retryEnd = Date.parse(retried.finishedAt as string);
  const importedByRetry = (await imported(h)) - importedBefore;

  // For comparison: a first run of the same N records into the accepting endpoint.
  const first = await run(h, (await flow(h, conn, records, accepting)).id);
  const firstRate = rate(first.job.recordsSucceeded, Date.parse(first.job.startedAt), Date.parse(first.job.finishedAt as string));

  const retryRate = rate(retried.recordsSucceeded, retryStart, retryEnd);
  return {
    level,
    endpointLatencyMs: latencyMs,
    failedPass: { status: failed.job.status, recordsFailed: failed.job.recordsFailed },
    retried: (retryJobErrors as unknown[]).length,
    enqueueMs,
    retry: { status: retried.status, recordsSucceeded: retried.recordsSucceeded, recordsFailed: retried.recordsFailed, importedAtEndpoint: importedByRetry, recordsPerSecond: retryRate },
    firstRun: { status: first.job.status, recordsSucceeded: first.job.recordsSucceeded, recordsFailed: first.job.recordsFailed, recordsPerSecond: firstRate },
    retryOfFirstRun: +(retryRate / firstRate).toFixed(3),
  };
}

export async function retryErrors(h: Harness): Promise<Record<string, unknown>> {
  const records = Number(process.env.BENCH_RETRY_N ?? 10000);
  const latencyMs = Number(process.env.BENCH_RETRY_LATENCY_MS ?? 20);
  return {
    case: 'retryJobErrors(filter: { jobId, state: OPEN }) of records refused with a 400, then accepted; beside a first run of the same records',
    records,
    // Retry: from the mutation's start to the job done again (import only). First run: the job's startedAt to finishedAt (export and import).
    level25: await scenario(h, records, 25, latencyMs),
    burst: await scenario(h, records, null, 0),
  };
}
