/**
 * One Node HTTP server for everything: GraphQL over HTTP (POST and GET
 * /graphql, Apollo Server), GraphQL over WebSocket on the same path
 * (graphql-ws, graphql-transport-ws). It never listens itself: the port
 * (probes.ts) is opened before the database and answers /livez, /healthz and
 * /metrics; it hands this server every other request once it is ready.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { Gauge } from 'prom-client';
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { GraphQLError, GraphQLSchema } from 'graphql';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { RequestContext, Viewer } from '../schema/common/context';
import { unauthenticated } from '../schema/common/errors';
import { createLoaders } from '../schema/common/loaders';
import type { Services } from '../schema/services';
import { viewerFor } from './authenticate';
import { serveConsole, wantsExplorer, type ConsoleBundle } from './consoleBundle';
import { CostBudget } from './costBudget';
import { corsFor } from './cors';
import { credentialEchoPlugin } from './credentialEchoes';
import { ListSizeReader } from './listSizes';
import { OperationGate, refusalReason } from './operationGate';
import { isTokenLimitError, PARSE_OPTIONS, tokenLimitError } from './requestLimits';
import type { RequestsInProgress } from './requestsInProgress';
import { startWebSocketServer } from './websocket';
import type { OpenPort } from './probes';
import { AccessLog } from './accessLog';
import { RefusalAllowance } from './refusalAllowance';
import { REMEMBERED_REFUSALS } from './refusalMemory';

const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpServerOptions {
  schema: GraphQLSchema;
  services: Services;
  logger: Logger;
  metrics: Metrics;
  /** The port opened at start (probes.ts): it hands this server its requests. */
  port: OpenPort;
  /** Whether this process is ready: the database answers and migrations ran. */
  isHealthy: () => Promise<boolean>;
  /** false for ROLE=worker: only the probes and /metrics are served. */
  serveApi: boolean;
  /** The web console served at GET / and the explorer at GET /graphql for browsers (consoleBundle.ts); none for ROLE=worker. */
  console?: ConsoleBundle | null;
  /** A socket that never sends connection_init is closed (4408) after this. */
  connectionInitTimeoutMs: number;
  /** Origins browsers may call the API from (CORS_ORIGINS). */
  corsOrigins: readonly string[];
  maxSocketsPerToken: number;
  maxSubscriptionsPerToken: number;
  /** Told how long each GraphQL request over HTTP took, request to response finished (the engine's API share). */
  onGraphqlServed?: (durationMs: number) => void;
  /** Kept up to date with the GraphQL requests over HTTP not answered yet (the engine's API share). */
  graphqlInProgress?: RequestsInProgress;
}

export interface RunningHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function metricsPlugin(metrics: Metrics): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      let type = 'unknown';
      return {
        async didResolveOperation({ operation }) {
          type = operation?.operation ?? 'unknown';
        },
        async willSendResponse({ response }) {
          const failed = response.body.kind === 'single' && (response.body.singleResult.errors?.length ?? 0) > 0;
          metrics.graphqlOperations.inc({ type, outcome: failed ? 'error' : 'ok' });
        },
      };
    },
  };
}

/**
 * What Apollo's cache-control plugin answered for every Sluice response (no
 * field has a cache hint, so every response was uncacheable): the plugin
 * itself is off, because it wraps every field's resolver to collect hints
 * that never exist, a cost on every field of every request.
 */
const noStore: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        response.http.headers.set('cache-control', 'no-store');
      },
    };
  },
};

/**
 * Apollo's features Sluice does not use, off explicitly: cache hints (noStore
 * above keeps the header), its landing page, and reporting to Apollo's cloud (usage, schema,
 * traces), which an APOLLO_KEY in the environment would otherwise switch on
 * and which could carry operation variables out of the process.
 */
const UNUSED_APOLLO_FEATURES = [
  ApolloServerPluginCacheControlDisabled(),
  ApolloServerPluginUsageReportingDisabled(),
  ApolloServerPluginSchemaReportingDisabled(),
  ApolloServerPluginInlineTraceDisabled(),
  // Its landing page loads Apollo Sandbox from a CDN; browsers get the console's explorer instead (consoleBundle.ts).
  ApolloServerPluginLandingPageDisabled(),
];

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      reject(new BodyTooLarge());
      return;
    }
    let size = 0;
    const chunks: Buffer[] = [];
    const collect = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Not req.destroy(): that would take the socket, and the 413, with it.
        // The rest is discarded unread and the 413 closes the connection.
        req.off('data', collect);
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', collect);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string, contentType = 'application/json; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A GraphQL error response of our own, in the shape Apollo answers with. */
function sendErrors(res: ServerResponse, status: number, errors: { message: string; extensions?: Record<string, unknown> }[]): void {
  send(res, status, JSON.stringify({ errors }));
}

/** An error's message and code, without its HTTP status (that goes in the response's status line). */
function asResponseError(error: GraphQLError): { message: string; extensions: Record<string, unknown> } {
  const { http: _http, ...extensions } = error.extensions as Record<string, unknown>;
  return { message: error.message, extensions };
}

/** The query and variables of a GET (?query=…&variables=…) or of a POST's JSON body, for the checks made before Apollo parses. */
function operationOf(method: string, url: URL, body: unknown): { query: unknown; variables: unknown; operationName: unknown } {
  if (method === 'GET') {
    let variables: unknown = undefined;
    try {
      variables = JSON.parse(url.searchParams.get('variables') ?? 'null');
    } catch {
      variables = undefined; // Apollo answers the malformed variables itself.
    }
    return { query: url.searchParams.get('query'), variables, operationName: url.searchParams.get('operationName') ?? undefined };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { query: undefined, variables: undefined, operationName: undefined };
  const { query, variables, operationName } = body as { query?: unknown; variables?: unknown; operationName?: unknown };
  return { query, variables, operationName };
}

function routeOf(path: string): string {
  return path === '/graphql' || path === '/healthz' || path === '/metrics' ? path : 'other';
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { schema, services, logger, metrics } = options;
  const accessLog = new AccessLog(logger);
  const listSizes = new ListSizeReader(services.sql);
  const budget = new CostBudget();
  const gate = new OperationGate(schema, listSizes, budget);
  const allowance = new RefusalAllowance();
  new Gauge({
    name: 'sluice_graphql_remembered_refusals',
    help: `Refused documents whose refusal is remembered by their text (at most ${REMEMBERED_REFUSALS})`,
    registers: [metrics.registry],
    collect() {
      this.set(gate.refusals.size.entries);
    },
  });
  const cors = corsFor(options.corsOrigins);

  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: true,
    // Auth is a bearer header that browsers never attach on their own, so
    // cross-site requests cannot act as a user; GET queries stay plain curl-able.
    csrfPrevention: false,
    // Shutdown is main.ts's job (drain first); Apollo would otherwise re-raise the signal itself.
    stopOnTerminationSignals: false,
    // The limits were checked before (operationGate.ts); the parser's token limit stays, in case.
    parseOptions: PARSE_OPTIONS,
    // Automatic persisted queries off: a request carrying only a hash has no
    // text for the gate to check, so a query registered cheap could be
    // replayed with other variables past the cost limit and the busy budget.
    persistedQueries: false,
    // No "Did you mean …?" in validation errors (requestLimits.ts, withoutSuggestions).
    hideSchemaDetailsFromClientErrors: true,
    plugins: [accessLog.plugin(), metricsPlugin(metrics), credentialEchoPlugin, noStore, ...UNUSED_APOLLO_FEATURES],
    includeStacktraceInErrorResponses: false,
    // An unexpected error is the server's, not the client's: log it whole,
    // answer without PostgreSQL's wording (constraint names, values).
    formatError: (formatted, error) => {
      // The token limit is graphql-js's parser's: named and coded as the other limits are.
      if (formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' && isTokenLimitError(formatted)) return asResponseError(tokenLimitError());
      if (formatted.extensions?.code !== 'INTERNAL_SERVER_ERROR') return formatted;
      logger.error({ err: error, path: formatted.path }, 'unexpected error in a GraphQL operation');
      return { ...formatted, message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    },
    logger: {
      debug: (m) => logger.debug(m),
      info: (m) => logger.info(m),
      warn: (m) => logger.warn(m),
      error: (m) => logger.error(m),
    },
  });
  await apollo.start();

  /**
   * The token first: a request without a live one is answered 401 before its
   * body is read, so it costs no parse, no validation, nothing but the
   * token's lookup (contract: "requests").
   *
   * `refusal` is told of a refused operation and keeps its answer back
   * once its token has used up its allowance of refusals
   * (refusalAllowance.ts).
   */
  async function handleGraphql(req: IncomingMessage, res: ServerResponse, url: URL, refusal: (holdMs: number) => Promise<void>): Promise<void> {
    const viewer: Viewer | null = await viewerFor(services.tokens, req.headers.authorization);
    if (!viewer) {
      res.setHeader('www-authenticate', 'Bearer');
      sendErrors(res, 401, [asResponseError(unauthenticated())]);
      return;
    }
    let body: unknown = undefined;
    if (req.method === 'POST') {
      const text = await readBody(req);
      if ((req.headers['content-type'] ?? '').includes('application/json')) {
        try {
          body = text.length > 0 ? JSON.parse(text) : undefined;
        } catch {
          send(res, 400, JSON.stringify({ errors: [{ message: 'the request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] }));
          return;
        }
      } else {
        body = text;
      }
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const { query, variables, operationName } = operationOf(method, url, body);
    // Not a string: not a GraphQL request, which Apollo answers itself.
    if (typeof query === 'string') {
      let admission: Awaited<ReturnType<OperationGate['admit']>>;
      try {
        admission = await gate.admit({ query, variables, operationName: typeof operationName === 'string' ? operationName : undefined });
      } catch (error) {
        // The cost estimate reads list sizes from the database: its failure is the server's, answered as any other.
        logger.error({ err: error }, 'unexpected error in a GraphQL operation');
        sendErrors(res, 500, [{ message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
        return;
      }
      if (admission.kind === 'refused') {
        const status = Math.max(...admission.errors.map((e) => Number((e.extensions.http as { status?: number } | undefined)?.status ?? 400)));
        metrics.graphqlRefusals.inc({ reason: refusalReason(admission.errors), remembered: String(admission.remembered) });
        await refusal(allowance.refused(viewer.tokenId, performance.now()));
        if (!res.destroyed) sendErrors(res, status, admission.errors.map(asResponseError));
        return;
      }
      res.once('close', admission.giveBack);
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method, headers, search: url.search, body },
      context: () => accessLog.bind(req, Promise.resolve({ viewer, services, loaders: createLoaders(services) })),
    });
    // graphql-js refused it (a syntax or validation error): a refusal as the gate's are.
    if (result.status === 400) {
      metrics.graphqlRefusals.inc({ reason: 'invalid', remembered: 'false' });
      await refusal(allowance.refused(viewer.tokenId, performance.now()));
      if (res.destroyed) return;
    }
    const responseHeaders: Record<string, string> = {};
    for (const [key, value] of result.headers) responseHeaders[key] = value;
    res.writeHead(result.status ?? 200, responseHeaders);
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routeOf(url.pathname);
    let answered = (): void => undefined;
    if (route === '/graphql' && options.serveApi && options.graphqlInProgress) {
      answered = options.graphqlInProgress.begin(performance.now());
      res.on('close', answered);
    }
    /**
     * A refused operation is not the API's work that the engine's API share
     * makes room for (src/engine/limit/apiShare.ts): it is answered without
     * the database, its hold is on purpose, and a flood of fast refusals
     * would make the API look fast while its real operations wait.
     */
    let refused = false;
    const refusal = async (holdMs: number): Promise<void> => {
      refused = true;
      answered();
      if (holdMs <= 0) return;
      metrics.graphqlRefusalsHeld.inc();
      await new Promise<void>((resolve) => setTimeout(resolve, holdMs).unref());
    };
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequests.inc({ route, method: req.method ?? 'GET', status: String(res.statusCode) });
      metrics.httpDuration.observe({ route, method: req.method ?? 'GET' }, seconds);
      if (route === '/graphql' && options.serveApi) {
        if (!refused) options.onGraphqlServed?.(seconds * 1000);
        accessLog.finished(req, res.statusCode, seconds * 1000);
      }
    });
    const handle = async (): Promise<void> => {
      if (url.pathname === '/graphql' && options.serveApi && options.console && wantsExplorer(req, url)) {
        if (!serveConsole(options.console, req, res, url)) send(res, 404, JSON.stringify({ error: 'not found' }));
      } else if (url.pathname === '/graphql' && options.serveApi) {
        if ((await cors(req, res)) === 'answered') return;
        if (req.method !== 'GET' && req.method !== 'POST') {
          res.setHeader('allow', 'GET, POST');
          send(res, 405, JSON.stringify({ errors: [{ message: 'use GET or POST on /graphql' }] }));
          return;
        }
        await handleGraphql(req, res, url, refusal);
      } else if (options.serveApi && options.console && serveConsole(options.console, req, res, url)) {
        // answered by the console
      } else {
        send(res, 404, JSON.stringify({ error: 'not found' }));
      }
    };
    handle().catch((error: unknown) => {
      if (error instanceof BodyTooLarge) {
        if (!res.headersSent) {
          res.setHeader('connection', 'close');
          send(res, 413, JSON.stringify({ errors: [{ message: `the request body exceeds ${MAX_BODY_BYTES} bytes` }] }));
        }
        return;
      }
      logger.error({ err: error, path: url.pathname }, 'request failed');
      if (!res.headersSent) send(res, 500, JSON.stringify({ errors: [{ message: 'internal server error' }] }));
      else res.end();
    });
  });

  const websocket = options.serveApi
    ? startWebSocketServer(server, {
        schema,
        services,
        gate,
        connectionInitTimeoutMs: options.connectionInitTimeoutMs,
        maxSocketsPerToken: options.maxSocketsPerToken,
        maxSubscriptionsPerToken: options.maxSubscriptionsPerToken,
        refused: async (tokenId, reason, remembered) => {
          metrics.graphqlRefusals.inc({ reason, remembered: String(remembered) });
          const ms = allowance.refused(tokenId, performance.now());
          if (ms <= 0) return;
          metrics.graphqlRefusalsHeld.inc();
          await new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
        },
      })
    : null;

  options.port.serve(server, options.isHealthy);

  return {
    url: options.port.url,
    port: options.port.port,
    async close() {
      options.port.stopServing();
      await websocket?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await apollo.stop();
    },
  };
}
