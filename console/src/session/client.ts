/**
 * One GraphQL client per signed-in token: queries and mutations over HTTP,
 * subscriptions over one graphql-ws socket on the same origin (no polling
 * anywhere in the console).
 */
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from 'urql';
import { createClient as createWsClient } from 'graphql-ws';

export function apiUrls(): { http: string; ws: string } {
  const ws = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
  return { http: `${location.origin}/graphql`, ws };
}

export function createSluiceClient(token: string): { client: Client; dispose: () => void } {
  const urls = apiUrls();
  const ws = createWsClient({
    url: urls.ws,
    connectionParams: { authorization: `Bearer ${token}` },
    // A restarted server or a dropped network: the live tables come back by themselves.
    retryAttempts: Infinity,
    shouldRetry: () => true,
  });
  const client = new Client({
    url: urls.http,
    // Every write is followed by fresh reads of what it touched (cacheExchange invalidates by type).
    requestPolicy: 'cache-and-network',
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return { client, dispose: () => void ws.dispose() };
}
