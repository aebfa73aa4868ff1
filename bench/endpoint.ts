/**
 * The external application the benchmark talks to, in its own process so that
 * its CPU is not counted against Sluice's event loop. GET /orders pages
 * through `total` generated records; POST /import accepts anything (with
 * query `refuse=1`, refuses everything with a 400). Every response waits
 * LATENCY_MS (query `latency` overrides). Prints its port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

let imported = 0;
let firstRequestAt: number[] = [];
let rejected = 0;
/** GET /arrival waits here for the next /orders request (the latency case's long poll). */
let arrivalWaiters: http.ServerResponse[] = [];
let importing = 0;
/**
 * How long (ms) /import had each number of calls in flight, so a case can
 * tell where its goodput went: time with fewer than the limit in flight is
 * time the client left on the table.
 */
let msAtInFlight: number[] = [];
let inFlightSince = performance.now();
/** BENCH_ENDPOINT_TRACE=file: every change of /import's in flight, every 429 and /orders request, with its time, written at /stats. */
const trace: string[] | null = process.env.BENCH_ENDPOINT_TRACE ? [] : null;
function importingChanges(by: number): void {
  const now = performance.now();
  trace?.push(`${(performance.timeOrigin + now).toFixed(2)} ${by === 0 ? 'stats' : by > 0 ? 'start' : 'end'} ${importing + by}`);
  msAtInFlight[importing] = (msAtInFlight[importing] ?? 0) + (now - inFlightSince);
  inFlightSince = now;
  importing += by;
}
/**
 * Every /import since the last GET /window (bench/peersLevel.ts): how many,
 * the first arrival and the last answer (the window all three clients of
 * peersLevel are timed by), and the time spent at each number in flight, so
 * that a shortfall splits into slots left empty and calls that took longer.
 */
const importWindow = { count: 0, firstAt: 0, lastAt: 0, inFlight: 0, since: 0, busyMs: 0, msAtInFlight: [] as number[] };
function importWindowChanges(by: 1 | -1): void {
  const now = performance.timeOrigin + performance.now();
  if (importWindow.count === 0 && by === 1) {
    importWindow.firstAt = now;
    importWindow.since = now;
  }
  importWindow.msAtInFlight[importWindow.inFlight] = (importWindow.msAtInFlight[importWindow.inFlight] ?? 0) + (now - importWindow.since);
  importWindow.busyMs += importWindow.inFlight * (now - importWindow.since);
  importWindow.since = now;
  importWindow.inFlight += by;
  if (by === 1) importWindow.count++;
  else importWindow.lastAt = now;
}
/** Fixed one-second windows for `perSecond`: the window's start and how many it let through. */
let windowStart = 0;
let windowCount = 0;

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const latency = Number(url.searchParams.get('latency') ?? process.env.LATENCY_MS ?? 0);
  // Hidden limits (what an API enforces without saying so): `maxInFlight`
  // concurrent imports, or `perSecond` imports per one-second window; beyond
  // them, 429 (with a Retry-After to the window's end for `perSecond`).
  // `limitUntil` (Unix ms): the hidden limits hold until then, then lift.
  const limitUntil = Number(url.searchParams.get('limitUntil') ?? Infinity);
  const maxInFlight = Date.now() < limitUntil ? Number(url.searchParams.get('maxInFlight') ?? 0) : 0;
  const perSecond = Date.now() < limitUntil ? Number(url.searchParams.get('perSecond') ?? 0) : 0;
  if (url.pathname === '/import') {
    importWindowChanges(1);
    res.on('finish', () => importWindowChanges(-1));
  }
  if (url.pathname === '/import' && (maxInFlight > 0 || perSecond > 0)) {
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      windowCount = 0;
    }
    const overConcurrency = maxInFlight > 0 && importing >= maxInFlight;
    const overRate = perSecond > 0 && windowCount >= perSecond;
    if (overConcurrency || overRate) {
      rejected++;
      trace?.push(`${(performance.timeOrigin + performance.now()).toFixed(2)} 429 ${importing}`);
      req.resume();
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      // Seconds with a fraction (Sluice reads them): an HTTP date's 1 s resolution would say "now" or "a second" at random.
      if (overRate) headers['retry-after'] = ((windowStart + 1000 - now) / 1000).toFixed(3);
      res.writeHead(429, headers);
      res.end('{"error":"rate limited"}');
      return;
    }
    windowCount++;
    importingChanges(1);
    res.on('finish', () => importingChanges(-1));
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const answer = (): void => {
      if (url.pathname === '/orders') {
        trace?.push(`${(performance.timeOrigin + performance.now()).toFixed(2)} orders ${importing}`);
        const at = performance.timeOrigin + performance.now();
        firstRequestAt.push(at);
        for (const w of arrivalWaiters.splice(0)) w.end(JSON.stringify({ at }));
        const total = Number(url.searchParams.get('total') ?? 0);
        const page = Number(url.searchParams.get('page') ?? 1);
        const per = Number(url.searchParams.get('per_page') ?? 100);
        const from = (page - 1) * per;
        const data = [];
        for (let i = from; i < Math.min(total, from + per); i++) data.push({ id: i + 1, total: i * 3 });
        const body = JSON.stringify({ data });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else if (url.pathname === '/import' && url.searchParams.get('refuse') === '1') {
        // A permanent refusal of every record (the retryErrors case's first pass).
        res.writeHead(400, { 'content-type': 'application/json', 'content-length': 20 });
        res.end('{"error":"refused"}\n');
      } else if (url.pathname === '/import') {
        imported++;
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': 2 });
        res.end('{}');
      } else if (url.pathname === '/arrival') {
        // A long poll, so that waiting for the request costs the endpoint nothing meanwhile.
        res.writeHead(200, { 'content-type': 'application/json' });
        arrivalWaiters.push(res);
      } else if (url.pathname === '/arrivalWaiters') {
        // How many /arrival polls wait: the latency case enqueues only once its poll is in place (a loaded machine can take longer than any fixed pause).
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ waiting: arrivalWaiters.length }));
      } else if (url.pathname === '/window') {
        // Read and start over: the next window begins at the next /import.
        const { count, firstAt, lastAt, busyMs, msAtInFlight: at } = importWindow;
        const body = JSON.stringify({ count, firstAt, lastAt, busyMs: Math.round(busyMs), msAtInFlight: Array.from(at, (ms) => Math.round(ms ?? 0)), inFlight: importWindow.inFlight });
        Object.assign(importWindow, { count: 0, firstAt: 0, lastAt: 0, since: performance.timeOrigin + performance.now(), busyMs: 0, msAtInFlight: [] });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      } else if (url.pathname === '/stats') {
        importingChanges(0);
        const body = JSON.stringify({ imported, firstRequestAt, rejected, msAtInFlight: msAtInFlight.map((ms) => Math.round(ms ?? 0)) });
        firstRequestAt = [];
        msAtInFlight = [];
        if (trace) require('node:fs').writeFileSync(process.env.BENCH_ENDPOINT_TRACE as string, trace.splice(0).join('\n'));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      } else {
        res.writeHead(404);
        res.end();
      }
    };
    if (latency > 0) setTimeout(answer, latency);
    else answer();
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
