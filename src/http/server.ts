/**
 * One Node HTTP server for everything: GraphQL over HTTP (POST and GET
 * /graphql, Apollo Server), GraphQL over WebSocket on the same path
 * (graphql-ws, graphql-transport-ws). It never listens itself: the port
 * (probes.ts) is opened before the database and answers /livez, /healthz and
 * /metrics; it hands this server every other request once it is ready.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { specifiedRules, validate, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { RequestContext, Viewer } from '../schema/common/context';
import { badUserInput, unauthenticated } from '../schema/common/errors';
import { createLoaders } from '../schema/common/loaders';
import type { Services } from '../schema/services';
import { viewerFor } from './authenticate';
import { serveConsole, wantsExplorer, type ConsoleBundle } from './consoleBundle';
import { credentialEchoPlugin, withoutCredentialEchoes } from './credentialEchoes';
import { requestSizeRule } from './requestLimits';
import type { RequestsInProgress } from './requestsInProgress';
import type { OpenPort } from './probes';
import { AccessLog } from './accessLog';

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_WS_PAYLOAD_BYTES = 256 * 1024;
const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/** How soon an open socket notices that its token was revoked. */
const TOKEN_RECHECK_MS = 2000;

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

/** Every operation needs a live token; which role each field needs is the auth checker's business. */
const requireViewer: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ contextValue }) {
        if (!contextValue.viewer) throw unauthenticated();
      },
    };
  },
};

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

function routeOf(path: string): string {
  return path === '/graphql' || path === '/healthz' || path === '/metrics' ? path : 'other';
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { schema, services, logger, metrics } = options;
  const accessLog = new AccessLog(logger);
  const contextFor = async (authorization: unknown): Promise<RequestContext> => ({
    viewer: await viewerFor(services.tokens, authorization),
    services,
    loaders: createLoaders(services),
  });

  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: true,
    // Auth is a bearer header that browsers never attach on their own, so
    // cross-site requests cannot act as a user; GET queries stay plain curl-able.
    csrfPrevention: false,
    // Shutdown is main.ts's job (drain first); Apollo would otherwise re-raise the signal itself.
    stopOnTerminationSignals: false,
    validationRules: [requestSizeRule],
    plugins: [accessLog.plugin(), requireViewer, metricsPlugin(metrics), credentialEchoPlugin, noStore, ...UNUSED_APOLLO_FEATURES],
    includeStacktraceInErrorResponses: false,
    // An unexpected error is the server's, not the client's: log it whole,
    // answer without PostgreSQL's wording (constraint names, values).
    formatError: (formatted, error) => {
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

  async function handleGraphql(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
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
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body },
      context: () => accessLog.bind(req, contextFor(req.headers.authorization)),
    });
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
    if (route === '/graphql' && options.serveApi && options.graphqlInProgress) {
      const answered = options.graphqlInProgress.begin(performance.now());
      res.on('close', answered);
    }
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequests.inc({ route, method: req.method ?? 'GET', status: String(res.statusCode) });
      metrics.httpDuration.observe({ route, method: req.method ?? 'GET' }, seconds);
      if (route === '/graphql' && options.serveApi) {
        options.onGraphqlServed?.(seconds * 1000);
        accessLog.finished(req, res.statusCode, seconds * 1000);
      }
    });
    const handle = async (): Promise<void> => {
      if (url.pathname === '/graphql' && options.serveApi && options.console && wantsExplorer(req, url)) {
        if (!serveConsole(options.console, req, res, url)) send(res, 404, JSON.stringify({ error: 'not found' }));
      } else if (url.pathname === '/graphql' && options.serveApi) {
        if (req.method !== 'GET' && req.method !== 'POST') {
          res.setHeader('allow', 'GET, POST');
          send(res, 405, JSON.stringify({ errors: [{ message: 'use GET or POST on /graphql' }] }));
          return;
        }
        await handleGraphql(req, res, url);
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

  let wsCleanup: { dispose: () => void | Promise<void> } | null = null;
  let wss: WebSocketServer | null = null;
  if (options.serveApi) {
    wss = new WebSocketServer({ server, path: '/graphql', maxPayload: MAX_WS_PAYLOAD_BYTES });
    wsCleanup = useServer<Record<string, unknown> | undefined, { viewer?: Viewer | null; tokenCheck?: NodeJS.Timeout }>(
      {
        schema,
        connectionInitWaitTimeout: options.connectionInitTimeoutMs,
        onConnect: async (ctx) => {
          const viewer = await viewerFor(services.tokens, ctx.connectionParams?.authorization);
          if (!viewer) return false; // graphql-ws closes with 4403 Forbidden
          // Closed while the token was looked up (a second connection_init, a
          // client gone): onClose has run, so a re-check started now would never stop.
          if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
          ctx.extra.viewer = viewer;
          // A subscription may outlive its token: a revoked token closes the socket.
          ctx.extra.tokenCheck = setInterval(() => {
            services.tokens
              .isLive(viewer.tokenId)
              .then((live) => {
                if (!live) ctx.extra.socket.close(4403, 'Forbidden');
              })
              .catch(() => undefined);
          }, TOKEN_RECHECK_MS);
          ctx.extra.tokenCheck.unref();
          return true;
        },
        onClose: (ctx) => clearInterval(ctx.extra.tokenCheck),
        // The viewer was read at connection_init: ask again per operation, so
        // that a token revoked since cannot go on acting through an open socket.
        onSubscribe: async (ctx) => {
          // One socket may not hold the server's memory and LISTEN fan-out hostage.
          // ctx.subscriptions already holds the one being subscribed.
          if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET) {
            return [badUserInput(`at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} operations may run at once on one socket; open another socket`)];
          }
          const viewer = ctx.extra.viewer;
          if (viewer && (await services.tokens.isLive(viewer.tokenId))) return undefined;
          ctx.extra.socket.close(4403, 'Forbidden');
          return [unauthenticated()];
        },
        context: (ctx): RequestContext => ({
          viewer: ctx.extra.viewer ?? null,
          services,
          loaders: createLoaders(services),
        }),
        validate: (schema, document) => validate(schema, document, [...specifiedRules, requestSizeRule]),
        // As over HTTP: a coercion error must not repeat credentials (credentialEchoes.ts).
        onNext: (_ctx, _id, payload, _args, result) =>
          result.errors ? { ...result, errors: withoutCredentialEchoes(result.errors.map((e) => e.toJSON()), payload.variables) } : undefined,
      },
      wss,
    );
  }

  options.port.serve(server, options.isHealthy);

  return {
    url: options.port.url,
    port: options.port.port,
    async close() {
      options.port.stopServing();
      await wsCleanup?.dispose();
      wss?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await apollo.stop();
    },
  };
}
