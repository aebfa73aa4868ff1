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
}

export interface RecordingApi extends FakeApi {
  inFlight: number;
  maxInFlight: number;
  /** Paths of requests in arrival order. */
  arrivals: string[];
  /** Bodies POSTed to /import, parsed. */
  imported: unknown[];
  importKeys: string[];
  options: RecordingApiOptions;
}

export async function startRecordingApi(options: RecordingApiOptions = {}): Promise<RecordingApi> {
  const api = (await startFakeApi()) as RecordingApi;
  api.inFlight = 0;
  api.maxInFlight = 0;
  api.arrivals = [];
  api.imported = [];
  api.importKeys = [];
  api.options = options;
  api.handle(async (req, res) => {
    api.inFlight++;
    api.maxInFlight = Math.max(api.maxInFlight, api.inFlight);
    api.arrivals.push(req.path);
    try {
      if (api.options.latencyMs) await new Promise((r) => setTimeout(r, api.options.latencyMs));
      if (api.options.override && (await api.options.override(req, res))) return;
      const url = new URL(req.path, 'http://x');
      if (url.pathname === '/orders') {
        const page = Number(url.searchParams.get('page') ?? 1);
        const per = Number(url.searchParams.get('per_page') ?? 100);
        const all = api.options.orders ?? [];
        json(res, 200, { data: all.slice((page - 1) * per, page * per) });
      } else if (url.pathname.startsWith('/import')) {
        const body = JSON.parse(req.body) as unknown;
        api.imported.push(body);
        api.importKeys.push(String(req.headers['idempotency-key']));
        json(res, 201, { ok: true });
      } else {
        json(res, 200, { path: url.pathname });
      }
    } finally {
      api.inFlight--;
    }
  });
  return api;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function orders(n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, customerId: `c${(i % 7) + 1}`, total: (i + 1) * 10 }));
}
