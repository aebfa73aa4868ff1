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
 */
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
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

export async function httpCall(call: HttpCall): Promise<HttpResult> {
  let result: HttpResult;
  try {
    result = await exchange(call);
  } catch (error) {
    if (call.signal.aborted) throw error; // canceled: the engine knows why
    if (isTimeout(error)) {
      throw new TransientError(`no answer from ${call.url.origin} within ${call.timeoutMs} ms`, 'TIMEOUT');
    }
    const code = (error as { code?: string }).code ?? 'NETWORK';
    throw new TransientError(`${call.method} ${call.url.origin}${call.url.pathname} failed: ${(error as Error).message} (${code})`, 'NETWORK');
  }
  const { status, text } = result;
  if (status >= 200 && status < 300) return result;
  const what = `${call.method} ${call.url.pathname} answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
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
