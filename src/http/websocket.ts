/**
 * GraphQL over WebSocket (graphql-ws, graphql-transport-ws) on /graphql.
 *
 * Authentication comes first: graphql-ws closes a socket that sends
 * `subscribe` before its `connection_init` was acknowledged (4401) without
 * reading the operation, and `connection_init` is acknowledged only for a
 * live token. Every operation then goes through the same checks as over
 * HTTP, here in onSubscribe: the caps of its token (subscriptionCaps.ts),
 * its token still live, then operationGate.ts (bad strings, tokens, depth,
 * aliases, directives, cost, the cost budget), then graphql-js's rules. A
 * refused operation's errors wait for its token's allowance of refusals
 * (refusalAllowance.ts), as over HTTP.
 *
 * A socket whose client does not read what it is sent is terminated once
 * MAX_BUFFERED_BYTES wait in its send buffer: a slow reader must not hold
 * the server's memory.
 */
import type { Server } from 'node:http';
import { getOperationAST, GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { RequestContext, Viewer } from '../schema/common/context';
import { badUserInput, unauthenticated } from '../schema/common/errors';
import { createLoaders } from '../schema/common/loaders';
import type { Services } from '../schema/services';
import { viewerFor } from './authenticate';
import { withoutCredentialEchoes } from './credentialEchoes';
import { refusalReason, type OperationGate } from './operationGate';
import { PARSE_OPTIONS, withoutSuggestions } from './requestLimits';
import { SubscriptionCaps } from './subscriptionCaps';

const MAX_WS_PAYLOAD_BYTES = 256 * 1024;
const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/** A client that leaves this much unread is cut off (1 MiB). */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** How soon an open socket notices that its token was revoked. */
const TOKEN_RECHECK_MS = 2000;
/** Policy Violation: the socket broke one of the server's caps. */
const CLOSE_POLICY_VIOLATION = 1008;

export interface WebSocketOptions {
  schema: GraphQLSchema;
  services: Services;
  gate: OperationGate;
  connectionInitTimeoutMs: number;
  maxSocketsPerToken: number;
  maxSubscriptionsPerToken: number;
  /** Told of each operation refused by the gate or by validation; resolves when its answer may go (server.ts: the token's allowance of refusals). */
  refused: (tokenId: string, reason: string, remembered: boolean) => Promise<void>;
}

type SocketExtra = {
  viewer?: Viewer | null;
  tokenCheck?: NodeJS.Timeout;
  /** The operations' documents by id, for the credential-echo filter of their errors. */
  documents?: Map<string, DocumentNode>;
  /** What each running query or mutation gives back to the cost budget when it ends. */
  giveBacks?: Map<string, () => void>;
};

/** An operation ended, whichever way: its cost goes back to the budget. */
function ended(extra: SocketExtra, id: string): void {
  extra.giveBacks?.get(id)?.();
  extra.giveBacks?.delete(id);
}

export function startWebSocketServer(server: Server, options: WebSocketOptions): { close(): Promise<void> } {
  const { schema, services } = options;
  const caps = new SubscriptionCaps(options.maxSocketsPerToken, options.maxSubscriptionsPerToken);
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: MAX_WS_PAYLOAD_BYTES });
  const cleanup = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      schema,
      connectionInitWaitTimeout: options.connectionInitTimeoutMs,
      onConnect: async (ctx) => {
        const viewer = await viewerFor(services.tokens, ctx.connectionParams?.authorization);
        if (!viewer) return false; // graphql-ws closes with 4403 Forbidden
        // Closed while the token was looked up (a second connection_init, a
        // client gone): onClose has run, so a re-check started now would never stop.
        if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
        if (!caps.admit(viewer.tokenId, ctx)) {
          ctx.extra.socket.close(CLOSE_POLICY_VIOLATION, `at most ${caps.maxSockets} sockets per token`);
          return false;
        }
        ctx.extra.viewer = viewer;
        ctx.extra.documents = new Map();
        ctx.extra.giveBacks = new Map();
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
      onClose: (ctx) => {
        clearInterval(ctx.extra.tokenCheck);
        if (ctx.extra.viewer) caps.release(ctx.extra.viewer.tokenId, ctx);
      },
      onSubscribe: async (ctx, id, payload) => {
        const viewer = ctx.extra.viewer;
        // One socket, and one token, may not hold the server's memory and LISTEN fan-out hostage.
        // ctx.subscriptions already holds the one being subscribed.
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return [badUserInput(`at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} operations may run at once on one socket`)];
        }
        if (viewer && caps.runningOperations(viewer.tokenId) > caps.maxSubscriptions) {
          return [badUserInput(`at most ${caps.maxSubscriptions} operations may run at once per token, over all its sockets; end some first`)];
        }
        // The viewer was read at connection_init: ask again per operation, so
        // that a token revoked since cannot go on acting through an open socket.
        if (!viewer || !(await services.tokens.isLive(viewer.tokenId))) {
          ctx.extra.socket.close(4403, 'Forbidden');
          return [unauthenticated()];
        }
        const admission = await options.gate.admit({
          query: payload.query,
          variables: payload.variables,
          operationName: payload.operationName ?? undefined,
        });
        if (admission.kind === 'refused') {
          await options.refused(viewer.tokenId, refusalReason(admission.errors), admission.remembered);
          return [...admission.errors];
        }
        let document: DocumentNode;
        try {
          document = admission.document ?? parse(payload.query, PARSE_OPTIONS);
        } catch (error) {
          admission.giveBack();
          return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
        }
        ctx.extra.documents?.set(id, document);
        const invalid = validate(schema, document);
        // A subscription's cost is per event, spread over its life: the caps above bound those.
        if (invalid.length > 0 || getOperationAST(document, payload.operationName)?.operation === 'subscription') admission.giveBack();
        else ctx.extra.giveBacks?.set(id, admission.giveBack);
        if (invalid.length > 0) {
          await options.refused(viewer.tokenId, 'invalid', false);
          return invalid.map((e) => new GraphQLError(withoutSuggestions(e.message), { nodes: e.nodes, extensions: e.extensions }));
        }
        return { schema, document, variableValues: payload.variables, operationName: payload.operationName };
      },
      context: (ctx): RequestContext => ({
        viewer: ctx.extra.viewer ?? null,
        services,
        loaders: createLoaders(services),
      }),
      onNext: (ctx, id, payload, _args, result) => {
        if (ctx.extra.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          // Not close(): its frame would queue behind what the client does not read.
          ctx.extra.socket.terminate();
          return undefined;
        }
        // As over HTTP: a coercion error must not repeat credentials (credentialEchoes.ts).
        return result.errors
          ? { ...result, errors: withoutCredentialEchoes(result.errors.map((e) => e.toJSON()), payload.variables, ctx.extra.documents?.get(id)) }
          : undefined;
      },
      onError: (ctx, id, payload, errors) => {
        ended(ctx.extra, id);
        const document = ctx.extra.documents?.get(id);
        // An operation refused or failed ends here; onComplete is not called for it.
        ctx.extra.documents?.delete(id);
        return withoutCredentialEchoes(errors.map((e) => e.toJSON()), payload.variables, document);
      },
      onComplete: (ctx, id) => {
        ended(ctx.extra, id);
        ctx.extra.documents?.delete(id);
      },
    },
    wss,
  );
  return {
    async close() {
      await cleanup.dispose();
      wss.close();
    },
  };
}
