// @ts-check
/**
 * One HTTP request to the application, with everything every call needs:
 * the connection's base URL and token, Sluice's AbortSignal joined with the
 * connection's own timeout, and failures turned into the SDK's errors
 * (responseErrors.mjs). The token is sent, never logged.
 *
 * Sent with the SDK's outboundFetch, not the global fetch: it applies the
 * server's outbound policy (OUTBOUND_DENY / OUTBOUND_ALLOW) and never follows
 * a redirect, so the token cannot be led to another origin.
 */
import { connectorErrorKind, outboundFetch, PermanentError } from 'sluice/connector-sdk';
import { errorForFailure, errorForStatus, slowDownMs } from './responseErrors.mjs';

/**
 * @typedef {{ baseUrl: string, timeoutMs?: number }} Config
 * @typedef {{ token?: string }} Credentials
 * @typedef {import('sluice/connector-sdk').CallContext<Config, Credentials>
 *   & { slowDown?: (waitMs: number) => void }} RequestContext
 */

/** Used when a connection's config has no timeoutMs (the schema fills one in). */
export const DEFAULT_TIMEOUT_MS = 10000;

/**
 * @typedef {object} RequestSpec
 * @property {'GET' | 'POST' | 'PUT'} method
 * @property {string} path  below baseUrl, e.g. "invoices/7"
 * @property {Record<string, string | number | boolean>} [query]
 * @property {unknown} [body]  sent as JSON
 * @property {string} [idempotencyKey]  sent as Idempotency-Key, for APIs that deduplicate by it
 * @property {number[]} [expected]  statuses other than 2xx that the caller handles itself (e.g. 404)
 * @property {boolean} [parse]  false: the body is not read as JSON (default true)
 */

/**
 * @param {RequestContext} ctx
 * @param {RequestSpec} spec
 * @returns {Promise<{ status: number, headers: Headers, body: any }>}
 */
export async function request(ctx, spec) {
  const url = new URL(spec.path, ctx.config.baseUrl.endsWith('/') ? ctx.config.baseUrl : `${ctx.config.baseUrl}/`);
  for (const [name, value] of Object.entries(spec.query ?? {})) url.searchParams.set(name, String(value));
  const what = `${spec.method} ${url.pathname}`;

  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (spec.body !== undefined) headers['content-type'] = 'application/json';
  if (ctx.credentials?.token) headers.authorization = `Bearer ${ctx.credentials.token}`;
  if (spec.idempotencyKey) headers['idempotency-key'] = spec.idempotencyKey;

  // Sluice aborts ctx.signal when the job is canceled, the process stops, or
  // the call outlives timeoutMs by Sluice's grace; our own timeout comes first.
  const timeout = AbortSignal.timeout(ctx.config.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let response;
  try {
    response = await outboundFetch(url, {
      method: spec.method,
      headers,
      body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
      signal: AbortSignal.any([ctx.signal, timeout]),
    });
  } catch (error) {
    // The outbound policy's refusal (OUTBOUND_DENIED) is already the SDK's permanent error.
    if (connectorErrorKind(error) === 'permanent') throw error;
    throw errorForFailure(what, error, timeout.aborted && !ctx.signal.aborted);
  }
  ctx.logger.debug('answered', { request: what, status: response.status });

  if (!response.ok && !(spec.expected ?? []).includes(response.status)) {
    await response.body?.cancel();
    throw errorForStatus(what, response.status, response.headers);
  }
  const wait = slowDownMs(response.headers);
  if (wait !== null) ctx.slowDown?.(wait);
  /** @type {string} */
  let text;
  try {
    text = await response.text(); // the timeout and ctx.signal still apply while the body arrives
  } catch (error) {
    throw errorForFailure(what, error, timeout.aborted && !ctx.signal.aborted);
  }
  if (spec.parse === false || text === '') return { status: response.status, headers: response.headers, body: null };
  try {
    return { status: response.status, headers: response.headers, body: JSON.parse(text) };
  } catch {
    // Another try will get the same page: most likely baseUrl points elsewhere.
    throw new PermanentError(`${what} did not answer JSON (is baseUrl the API's address?)`, 'NOT_JSON');
  }
}
