/**
 * The API explorer served at GET /graphql to browsers: GraphiQL from npm,
 * bundled (no CDN), with the console's token from this tab's sessionStorage,
 * queries over HTTP and subscriptions over graphql-ws on the same origin.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import type { GraphQLSchema } from 'graphql';
import { apiUrls } from '../session/client';
import { fetchSchema } from './schemaQuery';
import { storedToken } from '../session/token';

const root = createRoot(document.getElementById('explorer')!);
const token = storedToken();

if (!token) {
  root.render(
    <main style={{ fontFamily: 'system-ui, sans-serif', padding: '2rem' }}>
      <h1>Sluice API explorer</h1>
      <p>
        Sign in to the <a href="/">console</a> first: the explorer uses the console's API token (kept in this tab only).
      </p>
    </main>,
  );
} else {
  const urls = apiUrls();
  const fetcher = createGraphiQLFetcher({
    url: urls.http,
    subscriptionUrl: urls.ws,
    headers: { authorization: `Bearer ${token}` },
    wsConnectionParams: { authorization: `Bearer ${token}` },
  });
  const render = (schema: GraphQLSchema | undefined): void =>
    root.render(
    <StrictMode>
      <GraphiQL fetcher={fetcher} schema={schema} defaultQuery={'# Sluice: the connections and their queues\n{\n  connections {\n    name\n    application\n    queueSize\n    inFlight\n    concurrencyLevel\n  }\n}\n'} />
    </StrictMode>,
  );
  // Failing that, GraphiQL asks for the schema itself (and says what went wrong).
  fetchSchema(urls.http, token).then(render, () => render(undefined));
}
