/**
 * The web console's built bundle (console/dist, written by `npm run
 * console:build`, which the root's `npm install` runs): read into memory once
 * at start, gzipped once, and served at GET / and /assets/… on the API's
 * origin, so the console works offline and needs no CDN. GET /graphql asked
 * for by a browser (Accept: text/html, no query) serves the API explorer page
 * of the same bundle; API GET queries are untouched.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

interface BundleFile {
  body: Buffer;
  gzipped: Buffer;
  contentType: string;
  /** Vite names every asset by its content hash: it may be cached for good. The pages themselves may not. */
  immutable: boolean;
}

export type ConsoleBundle =
  | { kind: 'built'; files: Map<string, BundleFile> }
  /** Not built (a checkout without `npm install`): GET / says how to build it rather than 404. */
  | { kind: 'missing'; dir: string };

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** console/dist beside the package.json of Sluice, whether run from src/ (tests) or dist/src/ (npm start). */
export function defaultConsoleDir(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'console', 'package.json'))) {
      return path.join(dir, 'console', 'dist');
    }
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(__dirname, '..', '..', 'console', 'dist');
    dir = parent;
  }
}

function walk(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

export function loadConsoleBundle(dir: string = defaultConsoleDir()): ConsoleBundle {
  if (!existsSync(path.join(dir, 'index.html'))) return { kind: 'missing', dir };
  const files = new Map<string, BundleFile>();
  for (const relative of walk(dir)) {
    const body = readFileSync(path.join(dir, relative));
    files.set(`/${relative}`, {
      body,
      gzipped: gzipSync(body),
      contentType: CONTENT_TYPES[path.extname(relative)] ?? 'application/octet-stream',
      immutable: relative.startsWith('assets/'),
    });
  }
  return { kind: 'built', files };
}

/** A browser navigating to /graphql (not a client asking for a result): it gets the explorer. */
export function wantsExplorer(req: IncomingMessage, url: URL): boolean {
  return req.method === 'GET' && !url.searchParams.has('query') && (req.headers.accept ?? '').includes('text/html');
}

/** The bundle's path for a request, or null when the bundle has nothing there. */
function fileFor(pathname: string): string {
  if (pathname === '/' || pathname === '/index.html') return '/index.html';
  if (pathname === '/graphql') return '/explorer.html';
  return pathname;
}

/**
 * Answers GET/HEAD for the console's pages and assets; false when the path is
 * not the console's (the caller goes on to its 404).
 */
export function serveConsole(bundle: ConsoleBundle, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const wanted = fileFor(url.pathname);
  if (bundle.kind === 'missing') {
    if (wanted !== '/index.html' && wanted !== '/explorer.html') return false;
    const body = `The web console is not built (no ${bundle.dir}/index.html). Build it with: npm run console:build\n`;
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return true;
  }
  // Only names the bundle holds are served: no path from the request reaches the file system.
  const file = bundle.files.get(wanted);
  if (!file) return false;
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? file.gzipped : file.body;
  res.writeHead(200, {
    'content-type': file.contentType,
    'content-length': body.length,
    'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    // The console loads nothing from elsewhere; a page that tried would be refused.
    'content-security-policy':
      "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; worker-src 'self' blob:",
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
