/**
 * The error taxonomy a connector throws; the engine decides what happens next
 * by class alone: a rate-limited call waits and retries (without using an
 * attempt while auto-recovery is on), a transient one is retried a bounded
 * number of times, a permanent one fails the record at once with its code.
 */
export type ConnectorErrorKind = 'rate-limited' | 'transient' | 'permanent';

/**
 * A plugin may reach the SDK through its own copy of this package (installed
 * beside it rather than deduplicated with the server's); its errors are then
 * instances of *that* copy's classes, and `instanceof` against the server's
 * would call every rate limit an unknown error. The kind is therefore also
 * carried under a registered symbol, the same in every copy.
 */
const ERROR_KIND = Symbol.for('sluice.connector-sdk.error-kind');

export abstract class ConnectorError extends Error {
  /** A short machine code kept on the JobError, e.g. HTTP_404, TIMEOUT. */
  abstract readonly code: string;
  /** Which class of the taxonomy; see connectorErrorKind(). */
  abstract readonly [ERROR_KIND]: ConnectorErrorKind;
}

/** The taxonomy class of a thrown value, whichever copy of the SDK made it; undefined for anything else. */
export function connectorErrorKind(error: unknown): ConnectorErrorKind | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const kind = (error as { [ERROR_KIND]?: unknown })[ERROR_KIND];
  return kind === 'rate-limited' || kind === 'transient' || kind === 'permanent' ? kind : undefined;
}

export class RateLimitedError extends ConnectorError {
  override name = 'RateLimitedError';
  readonly code = 'RATE_LIMITED';
  readonly [ERROR_KIND] = 'rate-limited' as const;
  /** How long the API asked us to wait, when it said. */
  constructor(message: string, readonly retryAfterMs: number | null = null) {
    super(message);
  }
}

export class TransientError extends ConnectorError {
  override name = 'TransientError';
  readonly [ERROR_KIND] = 'transient' as const;
  constructor(message: string, readonly code: string = 'TRANSIENT') {
    super(message);
  }
}

export class PermanentError extends ConnectorError {
  override name = 'PermanentError';
  readonly [ERROR_KIND] = 'permanent' as const;
  constructor(message: string, readonly code: string = 'PERMANENT') {
    super(message);
  }
}
