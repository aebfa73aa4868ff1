/**
 * A fake external application that behaves like a paged REST API and records
 * what a queue engine must be judged by: the most requests it had in flight at
 * once, the order requests arrived in, and every body it was sent.
 */
import type { ServerResponse } from 'node:http';
import { startFakeApi, type FakeApi, type ReceivedRequest } from './fakeApi';

export interface RecordingApiOptions {
  /** Records served by GET /orders?page=&per_page= (page paging, 1-based). */
  orders?: Record<string, unknown>[];
  /** How long every response takes. */
  latencyMs?: number;
  /** Overrides the answer for some requests; return true when it answered. */
  override?: (req: ReceivedRequest, res: ServerResponse) => boolean | Promise<boolean>;
  /**
   * Plays an unreliable endpoint (after `latencyMs`, before `override`):
   * what goes wrong with this request, if anything. See `EndpointFault`.
   */
  fault?: (req: ReceivedRequest) => EndpointFault | undefined;
  /**
   * Holds each matching request until `count` of them are held together (or
   * `maxWaitMs` pass), then answers them all: a test that expects a level to
   * be reached then shows it whatever the machine's load, and one call too
   * many still shows as a peak above it. Applied after `latencyMs`.
   */
  gather?: { match: (path: string) => boolean; count: number; maxWaitMs?: number };
}

/**
 * - `drop`: the connection is destroyed mid-request, nothing answered or done.
 * - `hang`: never answered; held until the client gives up (its timeout).
 * - `answerLost`: the request is carried out (an import is recorded as
 *   imported), then the connection is destroyed instead of answering: the
 *   client cannot tell it from `drop`, which is why imports carry an
 *   Idempotency-Key.
 */
export type EndpointFault = 'drop' | 'hang' | 'answerLost';

export interface RecordingApi extends FakeApi {
  inFlight: number;
  maxInFlight: number;
  /** Paths of requests in arrival order. */
  arrivals: string[];
  /** The same, with the time (Date.now()) each arrived. */
  arrivalTimes: { path: string; at: number }[];
  /** Bodies POSTed to /import, parsed. */
  imported: unknown[];
  importKeys: string[];
  /** Paths of requests whose client went away (aborted the call) before they were answered. */
  aborted: string[];
  /** The requests that `options.fault` made go wrong, with how, in arrival order. */
  faults: { request: ReceivedRequest; fault: EndpointFault }[];
  /**
   * The most requests whose path matches that were in flight at once, e.g.
   * `api.peakInFlight((p) => p.startsWith('/import'))`: replays every arrival
   * and answer in the order they happened.
   */
  peakInFlight(match: (path: string) => boolean): number;
  options: RecordingApiOptions;
}

export async function startRecordingApi(options: RecordingApiOptions = {}): Promise<RecordingApi> {
  const api = (await startFakeApi()) as RecordingApi;
  api.inFlight = 0;
  api.maxInFlight = 0;
  api.arrivals = [];
  api.arrivalTimes = [];
  api.imported = [];
  api.importKeys = [];
  api.aborted = [];
  api.faults = [];
  api.options = options;
  // +1 when a request arrives, -1 when it is answered, in the order they happen.
  const changes: { path: string; delta: 1 | -1 }[] = [];
  api.peakInFlight = (match) => {
    let now = 0;
    let peak = 0;
    for (const c of changes) {
      if (!match(c.path)) continue;
      now += c.delta;
      peak = Math.max(peak, now);
    }
    return peak;
  };
  // `gather`: the requests held now, each by the function that releases it.
  let held: (() => void)[] = [];
  const gathered = async ({ count, maxWaitMs = 1000 }: NonNullable<RecordingApiOptions['gather']>): Promise<void> => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    held.push(release);
    if (held.length >= count) for (const r of held.splice(0)) r();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([released, new Promise((r) => (timer = setTimeout(r, maxWaitMs)))]);
    clearTimeout(timer);
    held = held.filter((r) => r !== release); // gave up waiting: no longer held
  };
  api.handle(async (req, res) => {
    api.inFlight++;
    api.maxInFlight = Math.max(api.maxInFlight, api.inFlight);
    api.arrivals.push(req.path);
    api.arrivalTimes.push({ path: req.path, at: Date.now() });
    changes.push({ path: req.path, delta: 1 });
    res.on('close', () => {
      if (!res.writableEnded) api.aborted.push(req.path);
    });
    try {
      if (api.options.latencyMs) await new Promise((r) => setTimeout(r, api.options.latencyMs));
      if (api.options.gather?.match(req.path)) await gathered(api.options.gather);
      const fault = api.options.fault?.(req);
      if (fault) api.faults.push({ request: req, fault });
      if (fault === 'drop') return void res.destroy();
      // Until the client goes away; an hour stands for never.
      if (fault === 'hang') return void (await holdUnlessAborted(res, 3600000));
      if (api.options.override && (await api.options.override(req, res))) return;
      const answer = (status: number, body: unknown): void => (fault === 'answerLost' ? void res.destroy() : json(res, status, body));
      const url = new URL(req.path, 'http://x');
      if (url.pathname === '/orders') {
        const page = Number(url.searchParams.get('page') ?? 1);
        const per = Number(url.searchParams.get('per_page') ?? 100);
        const all = api.options.orders ?? [];
        answer(200, { data: all.slice((page - 1) * per, page * per) });
      } else if (url.pathname.startsWith('/import')) {
        const body = JSON.parse(req.body) as unknown;
        api.imported.push(body);
        api.importKeys.push(String(req.headers['idempotency-key']));
        answer(201, { ok: true });
      } else {
        answer(200, { path: url.pathname });
      }
    } finally {
      api.inFlight--;
      changes.push({ path: req.path, delta: -1 });
    }
  });
  return api;
}

/**
 * A fresh recording API for each test of the enclosing block, closed after
 * it. Returns a stand-in that forwards to the current test's API, so tests
 * write `api.requests`, `api.options.orders = …` as with startRecordingApi's
 * result; usable inside tests and hooks only.
 */
export function useRecordingApi(options: RecordingApiOptions = {}): RecordingApi {
  let current: RecordingApi | undefined;
  beforeEach(async () => {
    current = await startRecordingApi({ ...options }); // a copy: tests change api.options
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return new Proxy({} as RecordingApi, {
    get(_target, key) {
      if (!current) throw new Error('useRecordingApi: the API is used outside a test');
      return current[key as keyof RecordingApi];
    },
  });
}

/**
 * For an `override` that plays a slow endpoint: resolves true after `ms`, or
 * false as soon as the client goes away (its call was aborted), whichever
 * comes first.
 */
export function holdUnlessAborted(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    res.once('close', onClose);
  });
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function orders(n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, customerId: `c${(i % 7) + 1}`, total: (i + 1) * 10 }));
}
