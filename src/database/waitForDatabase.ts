/**
 * A start against a DATABASE_URL that does not answer yet waits for it, as a
 * process started beside its database (compose, a pod, a reboot) must:
 * connection attempts with a backoff from 250 ms doubling to 5 s, each
 * failure logged (host, port and database; never the URL, which holds the
 * password), until the database answers or DATABASE_WAIT_MS is spent.
 *
 * Only what time can fix is waited for: the network (refused, unreachable,
 * a DNS name not resolving yet, a timeout) and a server still starting or
 * shutting down. A wrong password or a missing database fails at once.
 */
import { Client } from 'pg';
import type { Logger } from '../logger';

export const FIRST_BACKOFF_MS = 250;
export const MAX_BACKOFF_MS = 5000;
const CONNECT_TIMEOUT_MS = 5000;

/** SQLSTATEs of a server that will answer soon: starting up (57P03), shutting down (57P01, 57P02), connection exceptions (08xxx). */
const WAITABLE_SQLSTATE = /^(57P0[123]|08...)$/;
const WAITABLE_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE']);

export class DatabaseWaitError extends Error {
  override name = 'DatabaseWaitError';
  readonly code = 'DATABASE_UNAVAILABLE';
}

/** The start was called off (a signal) while it waited. */
export class StartAborted extends Error {
  override name = 'StartAborted';
}

/** Where a URL points, without its password. */
export function describeDatabase(url: string): { host: string; port: number; database: string; user: string } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432), database: decodeURIComponent(u.pathname.slice(1)) || 'postgres', user: decodeURIComponent(u.username) };
}

function isWaitable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (WAITABLE_NETWORK.has(code) || WAITABLE_SQLSTATE.test(code))) return true;
  // pg's own connect timeout, and a socket closed before the server said anything.
  const message = error instanceof Error ? error.message : '';
  return /timeout|Connection terminated unexpectedly/i.test(message);
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

async function tryOnce(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An error after connect (the server going away) must not be an uncaught 'error' event.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new StartAborted('the start was called off while waiting for the database'));
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted(): void {
      clearTimeout(timer);
      reject(new StartAborted('the start was called off while waiting for the database'));
    }
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

export async function waitForDatabase(url: string, options: { waitMs: number; logger: Logger; signal?: AbortSignal; now?: () => number }): Promise<void> {
  const now = options.now ?? Date.now;
  const where = describeDatabase(url);
  const began = now();
  for (let attempt = 1, backoff = FIRST_BACKOFF_MS; ; attempt++, backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
    try {
      await tryOnce(url);
      if (attempt > 1) options.logger.info({ ...where, attempts: attempt, waitedMs: now() - began }, 'the database answers');
      return;
    } catch (error) {
      const waitedMs = now() - began;
      const reason = reasonOf(error);
      if (!isWaitable(error)) {
        throw new DatabaseWaitError(`DATABASE_URL: cannot use the database ${where.database} at ${where.host}:${where.port} as ${where.user}: ${reason}`);
      }
      if (waitedMs + backoff > options.waitMs) {
        throw new DatabaseWaitError(
          `DATABASE_URL: the database at ${where.host}:${where.port} did not answer within ${Math.round(options.waitMs / 1000)} s ` +
            `(${attempt} attempts; last: ${reason}); start it, or give it longer with DATABASE_WAIT_MS`,
        );
      }
      options.logger.warn({ ...where, attempt, waitedMs, retryInMs: backoff, reason }, 'the database does not answer yet; waiting for it');
      await pause(backoff, options.signal);
    }
  }
}
