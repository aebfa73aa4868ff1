/**
 * One HTTP request of the http connector, with the contract's error
 * classification: 429 is rate-limited (Retry-After honoured, in seconds or as
 * an HTTP date); 408, 5xx, timeouts and network errors are transient; any
 * other non-2xx is permanent with code HTTP_<status>.
 *
 * The request goes through undici's pooled Agent (keep-alive per origin) by
 * `dispatch` with a handler that gathers the body into one string. undici's
 * `request` wraps every response in a Readable stream and its `text()` in a
 * consumer: at thousands of calls per second that machinery was a fifth of
 * the engine's CPU and much of its garbage (`npm run bench -- burst`, profiled
 * with `--cpu-prof`); the answers here are small JSON bodies, read whole.
 *
 * Every socket is made by the outbound policy's connector (OUTBOUND_DENY /
 * OUTBOUND_ALLOW, checked on the resolved address): a denied call sends
 * nothing and is a permanent OUTBOUND_DENIED. Redirects: a call carries the
 * connection's credentials, which belong to its application (contract:
 * "Credentials belong to their application"), so a redirect is followed only
 * within the same origin (up to MAX_REDIRECTS hops); one to another origin is
 * not followed and is the answer: a 3xx, permanent, HTTP_<status>.
 */
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import { connectorErrorKind, PermanentError, RateLimitedError, TransientError } from '../sdk';
import { policedConnect } from '../outbound/outboundConnector';

/** Enough sockets per origin for burst mode; idle ones close after the keep-alive timeout. */
const agent = new Agent({ connections: 512, keepAliveTimeout: 10000, pipelining: 1, connect: policedConnect });

/** Same-origin redirects followed before the last 3xx is taken as the answer. */
export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface HttpCall {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal: AbortSignal;
}

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface HttpResult {
  status: number;
  /** Names in lower case; a repeated header is an array. */
  headers: ResponseHeaders;
  text: string;
}

/** Retry-After in seconds or as an HTTP date, in milliseconds from now; null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return null;
  if (/^\d+(\.\d+)?$/.test(raw.trim())) return Math.round(Number(raw) * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function isTimeout(error: unknown): boolean {
  return error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError;
}

function headersOf(raw: Buffer[]): ResponseHeaders {
  const headers: ResponseHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const seen = headers[name];
    headers[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return headers;
}

/**
 * The exchange itself: resolves with whatever status came back, rejects on a
 * network error, a timeout (undici's own header and body timers, no extra
 * timer per call) or an abort.
 */
function exchange(call: HttpCall): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const { signal } = call;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let abortRequest: ((reason?: Error) => void) | null = null;
    const onAbort = (): void => abortRequest?.(new undiciErrors.RequestAbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => signal.removeEventListener('abort', onAbort);
    let status = 0;
    let headers: ResponseHeaders = {};
    const chunks: Buffer[] = [];
    const handler: Dispatcher.DispatchHandlers = {
      onConnect(abort) {
        if (signal.aborted) abort(new undiciErrors.RequestAbortedError());
        else abortRequest = abort as (reason?: Error) => void;
      },
      onHeaders(statusCode, rawHeaders) {
        status = statusCode;
        headers = headersOf(rawHeaders as unknown as Buffer[]);
        return true;
      },
      onData(chunk) {
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        settle();
        const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        resolve({ status, headers, text });
      },
      onError(error) {
        settle();
        reject(error);
      },
    };
    agent.dispatch(
      {
        origin: call.url.origin,
        path: call.url.pathname + call.url.search,
        method: call.method as Dispatcher.HttpMethod,
        headers: call.headers,
        body: call.body,
        headersTimeout: call.timeoutMs,
        bodyTimeout: call.timeoutMs,
      },
      handler,
    );
  });
}

/**
 * The call a same-origin redirect leads to, or null when it is not followed
 * (no Location, another origin, or a method change that would drop a body).
 * 303 becomes a GET; 301 and 302 are followed for GET and HEAD only, since
 * clients turn them into GETs and an import's body would be lost; 307 and 308
 * repeat the request as it was.
 */
export function redirectTarget(call: HttpCall, status: number, location: string | string[] | undefined): HttpCall | null {
  const raw = Array.isArray(location) ? location[0] : location;
  if (!REDIRECTS.has(status) || raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw, call.url);
  } catch {
    return null;
  }
  if (url.origin !== call.url.origin) return null;
  if (status === 303) {
    const { body: _body, ...rest } = call;
    const headers = { ...call.headers };
    delete headers['content-type'];
    return { ...rest, method: 'GET', url, headers };
  }
  if ((status === 301 || status === 302) && call.method !== 'GET' && call.method !== 'HEAD') return null;
  return { ...call, url };
}

/** What a 3xx that was not followed says: where it pointed (its origin only: a Location may carry tokens). */
function unfollowed(call: HttpCall, result: HttpResult): string {
  const raw = Array.isArray(result.headers.location) ? result.headers.location[0] : result.headers.location;
  if (raw === undefined) return '';
  try {
    const to = new URL(raw, call.url);
    if (to.origin !== call.url.origin) return ` (a redirect to ${to.origin}, another origin: not followed, a call with credentials stays with its application)`;
    return ' (a redirect not followed)';
  } catch {
    return ' (a redirect to an unreadable Location: not followed)';
  }
}

export async function httpCall(first: HttpCall): Promise<HttpResult> {
  let result: HttpResult;
  let call = first;
  try {
    result = await exchange(call);
    // Inline rather than a helper: no extra promise per call on the hot path, where answers are not redirects.
    for (let hop = 0; REDIRECTS.has(result.status) && hop < MAX_REDIRECTS; hop++) {
      const next = redirectTarget(call, result.status, result.headers.location);
      if (!next) break;
      call = next;
      result = await exchange(call);
    }
  } catch (error) {
    if (first.signal.aborted) throw error; // canceled: the engine knows why
    // The outbound policy's refusal: permanent as it is.
    if (connectorErrorKind(error) === 'permanent') throw error;
    if (isTimeout(error)) {
      throw new TransientError(`no answer from ${call.url.origin} within ${call.timeoutMs} ms`, 'TIMEOUT');
    }
    const code = (error as { code?: string }).code ?? 'NETWORK';
    throw new TransientError(`${call.method} ${call.url.origin}${call.url.pathname} failed: ${(error as Error).message} (${code})`, 'NETWORK');
  }
  const { status, text } = result;
  if (status >= 200 && status < 300) return result;
  const what = REDIRECTS.has(status)
    ? `${call.method} ${call.url.pathname} answered HTTP ${status}${unfollowed(call, result)}`
    : `${call.method} ${call.url.pathname} answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  if (status === 429) throw new RateLimitedError(what, retryAfterMs(result.headers['retry-after']));
  if (status === 408 || status >= 500) throw new TransientError(what, `HTTP_${status}`);
  throw new PermanentError(what, `HTTP_${status}`);
}

/**
 * How long until the application's limit resets, when a successful response
 * says it is used up: `RateLimit-Remaining: 0` (IETF draft) or
 * `X-RateLimit-Remaining: 0`, with `RateLimit-Reset` / `X-RateLimit-Reset` in
 * seconds from now, or, for the values that can only be one, as a Unix time.
 */
export function exhaustedForMs(headers: HttpResult['headers'], now = Date.now()): number | null {
  const first = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const remaining = first('ratelimit-remaining') ?? first('x-ratelimit-remaining');
  if (remaining === undefined || Number(remaining) > 0) return null;
  const reset = Number(first('ratelimit-reset') ?? first('x-ratelimit-reset'));
  if (!Number.isFinite(reset) || reset < 0) return null;
  // No sane window is longer than a year; a larger number is an epoch timestamp.
  return reset > 365 * 24 * 3600 ? Math.max(0, reset * 1000 - now) : Math.round(reset * 1000);
}

/** The body as JSON; an unreadable body is the application's fault and will not get better on retry. */
export function parseJson(result: HttpResult, what: string): unknown {
  if (result.text.trim() === '') return null;
  try {
    return JSON.parse(result.text);
  } catch {
    throw new PermanentError(`${what}: the response is not JSON`, 'INVALID_RESPONSE');
  }
}
