/**
 * The access log and the request spans of GraphQL over HTTP: one log line
 * per request, written when its response is finished, and (with tracing on)
 * one span per request.
 *
 * The line says what an operator needs and nothing a client sent as data:
 * the operation's name and type, the HTTP status, how long it took, the
 * token's name (never its secret), and the error codes if any. Never the
 * variables, and never the query's text (its literals may be anything).
 *
 * How a line finds its operation: `bind()` gives a request's GraphQL
 * context the request's entry; Apollo's hooks (the plugin below) fill it in
 * from the context; `finished()`, on the response's 'finish', writes it.
 */
import type { IncomingMessage } from 'node:http';
import { SpanKind, SpanStatusCode, context as otelContext, propagation, type Span } from '@opentelemetry/api';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from '../logger';
import type { RequestContext } from '../schema/common/context';
import { tracer, tracingOn } from '../tracing';

interface Entry {
  operationName: string | null;
  operationType: string | null;
  errorCodes: string[];
  tokenName: string | null;
  span: Span | null;
}

/**
 * Where a context carries its entry. A property, not a WeakMap keyed by the
 * context: Apollo hands its hooks a copy of the context (one per operation
 * of a batch), and a copy keeps its own enumerable properties, symbols too.
 */
const ENTRY = Symbol('sluice.accessLogEntry');
type WithEntry = RequestContext & { [ENTRY]?: Entry };

export class AccessLog {
  private readonly byRequest = new WeakMap<IncomingMessage, Entry>();

  constructor(private readonly logger: Logger) {}

  /** Ties a GraphQL context to its HTTP request; returns the context. */
  async bind(req: IncomingMessage, made: Promise<RequestContext>): Promise<RequestContext> {
    const ctx = await made;
    const entry: Entry = { operationName: null, operationType: null, errorCodes: [], tokenName: ctx.viewer?.tokenName ?? null, span: null };
    this.byRequest.set(req, entry);
    (ctx as WithEntry)[ENTRY] = entry;
    return ctx;
  }

  /** The response to a GraphQL request over HTTP is finished. */
  finished(req: IncomingMessage, status: number, durationMs: number): void {
    const entry = this.byRequest.get(req);
    this.logger.info(
      {
        access: 'graphql',
        method: req.method,
        status,
        durationMs: Math.round(durationMs * 10) / 10,
        operationName: entry?.operationName ?? null,
        operationType: entry?.operationType ?? null,
        tokenName: entry?.tokenName ?? null,
        ...(entry && entry.errorCodes.length > 0 ? { errorCodes: entry.errorCodes } : {}),
      },
      'graphql request',
    );
  }

  /** Apollo's hooks: what the operation is, how it ended; and its span. */
  plugin(): ApolloServerPlugin<RequestContext> {
    const entryOf = (ctx: RequestContext): Entry | undefined => (ctx as WithEntry)[ENTRY];
    return {
      async requestDidStart({ contextValue, request }) {
        const entry = entryOf(contextValue);
        if (entry && tracingOn()) {
          // A caller's traceparent makes this request's span a child of the caller's.
          const headers = request.http?.headers;
          const parent = headers
            ? propagation.extract(otelContext.active(), headers, { get: (h, key) => h.get(key) ?? undefined, keys: (h) => [...h.keys()] })
            : otelContext.active();
          entry.span = tracer().startSpan('graphql', { kind: SpanKind.SERVER }, parent);
        }
        return {
          async didResolveOperation({ operation, operationName }) {
            if (!entry || !operation) return;
            entry.operationName = operationName ?? operation.name?.value ?? null;
            entry.operationType = operation.operation;
            entry.span?.updateName(`graphql ${entry.operationType}${entry.operationName ? ` ${entry.operationName}` : ''}`);
            entry.span?.setAttributes({
              'graphql.operation.type': entry.operationType,
              ...(entry.operationName ? { 'graphql.operation.name': entry.operationName } : {}),
            });
          },
          async willSendResponse({ response }) {
            if (!entry) return;
            const errors = response.body.kind === 'single' ? response.body.singleResult.errors ?? [] : [];
            entry.errorCodes = [...new Set(errors.map((e) => String(e.extensions?.code ?? 'UNKNOWN')))];
            if (entry.span) {
              if (entry.tokenName) entry.span.setAttribute('sluice.token.name', entry.tokenName);
              if (entry.errorCodes.length > 0) {
                entry.span.setAttribute('sluice.error_codes', entry.errorCodes);
                entry.span.setStatus({ code: SpanStatusCode.ERROR, message: entry.errorCodes.join(', ') });
              }
              entry.span.end();
              entry.span = null;
            }
          },
        };
      },
    };
  }
}
