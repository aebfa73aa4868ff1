// @ts-check
/**
 * This connector's own rate-limit mapping: what an answer or a failed request
 * means to Sluice's engine, as one of the SDK's three errors.
 *
 * | the application answered                | thrown                          | the engine               |
 * | --------------------------------------- | ------------------------------- | ------------------------ |
 * | 429, with or without Retry-After        | RateLimitedError(retryAfterMs)  | pauses the queue, retries |
 * | 503 with Retry-After                    | RateLimitedError(retryAfterMs)  | (the same)               |
 * | 408, 5xx (503 without Retry-After)      | TransientError(HTTP_<status>)   | retries, bounded         |
 * | no answer in time, or no connection     | TransientError(TIMEOUT/NETWORK) | retries, bounded         |
 * | any other 4xx                           | PermanentError(HTTP_<status>)   | fails the record at once |
 *
 * A 2xx whose RateLimit-Remaining (or X-RateLimit-Remaining) is 0 is not an
 * error: slowDownMs says how long the whole queue should wait so that the
 * next call does not draw a 429 at all.
 *
 * Pointing the connector at another API, this is the file to read against
 * that API's documentation first.
 */
import { PermanentError, RateLimitedError, TransientError } from 'sluice/connector-sdk';

/**
 * A Retry-After value in milliseconds: seconds (a fraction allowed) or an
 * HTTP date; null when absent or unreadable, never negative.
 * @param {string | null} value
 * @param {number} [now]
 * @returns {number | null}
 */
export function retryAfterMs(value, now = Date.now()) {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * How long the queue should wait after a successful answer that used up the
 * application's limit, or null when it did not.
 * RateLimit-Reset is in seconds from now (the IETF draft); X-RateLimit-Reset
 * is, in most APIs that send it, a Unix time in seconds: a value past 10^9
 * is read as one.
 * @param {Headers} headers
 * @param {number} [now]
 * @returns {number | null}
 */
export function slowDownMs(headers, now = Date.now()) {
  const remaining = headers.get('ratelimit-remaining') ?? headers.get('x-ratelimit-remaining');
  if (remaining === null || Number(remaining) > 0) return null;
  const reset = headers.get('ratelimit-reset') ?? headers.get('x-ratelimit-reset');
  if (reset !== null && /^\d+(\.\d+)?$/.test(reset.trim())) {
    const seconds = Number(reset);
    return seconds > 1e9 ? Math.max(0, seconds * 1000 - now) : Math.round(seconds * 1000);
  }
  return retryAfterMs(headers.get('retry-after'), now) ?? 1000;
}

/**
 * The error for an answer that is not a success.
 * @param {string} what  e.g. "PUT /invoices/7", for the message
 * @param {number} status
 * @param {Headers} headers
 * @returns {Error}
 */
export function errorForStatus(what, status, headers) {
  const retryAfter = retryAfterMs(headers.get('retry-after'));
  if (status === 429 || (status === 503 && retryAfter !== null)) {
    return new RateLimitedError(`${what} was rate limited (HTTP ${status})`, retryAfter);
  }
  if (status === 408 || status >= 500) return new TransientError(`${what} answered HTTP ${status}`, `HTTP_${status}`);
  return new PermanentError(`${what} answered HTTP ${status}`, `HTTP_${status}`);
}

/**
 * The error for a request that got no answer. `timedOut` tells this
 * connector's own timeout apart from a refused or broken connection.
 * @param {string} what
 * @param {unknown} error
 * @param {boolean} timedOut
 * @returns {Error}
 */
export function errorForFailure(what, error, timedOut) {
  if (timedOut) return new TransientError(`${what} got no answer in time`, 'TIMEOUT');
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return new TransientError(`${what} could not reach the application${cause}`, 'NETWORK');
}
