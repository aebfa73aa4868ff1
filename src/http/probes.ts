/**
 * The port, opened first thing at start and closed last at stop, and the
 * probes it answers whatever the rest of the process is doing:
 *
 * - `GET|HEAD /livez`: 200 while the process runs (a liveness probe never
 *   restarts a process for a database outage, which a restart cannot fix).
 * - `GET|HEAD /healthz`: readiness. 503 while starting (waiting for the
 *   database, migrating) and while stopping; once serving, 200 while the
 *   database answers, 503 while it does not.
 * - `GET|HEAD /metrics`: Prometheus text, also while starting and while the
 *   database is away (its gauges keep their last reading, engineMetrics.ts).
 *
 * Everything else goes to the server that `serve()` hands it (server.ts),
 * which never listens itself: its `request` and `upgrade` events come from
 * here. Before that, and once `stopServing()` was called, /graphql answers
 * 503 with a GraphQL-shaped error and a Retry-After.
 *
 * Phases: starting → serving (→ draining) → stopping (a start that fails
 * goes from starting straight to closed).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';

export type PortPhase =
  | { kind: 'starting' }
  /** `draining`: a shutdown lets running work finish; the API still answers, readiness says 503. */
  | { kind: 'serving'; server: http.Server; isReady: () => Promise<boolean>; draining: boolean }
  | { kind: 'stopping' };

export interface OpenPort {
  url: string;
  port: number;
  /** From now on requests other than the probes go to `server`; /healthz asks `isReady`. */
  serve(server: http.Server, isReady: () => Promise<boolean>): void;
  /** A shutdown began: /healthz says 503 (stopping) so that load balancers move on; requests are still served. */
  drain(): void;
  /** /healthz says 503 and new API requests are refused; the probes and /metrics go on. */
  stopServing(): void;
  /** Closes the port and every connection still open on it. */
  close(): Promise<void>;
}

export interface OpenPortOptions {
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  /** false for ROLE=worker: /graphql is not found rather than unavailable. */
  serveApi: boolean;
}

/** What a client waiting for the API is told to wait before it asks again. */
const RETRY_AFTER_S = 2;

const PROBE_ROUTES = new Set(['/livez', '/healthz', '/metrics']);

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    ...headers,
  });
  // For HEAD, Node sends the headers only.
  res.end(body);
}

function unavailable(res: ServerResponse, why: string): void {
  send(res, 503, JSON.stringify({ errors: [{ message: why }] }), { 'retry-after': String(RETRY_AFTER_S) });
}

const WHY = {
  starting: 'Sluice is starting (waiting for its database or migrating); retry in a few seconds',
  stopping: 'Sluice is shutting down; retry against another instance',
} as const;

export async function openPort(options: OpenPortOptions): Promise<OpenPort> {
  const { logger, metrics } = options;
  let phase: PortPhase = { kind: 'starting' };

  const probe = async (req: IncomingMessage, res: ServerResponse, route: string): Promise<void> => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      metrics.httpRequests.inc({ route, method: req.method ?? 'GET', status: String(res.statusCode) });
      metrics.httpDuration.observe({ route, method: req.method ?? 'GET' }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, JSON.stringify({ error: `use GET or HEAD on ${route}` }), { allow: 'GET, HEAD' });
      return;
    }
    switch (route) {
      case '/livez':
        send(res, 200, JSON.stringify({ status: 'alive' }));
        return;
      case '/healthz': {
        const status = await readiness(phase);
        send(res, status === 'ok' ? 200 : 503, JSON.stringify({ status }));
        return;
      }
      case '/metrics':
        send(res, 200, await metrics.registry.metrics(), { 'content-type': metrics.registry.contentType });
        return;
    }
  };

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (PROBE_ROUTES.has(path)) {
      probe(req, res, path).catch((error: unknown) => {
        logger.error({ err: error, path }, 'a probe failed');
        if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'internal server error' }));
        else res.end();
      });
      return;
    }
    const current = phase;
    switch (current.kind) {
      case 'serving':
        current.server.emit('request', req, res);
        return;
      case 'starting':
      case 'stopping':
        if (path === '/graphql' && options.serveApi) unavailable(res, WHY[current.kind]);
        else send(res, 404, JSON.stringify({ error: 'not found' }));
        return;
      default: {
        const unreachable: never = current;
        throw new Error(`unknown port phase ${JSON.stringify(unreachable)}`);
      }
    }
  });
  // WebSockets (graphql-ws) upgrade through the serving server; none before or after.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (phase.kind === 'serving') {
      phase.server.emit('upgrade', req, socket, head);
      return;
    }
    socket.end(`HTTP/1.1 503 Service Unavailable\r\nretry-after: ${RETRY_AFTER_S}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'HTTP server error'));
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostForUrl}:${address.port}`;
  logger.info({ host: address.address, port: address.port, url, api: options.serveApi }, 'listening (probes answer; not ready yet)');

  return {
    url,
    port: address.port,
    serve(inner, isReady) {
      phase = { kind: 'serving', server: inner, isReady, draining: false };
    },
    drain() {
      if (phase.kind === 'serving') phase = { ...phase, draining: true };
    },
    stopServing() {
      phase = { kind: 'stopping' };
    },
    async close() {
      phase = { kind: 'stopping' };
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

async function readiness(phase: PortPhase): Promise<'ok' | 'starting' | 'stopping' | 'database unavailable'> {
  switch (phase.kind) {
    case 'starting':
      return 'starting';
    case 'stopping':
      return 'stopping';
    case 'serving':
      if (phase.draining) return 'stopping';
      return (await phase.isReady()) ? 'ok' : 'database unavailable';
    default: {
      const unreachable: never = phase;
      throw new Error(`unknown port phase ${JSON.stringify(unreachable)}`);
    }
  }
}
