/**
 * CORS for /graphql, with the `cors` package: browsers may call the API from
 * the origins in CORS_ORIGINS (none by default: only the same origin, which
 * needs no CORS). An allowed origin's preflight (OPTIONS) is answered 204
 * with the methods and headers a GraphQL client sends; a refused origin gets
 * no Access-Control-Allow-Origin, so its browser keeps the answer from it.
 *
 * Credentials mode stays off: Sluice's auth is a bearer header the page
 * sets itself, never a cookie the browser would attach on its own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';

/** How long a browser may reuse a preflight's answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** 'answered': a preflight of an allowed origin, ended here; 'continue': the request goes on, with its CORS headers set. */
export type CorsHandler = (req: IncomingMessage, res: ServerResponse) => Promise<'answered' | 'continue'>;

/** No origins: does nothing. A refused origin's request goes on without CORS headers (its preflight then gets 405). */
export function corsFor(origins: readonly string[]): CorsHandler {
  const allowed = new Set(origins);
  const middleware = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type'],
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  });
  return (req, res) =>
    new Promise((resolve, reject) => {
      if (allowed.size === 0) return resolve('continue');
      // The package ends an allowed preflight itself and never calls next.
      res.once('finish', () => resolve('answered'));
      middleware(req, res, (error?: unknown) => (error ? reject(error) : resolve('continue')));
    });
}
