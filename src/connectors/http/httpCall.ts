/**
 * One HTTP request of the http connector, with the contract's error
 * classification: 429 is rate-limited (Retry-After honoured, in seconds or as
 * an HTTP date); 408, 5xx, timeouts and network errors are transient; any
 * other non-2xx is permanent with code HTTP_<status>.
 *
 * undici's pooled `request` keeps connections alive per origin; it is several
 * times cheaper per call than fetch, which matters at thousands of calls/s.
 */
import { Agent, errors as undiciErrors, request } from 'undici';
import { PermanentError, RateLimitedError, TransientError } from '../sdk';

/** Enough sockets per origin for burst mode; idle ones close after the keep-alive timeout. */
const agent = new Agent({ connections: 512, keepAliveTimeout: 10000, pipelining: 1 });

export interface HttpCall {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal: AbortSignal;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
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

export async function httpCall(call: HttpCall): Promise<HttpResult> {
  let response;
  try {
    // undici's own header and body timeouts bound the call; they cost no timer
    // and no extra AbortSignal per request, which shows at thousands of calls/s.
    response = await request(call.url, {
      method: call.method as 'GET',
      headers: call.headers,
      body: call.body,
      signal: call.signal,
      dispatcher: agent,
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.timeoutMs,
    });
  } catch (error) {
    if (call.signal.aborted) throw error; // canceled: the engine knows why
    if (isTimeout(error)) {
      throw new TransientError(`no answer from ${call.url.origin} within ${call.timeoutMs} ms`, 'TIMEOUT');
    }
    const code = (error as { code?: string }).code ?? 'NETWORK';
    throw new TransientError(`${call.method} ${call.url.origin}${call.url.pathname} failed: ${(error as Error).message} (${code})`, 'NETWORK');
  }
  let text: string;
  try {
    text = await response.body.text();
  } catch (error) {
    if (call.signal.aborted) throw error;
    throw new TransientError(`reading the response of ${call.url.origin} failed: ${(error as Error).message}`, isTimeout(error) ? 'TIMEOUT' : 'NETWORK');
  }
  const { statusCode: status } = response;
  if (status >= 200 && status < 300) return { status, headers: response.headers, text };
  const what = `${call.method} ${call.url.pathname} answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  if (status === 429) throw new RateLimitedError(what, retryAfterMs(response.headers['retry-after']));
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
