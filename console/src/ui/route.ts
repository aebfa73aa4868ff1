/**
 * The console's pages, addressed by the URL's hash (#/connections/42), so
 * that the server serves one page for every route and links can be shared.
 */
import { useEffect, useState } from 'react';

export type Route =
  | { page: 'connections' }
  | { page: 'connection'; id: string }
  | { page: 'newConnection' }
  | { page: 'flows' }
  | { page: 'flow'; id: string }
  | { page: 'errors' }
  | { page: 'tokens' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second] = parts;
  if (first === 'connections' && second === 'new') return { page: 'newConnection' };
  if (first === 'connections' && second) return { page: 'connection', id: second };
  if (first === 'flows' && second) return { page: 'flow', id: second };
  if (first === 'flows') return { page: 'flows' };
  if (first === 'errors') return { page: 'errors' };
  if (first === 'tokens') return { page: 'tokens' };
  return { page: 'connections' };
}

export function hrefOf(route: Route): string {
  switch (route.page) {
    case 'connections':
      return '#/connections';
    case 'connection':
      return `#/connections/${encodeURIComponent(route.id)}`;
    case 'newConnection':
      return '#/connections/new';
    case 'flows':
      return '#/flows';
    case 'flow':
      return `#/flows/${encodeURIComponent(route.id)}`;
    case 'errors':
      return '#/errors';
    case 'tokens':
      return '#/tokens';
    default: {
      const never: never = route;
      throw new Error(`unknown route ${JSON.stringify(never)}`);
    }
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}
