/**
 * The error taxonomy a connector throws; the engine decides what happens next
 * by class alone: a rate-limited call waits and retries (without using an
 * attempt while auto-recovery is on), a transient one is retried a bounded
 * number of times, a permanent one fails the record at once with its code.
 */
export abstract class ConnectorError extends Error {
  /** A short machine code kept on the JobError, e.g. HTTP_404, TIMEOUT. */
  abstract readonly code: string;
}

export class RateLimitedError extends ConnectorError {
  override name = 'RateLimitedError';
  readonly code = 'RATE_LIMITED';
  /** How long the API asked us to wait, when it said. */
  constructor(message: string, readonly retryAfterMs: number | null = null) {
    super(message);
  }
}

export class TransientError extends ConnectorError {
  override name = 'TransientError';
  constructor(message: string, readonly code: string = 'TRANSIENT') {
    super(message);
  }
}

export class PermanentError extends ConnectorError {
  override name = 'PermanentError';
  constructor(message: string, readonly code: string = 'PERMANENT') {
    super(message);
  }
}
