/**
 * How long a failed call waits before its retry, and when to stop. Pure: the
 * random source is injected so tests can pin it.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included, for transient errors (and rate limits without auto-recovery). */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 30000 };

/**
 * Exponential backoff with "full jitter" (uniform in [d/2, d]): retries of
 * many messages that failed together spread out instead of returning in step.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
