/**
 * The outage case (issue #19): an application that goes away mid-run and
 * comes back.
 *
 * A flow exports BENCH_OUTAGE_N records (default 12,000) from the bench
 * endpoint and imports each into an application played here, in this
 * process (so that it can go away on cue): 20 ms per import, a connection at
 * level 25 with auto-recovery on. After 3,000 imports the application
 * answers 503 to everything for BENCH_OUTAGE_S seconds (default 30), then
 * serves again. Reported:
 * - requests it received while away, and per minute of outage;
 * - from its return to the first successful import (the next probe, or the
 *   first call after it), and to the full level (25 imports in flight) again;
 * - whether every record was imported and none failed.
 * `outage` runs with the default probe backoff cap (PROBE_MAX_BACKOFF_MS,
 * 2 minutes); `outageShortCap` with a 1.5 s cap.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Harness } from './harness';

const LEVEL = 25;
const LATENCY_MS = 20;

interface Application {
  url: string;
  down: boolean;
  inFlight: number;
  imported: Set<number>;
  /** Arrival times of requests answered 503. */
  refused: number[];
  /** When each successful import was answered. */
  succeeded: number[];
  /** Each time the imports in flight reached the level: when. */
  atLevel: number[];
  close(): Promise<void>;
}

async function startApplication(): Promise<Application> {
  const app: Omit<Application, 'url' | 'close'> = { down: false, inFlight: 0, imported: new Set(), refused: [], succeeded: [], atLevel: [] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (app.down) {
        app.refused.push(Date.now());
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"maintenance"}');
        return;
      }
      app.inFlight++;
      if (app.inFlight >= LEVEL) app.atLevel.push(Date.now());
      setTimeout(() => {
        app.inFlight--;
        try {
          app.imported.add((JSON.parse(Buffer.concat(chunks).toString()) as { id: number }).id);
        } catch {
          // not an import (a probe's ping would land here): answered all the same
        }
        app.succeeded.push(Date.now());
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
      }, LATENCY_MS);
    });
  });
  server.keepAliveTimeout = 60000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(app, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  });
}

async function connection(h: Harness, name: string, baseUrl: string, level: number): Promise<string> {
  const data = await h.gql(`mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`, {
    i: { name, connectorType: 'http', config: { baseUrl }, concurrencyLevel: level, autoRecoverRateLimitErrors: true },
  });
  return data.createConnection.id;
}

/** `probeMaxBackoffMs`: the server's PROBE_MAX_BACKOFF_MS (run.ts sets it per case), for the report. */
export async function outage(h: Harness, probeMaxBackoffMs = 120000): Promise<Record<string, unknown>> {
  const total = Number(process.env.BENCH_OUTAGE_N ?? 12000);
  const outageMs = Number(process.env.BENCH_OUTAGE_S ?? 30) * 1000;
  const app = await startApplication();
  try {
    const source = await connection(h, 'bench web store', h.endpointUrl, 1);
    const erp = await connection(h, 'bench erp', app.url, LEVEL);
    const flow = await h.gql(`mutation($i: CreateFlowInput!) { createFlow(input: $i) { id } }`, {
      i: {
        name: 'bench outage',
        steps: [
          { name: 'export', kind: 'EXPORT', connectionId: source, config: { path: '/orders', query: { total }, recordsPath: 'data', paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 500 } } },
          { name: 'import', kind: 'IMPORT', connectionId: erp, config: { path: '/import' } },
        ],
      },
    });
    const run = await h.gql(`mutation($id: ID!) { runFlow(flowId: $id) { id } }`, { id: flow.createFlow.id });
    const jobId: string = run.runFlow.id;
    while (app.imported.size < 3000) await new Promise((r) => setTimeout(r, 20));
    app.down = true;
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, outageMs));
    const stateWhileDown: string = (await h.gql(`query($id: ID!) { connection(id: $id) { state } }`, { id: erp })).connection.state;
    app.down = false;
    const upAt = Date.now();
    let job: { status: string; recordsSucceeded: number; recordsFailed: number };
    for (;;) {
      job = (await h.gql(`query($id: ID!) { job(id: $id) { status recordsSucceeded recordsFailed } }`, { id: jobId })).job;
      if (job.status !== 'QUEUED' && job.status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const firstSuccess = app.succeeded.find((t) => t >= upAt);
    const fullLevel = app.atLevel.find((t) => t >= upAt);
    const whileDown = app.refused.filter((t) => t >= downAt && t < upAt).length;
    return {
      case: `outage: level ${LEVEL} (auto-recovery), ${LATENCY_MS} ms imports, the application answers 503 for ${outageMs / 1000} s after 3,000 of ${total}`,
      probeMaxBackoffMs,
      stateWhileDown,
      requestsWhileDown: whileDown,
      requestsPerMinuteOfOutage: Math.round((whileDown / (outageMs / 60000)) * 10) / 10,
      toFirstSuccessMs: firstSuccess === undefined ? null : firstSuccess - upAt,
      toFullLevelMs: fullLevel === undefined ? null : fullLevel - upAt,
      job,
      everyRecordImported: app.imported.size === total,
      target: 'first call < 2 s after the return (with the backoff at its cap), no record failed',
    };
  } finally {
    await app.close();
  }
}
