/**
 * A queue owner's concurrency policy, as the API sets it and the engine obeys
 * it. Three modes, never a mix: a fixed level, burst (no level), or
 * auto-recovery toward a target with the level in use moving beneath it.
 */

export interface RateLimit {
  requests: number;
  perMilliseconds: number;
}

/**
 * The bounds of a rate limit (README "Security"): at least one request per
 * window, at most RATE_LIMIT_MAX_REQUESTS; a window from 1 ms to a day. A
 * larger count or window is no limit at all in practice and only makes the
 * shared window's arithmetic and waits unbounded.
 */
export const RATE_LIMIT_MAX_REQUESTS = 100000;
export const RATE_LIMIT_MAX_WINDOW_MS = 24 * 60 * 60 * 1000;

export type ConcurrencyMode =
  | { kind: 'fixed'; level: number }
  | { kind: 'burst' }
  | { kind: 'autoRecover'; target: number; levelInUse: number };

export interface ConcurrencyPolicy {
  mode: ConcurrencyMode;
  rateLimit: RateLimit | null;
}

/** The connection columns a policy is stored in (see the connection table's CHECKs). */
export interface PolicyColumns {
  autoRecover: boolean;
  concurrencyLevel: number | null;
  targetConcurrencyLevel: number | null;
  rateLimitRequests: number | null;
  rateLimitPerMs: number | null;
}

export type PolicyChoice =
  | { ok: true; policy: ConcurrencyPolicy }
  | { ok: false; problem: string };

/**
 * The policy that `setConcurrency` (or `createConnection`) asks for:
 * with auto-recovery `level` is the target (null: the maximum), without it the
 * fixed level (null: burst). The level in use starts at the target.
 */
export function choosePolicy(
  level: number | null,
  autoRecover: boolean,
  rateLimit: RateLimit | null,
  maxConcurrencyLevel: number,
): PolicyChoice {
  if (level !== null && (!Number.isInteger(level) || level < 1 || level > maxConcurrencyLevel)) {
    return { ok: false, problem: `level must be from 1 to ${maxConcurrencyLevel} (or null), got ${level}` };
  }
  if (rateLimit !== null) {
    const { requests, perMilliseconds } = rateLimit;
    if (!Number.isInteger(requests) || requests < 1 || requests > RATE_LIMIT_MAX_REQUESTS) {
      return { ok: false, problem: `rateLimit.requests must be an integer from 1 to ${RATE_LIMIT_MAX_REQUESTS}, got ${requests}` };
    }
    if (!Number.isInteger(perMilliseconds) || perMilliseconds < 1 || perMilliseconds > RATE_LIMIT_MAX_WINDOW_MS) {
      return {
        ok: false,
        problem: `rateLimit.perMilliseconds must be an integer from 1 to ${RATE_LIMIT_MAX_WINDOW_MS} (one day), got ${perMilliseconds}`,
      };
    }
  }
  let mode: ConcurrencyMode;
  if (autoRecover) {
    const target = level ?? maxConcurrencyLevel;
    mode = { kind: 'autoRecover', target, levelInUse: target };
  } else {
    mode = level === null ? { kind: 'burst' } : { kind: 'fixed', level };
  }
  return { ok: true, policy: { mode, rateLimit } };
}

export function policyToColumns(policy: ConcurrencyPolicy): PolicyColumns {
  const rate = {
    rateLimitRequests: policy.rateLimit?.requests ?? null,
    rateLimitPerMs: policy.rateLimit?.perMilliseconds ?? null,
  };
  const { mode } = policy;
  switch (mode.kind) {
    case 'fixed':
      return { autoRecover: false, concurrencyLevel: mode.level, targetConcurrencyLevel: null, ...rate };
    case 'burst':
      return { autoRecover: false, concurrencyLevel: null, targetConcurrencyLevel: null, ...rate };
    case 'autoRecover':
      return { autoRecover: true, concurrencyLevel: mode.levelInUse, targetConcurrencyLevel: mode.target, ...rate };
    default: {
      const unreachable: never = mode;
      throw new Error(`unknown concurrency mode ${JSON.stringify(unreachable)}`);
    }
  }
}

export function policyFromColumns(columns: PolicyColumns): ConcurrencyPolicy {
  const rateLimit =
    columns.rateLimitRequests !== null && columns.rateLimitPerMs !== null
      ? { requests: columns.rateLimitRequests, perMilliseconds: columns.rateLimitPerMs }
      : null;
  if (columns.autoRecover) {
    const target = columns.targetConcurrencyLevel ?? 1;
    return { mode: { kind: 'autoRecover', target, levelInUse: columns.concurrencyLevel ?? target }, rateLimit };
  }
  return {
    mode: columns.concurrencyLevel === null ? { kind: 'burst' } : { kind: 'fixed', level: columns.concurrencyLevel },
    rateLimit,
  };
}
