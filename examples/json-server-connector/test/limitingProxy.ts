/**
 * A tiny HTTP proxy in front of the application that plays the rate limiter
 * (or the load balancer) json-server does not have: for the requests that
 * `refuse` picks it answers by itself, forwarding nothing; every other
 * request goes through to the application and back.
 */
import http from 'node:http';

export interface Refusal {
  status: number;
  headers?: Record<string, string>;
  /** Hold the request this long before answering (to play an application that does not answer in time). */
  holdMs?: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
}

export interface LimitingProxy {
  url: string;
  /** What the proxy answered (or held) by itself, in order. */
  refused: (ProxiedRequest & { status: number })[];
  /** What went through to the application, in order. */
  forwarded: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * `refuse` also gets how many requests came before this one (0-based);
 * `extraHeaders` adds headers to an answer that went through (say,
 * RateLimit-Remaining as a limiter in front of the application would).
 */
export async function startLimitingProxy(
  target: string,
  refuse: (req: ProxiedRequest, n: number) => Refusal | undefined,
  extraHeaders: (req: ProxiedRequest) => Record<string, string> | undefined = () => undefined,
): Promise<LimitingProxy> {
  const targetUrl = new URL(target);
  const refused: LimitingProxy['refused'] = [];
  const forwarded: ProxiedRequest[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const seen: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/' };
    const refusal = refuse(seen, n++);
    if (refusal) {
      req.resume();
      refused.push({ ...seen, status: refusal.status });
      const answer = (): void => {
        res.writeHead(refusal.status, { 'content-type': 'application/json', ...refusal.headers });
        res.end(JSON.stringify({ error: `refused by the test proxy (${refusal.status})` }));
      };
      if (!refusal.holdMs) return answer();
      const timer = setTimeout(answer, refusal.holdMs);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    forwarded.push(seen);
    const upstream = http.request(
      { host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers: { ...req.headers, host: targetUrl.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...extraHeaders(seen) });
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    refused,
    forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
