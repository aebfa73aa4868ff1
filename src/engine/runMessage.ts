/**
 * Runs one claimed message: calls its connector with a context, bounds the
 * call in time, and turns what happened into an Outcome. Never throws: a
 * plugin that throws anything, hangs or ignores its AbortSignal still ends in
 * an outcome, so no slot leaks and the dispatcher keeps going.
 */
import type { ConnectorRegistry } from '../connectors/registry';
import { PermanentError, RateLimitedError, TransientError, connectorErrorKind, type JsonRecord, type StepCallContext } from '../connectors/sdk';
import type { Logger } from '../logger';
import { connectorLogger } from '../connectors/connectorLogger';
import type { ConnectorLogger } from '../connectors/sdk';
import type { JobPlans } from './jobPlans';
import { idempotencyKeyOf, recordCount, type ClaimedMessage, type NewMessage, type RetryOrigin } from './message';
import { NO_DELTA, type CallFailure, type Outcome } from './outcome';
import { backoffMs, type RetryPolicy } from './retryPolicy';
import { routeRecords } from './routeRecords';
import { FIRST_BACKOFF_MS } from './limit/recovery';
import type { PlannedStep } from './store';
import { callSpan } from './callSpan';

export interface RunDeps {
  plans: JobPlans;
  connectors: ConnectorRegistry;
  retry: RetryPolicy;
  logger: Logger;
}

/** Why a call's signal was aborted: the job was canceled, or this process is stopping. */
export type AbortReason = 'canceled' | 'shutdown';

/** A call may take its connection's timeout plus this before the engine gives up on it. */
const CALL_GRACE_MS = 5000;
const DEFAULT_CALL_TIMEOUT_MS = 30000;
/** An application asking for a longer pause than this is taken at this. */
const MAX_SLOW_DOWN_MS = 15 * 60 * 1000;

class CallTimeout extends TransientError {
  constructor(ms: number) {
    super(`the connector did not answer within ${ms} ms`, 'TIMEOUT');
  }
}

function withDeadline<T>(call: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new CallTimeout(ms));
    }, ms);
  });
  return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
}

async function call(
  deps: RunDeps,
  message: ClaimedMessage,
  step: PlannedStep,
  ctx: StepCallContext<unknown, unknown, JsonRecord>,
  type: string,
): Promise<{ records: JsonRecord[]; next?: unknown; exported: boolean }> {
  const connector = deps.connectors.get(type);
  const payload = message.payload;
  switch (payload.kind) {
    case 'page': {
      const exporter = connector?.steps.EXPORT;
      if (!exporter) throw new PermanentError(`connector "${type}" cannot EXPORT`, 'UNSUPPORTED_STEP');
      const page = await exporter.exportPage({ ...ctx, cursor: payload.cursor });
      if (!Array.isArray(page?.records)) throw new TransientError(`connector "${type}" returned no records array`, 'PLUGIN_ERROR');
      return { records: page.records, next: page.next ?? null, exported: true };
    }
    case 'download': {
      const downloader = connector?.steps.DOWNLOAD;
      if (!downloader) throw new PermanentError(`connector "${type}" cannot DOWNLOAD`, 'UNSUPPORTED_STEP');
      const records = await downloader.download(ctx);
      if (!Array.isArray(records)) throw new TransientError(`connector "${type}" returned no records array`, 'PLUGIN_ERROR');
      return { records, exported: true };
    }
    case 'records': {
      if (step.kind === 'LOOKUP') {
        const lookup = connector?.steps.LOOKUP;
        if (!lookup) throw new PermanentError(`connector "${type}" cannot LOOKUP`, 'UNSUPPORTED_STEP');
        const records = [];
        for (const record of payload.records) records.push(await lookup.lookup({ ...ctx, record }));
        return { records, exported: false };
      }
      const importer = connector?.steps.IMPORT;
      if (!importer) throw new PermanentError(`connector "${type}" cannot IMPORT`, 'UNSUPPORTED_STEP');
      await importer.importRecords({ ...ctx, records: payload.records });
      return { records: payload.records, exported: false };
    }
    default: {
      const unreachable: never = payload;
      throw new PermanentError(`unknown message payload ${JSON.stringify(unreachable)}`, 'INVALID_MESSAGE');
    }
  }
}

/** The outcome of a call that failed for good: a JobError per record, or a failed source. */
function failed(message: ClaimedMessage, step: PlannedStep, code: string, reason: string): Outcome {
  const payload = message.payload;
  const retryOf = payload.retry?.of ?? [];
  const common = { stepId: step.id, connectionId: message.connectionId, code, message: reason, attempts: message.attempts };
  if (payload.kind === 'records') {
    // A record of a batch is retried alone, a body its batch's key never
    // carried: only a call of one record leaves a key to send again.
    const idempotencyKey = payload.records.length === 1 ? idempotencyKeyOf(message) : null;
    return {
      kind: 'done',
      message,
      followUps: [],
      delta: { ...NO_DELTA, failed: recordCount(payload) },
      errors: payload.records.map((record, i) => ({ ...common, record, idempotencyKey, retryOf: retryOf[i] ?? null })),
    };
  }
  return {
    kind: 'done',
    message,
    followUps: [],
    delta: { ...NO_DELTA, sourceFailed: true },
    errors: [{
      ...common,
      // The page's cursor is what a retry sends again (retryJobErrors).
      record: payload.kind === 'page' ? { cursor: payload.cursor } : null,
      idempotencyKey: idempotencyKeyOf(message),
      retryOf: retryOf[0] ?? null,
    }],
  };
}

/**
 * The follow-ups of a retried message's records carry which error each
 * record is a retry of (never the key: the later steps' calls are new), so
 * that failing at a later step still names it. routeRecords keeps the
 * records' order, which is what lets the slices line up.
 */
function carryRetryOrigin(origin: RetryOrigin | undefined, followUps: NewMessage[]): NewMessage[] {
  if (!origin) return followUps;
  let next = 0;
  return followUps.map((f) => {
    if (f.payload.kind !== 'records') return f;
    const of = origin.of.slice(next, next + f.payload.records.length);
    next += f.payload.records.length;
    return { ...f, payload: { ...f.payload, retry: { of, generation: origin.generation } } };
  });
}

export async function runMessage(deps: RunDeps, message: ClaimedMessage, controller: AbortController): Promise<Outcome> {
  const signal = controller.signal;
  const startedAt = performance.now();
  const log = connectorLogger(deps.logger, { messageId: message.id, jobId: message.jobId, stepId: message.stepId });
  let step: PlannedStep | undefined;
  let autoRecover = false;
  let credentials: unknown = null;
  let slowDownMs: number | undefined;
  try {
    const plan = await deps.plans.plan(message.jobId, message.payload.retry?.generation);
    step = plan.find((s) => s.id === message.stepId);
    const connection = await deps.plans.connection(message.connectionId);
    if (!step || !connection) return { kind: 'done', message, followUps: [], delta: NO_DELTA, errors: [], unanswered: true }; // deleted meanwhile
    const currentStep = step;
    autoRecover = connection.autoRecover;
    credentials = connection.credentials;
    const ctx: StepCallContext<unknown, unknown, JsonRecord> = {
      config: connection.config,
      credentials,
      signal,
      logger: log,
      stepConfig: currentStep.config,
      idempotencyKey: idempotencyKeyOf(message),
      slowDown: (ms) => {
        if (Number.isFinite(ms) && ms > 0) slowDownMs = Math.max(slowDownMs ?? 0, Math.min(ms, MAX_SLOW_DOWN_MS));
      },
    };
    const timeoutMs = Number(connection.config.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS) + CALL_GRACE_MS;
    // Canceled while the plan loaded, or before this call started (engine.ts
    // remembers recent cancels): no request may leave for a canceled job.
    if (signal.aborted) throw signal.reason;
    const result = await callSpan(message, currentStep, connection.connectorType, () =>
      withDeadline(call(deps, message, currentStep, ctx, connection.connectorType), timeoutMs, () => controller.abort('timeout')),
    );
    const routed = routeRecords(plan, currentStep, message.jobId, result.records);
    // A retried page's records are first attempts; a retried record's go on as its retry.
    const routedFollowUps = message.payload.kind === 'records' ? carryRetryOrigin(message.payload.retry, routed.followUps) : routed.followUps;
    const nextPage = result.next !== undefined && result.next !== null
      ? [{ connectionId: message.connectionId, jobId: message.jobId, stepId: currentStep.id, payload: { kind: 'page' as const, cursor: result.next } }]
      : [];
    return {
      kind: 'done',
      message,
      // The next page first: an export should not wait behind its own records in a shared queue.
      followUps: [...nextPage, ...routedFollowUps],
      delta: { ...NO_DELTA, exported: result.exported ? result.records.length : 0, succeeded: routed.succeeded },
      errors: [],
      slowDownMs,
    };
  } catch (error) {
    if (signal.aborted && signal.reason === 'shutdown') return { kind: 'release', message };
    if (signal.aborted && signal.reason === 'canceled') return { kind: 'done', message, followUps: [], delta: NO_DELTA, errors: [], unanswered: true };
    if (!step) return { kind: 'retry', message, delayMs: backoffMs(deps.retry, message.attempts), refund: false, reason: describeThrown(error) };
    try {
      return classify(deps, message, step, error, { autoRecover, credentials }, log, startedAt);
    } catch {
      // What the plugin threw cannot even be inspected (a throwing getter, a hostile Proxy): still transient.
      return classify(deps, message, step, new TransientError('the connector threw something that cannot be read', 'PLUGIN_ERROR'), { autoRecover, credentials }, log, startedAt);
    }
  }
}

function classify(
  deps: RunDeps,
  message: ClaimedMessage,
  step: PlannedStep,
  error: unknown,
  { autoRecover, credentials }: { autoRecover: boolean; credentials: unknown },
  log: ConnectorLogger,
  startedAt: number,
): Outcome {
  const exhausted = message.attempts >= deps.retry.maxAttempts;
  // By kind, not by class: a plugin's own copy of the SDK makes errors of its own classes.
  const kind = connectorErrorKind(error);
  if (kind === 'permanent') {
    const permanent = error as PermanentError;
    const code = String(permanent.code);
    if (!UNAUTHORIZED_CODES.has(code)) return failed(message, step, code, describeThrown(permanent));
    // Refused credentials: the connection goes OFFLINE, the record keeps its place (connection state).
    return failedCall(deps, message, step, code, describeThrown(permanent), { signal: 'unauthorized', reason: stateReason(code, permanent, credentials) }, exhausted);
  }
  if (kind === 'rate-limited') {
    const limited = error as RateLimitedError;
    const retryAfterMs = typeof limited.retryAfterMs === 'number' && limited.retryAfterMs >= 0 ? limited.retryAfterMs : null;
    const reason = describeThrown(limited);
    const delayMs = retryAfterMs ?? backoffMs(deps.retry, message.attempts);
    log.debug('rate limited', { delayMs, autoRecover });
    // Under auto-recovery a rate limit never fails a record: the attempt is
    // given back, and the queue's pause (limit/recovery.ts) decides when the
    // message, still at the head of its queue, runs again.
    if (autoRecover) {
      return {
        kind: 'retry',
        message,
        delayMs: retryAfterMs ?? FIRST_BACKOFF_MS,
        refund: true,
        reason,
        rateLimited: { retryAfterMs, callStartedAt: startedAt },
      };
    }
    if (exhausted) return failed(message, step, 'RATE_LIMITED', reason);
    return { kind: 'retry', message, delayMs, refund: false, reason };
  }
  // Transient, or anything a plugin threw that is not in the taxonomy: worth another try.
  const code = kind === 'transient' ? String((error as TransientError).code) : 'PLUGIN_ERROR';
  const reason = describeThrown(error);
  // Anything outside the taxonomy is the plugin's problem, never an outage.
  if (kind !== 'transient') {
    if (exhausted) return failed(message, step, code, `${reason} (gave up after ${message.attempts} attempts)`);
    return { kind: 'retry', message, delayMs: backoffMs(deps.retry, message.attempts), refund: false, reason };
  }
  const failure: CallFailure = { signal: UNAVAILABLE_CODES.has(code) ? 'unavailable' : 'transient', reason: stateReason(code, error, credentials) };
  return failedCall(deps, message, step, code, reason, failure, exhausted);
}

/**
 * Codes that say the application served nobody (the http connector's, and
 * what a plugin throws as TransientError(…, 'UNAVAILABLE')), and those that
 * say the connection's credentials were refused (PermanentError(…,
 * 'UNAUTHORIZED') from a plugin). README, "When an API slows down or goes away".
 */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['NETWORK', 'TIMEOUT', 'UNAVAILABLE', 'HTTP_408', 'HTTP_502', 'HTTP_503', 'HTTP_504']);
const UNAUTHORIZED_CODES: ReadonlySet<string> = new Set(['HTTP_401', 'UNAUTHORIZED']);

/**
 * A call that failed as an absent application's would: a retry with its
 * attempt used, or on its last attempt a failed record, which the engine
 * sends back to its place instead should its connection be found away
 * (`failure.held`).
 */
function failedCall(deps: RunDeps, message: ClaimedMessage, step: PlannedStep, code: string, reason: string, failure: CallFailure, exhausted: boolean): Outcome {
  const retry = { kind: 'retry' as const, message, delayMs: backoffMs(deps.retry, message.attempts), refund: false, reason, failure };
  if (!exhausted) return retry;
  const gaveUp = failed(message, step, code, `${reason} (gave up after ${message.attempts} attempts)`);
  return gaveUp.kind === 'done' ? { ...gaveUp, failure: { ...failure, held: retry } } : gaveUp;
}

const REASON_LIMIT = 300;

/** What Connection.stateReason says of an error: its code and message, never a credential (they may be echoed in a body). */
function stateReason(code: string, error: unknown, credentials: unknown): string {
  let text = `${code}: ${describeThrown(error)}`;
  // Only for a failed call: no call pays for walking its credentials.
  for (const secret of secretStrings(credentials)) text = text.split(secret).join('[credential]');
  return text.length > REASON_LIMIT ? `${text.slice(0, REASON_LIMIT - 1)}…` : text;
}

/**
 * The values of decrypted credentials worth scrubbing, at any depth, as they
 * are and as they travel (URL-encoded; a basic pair as its base64): short
 * ones would scrub ordinary words, and `type` and a header's `name` are no
 * secret.
 */
function secretStrings(credentials: unknown): string[] {
  const found = new Set<string>();
  const walk = (value: unknown, key: string | null, depth: number): void => {
    if (depth > 8) return;
    if (typeof value === 'string') {
      if (key === 'type' || key === 'name' || value.length < 6) return;
      found.add(value);
      found.add(encodeURIComponent(value));
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) walk(v, Array.isArray(value) ? key : k, depth + 1);
    }
  };
  walk(credentials, null, 0);
  const basic = credentials as { username?: unknown; password?: unknown } | null;
  if (basic && typeof basic.username === 'string' && typeof basic.password === 'string') {
    found.add(Buffer.from(`${basic.username}:${basic.password}`).toString('base64'));
  }
  // Longest first: a value that contains another is scrubbed whole.
  return [...found].sort((a, b) => b.length - a.length);
}

/** What a thrown value says, whatever it is: String() of an object without a prototype throws, and so may a message getter. */
function describeThrown(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return 'the connector threw something that cannot be read';
  }
}
