import type { HttpConfig, HttpCredentials } from './types';

/**
 * The headers every request through an http connection carries, kept per
 * connection config object: the engine holds one config object per
 * connection for a few seconds (src/engine/jobPlans.ts), so this is built a
 * few times, not on every call. Callers copy before adding to it.
 */
const byConfig = new WeakMap<HttpConfig, { credentials: HttpCredentials | null; headers: Readonly<Record<string, string>> }>();

export function connectionHeaders(config: HttpConfig, credentials: HttpCredentials | null): Readonly<Record<string, string>> {
  const cached = byConfig.get(config);
  if (cached && cached.credentials === credentials) return cached.headers;
  const headers = requestHeaders(config, credentials);
  byConfig.set(config, { credentials, headers });
  return headers;
}

/** The headers every request through an http connection carries: its configured headers plus its credentials. */
export function requestHeaders(config: HttpConfig, credentials: HttpCredentials | null): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json', ...(config.headers ?? {}) };
  if (!credentials) return headers;
  switch (credentials.type) {
    case 'bearer':
      headers.authorization = `Bearer ${credentials.token}`;
      break;
    case 'basic':
      headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
      break;
    case 'header':
      headers[credentials.name] = credentials.value;
      break;
    default: {
      const unreachable: never = credentials;
      throw new Error(`unknown credentials type ${JSON.stringify(unreachable)}`);
    }
  }
  return headers;
}

/** `path` joined to `baseUrl`, keeping baseUrl's own path (".../v1" + "/orders" → ".../v1/orders"). */
export function joinUrl(baseUrl: string, path: string): URL {
  const base = new URL(baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const [pathname, search] = path.split('?', 2) as [string, string | undefined];
  base.pathname = basePath + (pathname.startsWith('/') ? pathname : `/${pathname}`);
  if (search) base.search = search;
  return base;
}
