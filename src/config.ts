/**
 * The process configuration: read from the environment once, at start, and
 * validated into one typed object. Nothing else in Sluice reads `process.env`.
 */
import { isIP } from 'node:net';
import path from 'node:path';

/** Which parts of Sluice this process runs (contract: "roles of processes"). */
export type ProcessRole = 'all' | 'api' | 'worker';

/** Where the database comes from: an operator's URL, or the embedded default under DATA_DIR. */
export type DatabaseSource =
  | { kind: 'url'; url: string }
  | { kind: 'embedded'; dataDir: string };

/** Where the credentials key comes from. */
export type CredentialsKeySource =
  | { kind: 'env'; key: Buffer }
  | { kind: 'file'; path: string };

/** One CIDR range, e.g. 10.0.0.0/8 or fe80::/10. */
export interface CidrRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
  /** As the operator wrote it, for messages. */
  text: string;
}

/**
 * Which addresses connection calls, pings and redirects may reach (contract:
 * "outbound calls"): never one in `deny`; when `allow` is set, only one in it.
 */
export interface OutboundRanges {
  deny: CidrRange[];
  allow: CidrRange[] | null;
}

/** The link-local ranges: cloud metadata services (169.254.169.254) live there. */
export const DEFAULT_OUTBOUND_DENY = '169.254.0.0/16,fe80::/10';

export interface Config {
  role: ProcessRole;
  host: string;
  port: number;
  database: DatabaseSource;
  dataDir: string;
  credentialsKey: CredentialsKeySource;
  bootstrapAdminToken: string | null;
  maxConcurrencyLevel: number;
  connectorPlugins: string[];
  logLevel: LogLevel;
  /** How long a start waits for an unreachable DATABASE_URL (a logged backoff) before it gives up. */
  databaseWaitMs: number;
  /** Where traces go (OTLP over HTTP); null: tracing is off. */
  otlpTracesEndpoint: string | null;
  /** How long a shutdown waits for running calls before releasing them. */
  shutdownGraceMs: number;
  /** How long a claimed message is this process's without a heartbeat; a crashed process's messages rerun after it. */
  messageLeaseMs: number;
  /** The most calls of one queue this process runs at once (burst mode's bound per process). */
  maxCallsPerQueue: number;
  /** How long a WebSocket may stay open without sending connection_init before it is closed (4408). */
  connectionInitTimeoutMs: number;
  /** Failed calls in a row (network, timeout, 5xx; of at least two messages) that take a queue owner OFFLINE. */
  offlineAfterFailedCalls: number;
  /** The longest wait between two probes of an OFFLINE connection (the backoff grows by half from 1 s up to it). */
  probeMaxBackoffMs: number;
  outbound: OutboundRanges;
  /** Days a RETRIED or RESOLVED JobError is kept after it was closed (at least 30: the contract's promise); OPEN ones are never deleted. */
  jobErrorRetentionDays: number;
  /** Origins browsers may call the API from (CORS); empty: the same origin only. */
  corsOrigins: string[];
  /** WebSockets one token may hold open at once in this process. */
  maxSocketsPerToken: number;
  /** Operations one token may run at once over all its WebSockets in this process. */
  maxSubscriptionsPerToken: number;
}

/** pino's levels; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'CONFIG_ERROR';
  /** The environment variable at fault. */
  readonly variable: string;

  constructor(message: string) {
    super(message);
    this.variable = /^[A-Z][A-Z0-9_]+/.exec(message)?.[0] ?? 'unknown';
  }
}

function logLevel(raw: string | undefined): LogLevel {
  if (raw === undefined || raw === '') return 'info';
  const level = LOG_LEVELS.find((l) => l === raw.toLowerCase());
  if (!level) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return level;
}

/**
 * OpenTelemetry's own variables: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the
 * traces URL as it is; OTEL_EXPORTER_OTLP_ENDPOINT is a base to which
 * /v1/traces is added (the OTLP exporter's specification).
 */
function otlpTracesEndpoint(env: Env): string | null {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const [name, raw, url] = traces
    ? ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces, traces]
    : base
      ? ['OTEL_EXPORTER_OTLP_ENDPOINT', base, `${base.replace(/\/+$/, '')}/v1/traces`]
      : [null, null, null];
  if (name === null) return null;
  if (!/^https?:\/\//.test(raw)) throw new ConfigError(`${name} must be an http:// or https:// URL, got "${raw}"`);
  return url;
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function role(raw: string | undefined): ProcessRole {
  if (raw === undefined || raw === '' || raw === 'all') return 'all';
  if (raw === 'api' || raw === 'worker') return raw;
  throw new ConfigError(`ROLE must be "api" or "worker" (or unset for both), got "${raw}"`);
}

function credentialsKey(env: Env, dataDir: string, database: DatabaseSource): CredentialsKeySource {
  const raw = env.CREDENTIALS_KEY;
  if (raw !== undefined && raw !== '') {
    const key = Buffer.from(raw, 'base64');
    if (key.length !== 32) {
      throw new ConfigError(`CREDENTIALS_KEY must be 32 bytes encoded as base64 (got ${key.length} bytes)`);
    }
    return { kind: 'env', key };
  }
  // With a shared database every process must decrypt what any other wrote,
  // so a key generated on one machine would silently break the others.
  if (database.kind === 'url') {
    throw new ConfigError(
      'CREDENTIALS_KEY is required when DATABASE_URL is set: every Sluice process sharing the database must hold the same key. ' +
        'Generate one with: node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64\'))"',
    );
  }
  return { kind: 'file', path: path.join(dataDir, 'credentials.key') };
}

function cidrRange(name: string, text: string): CidrRange {
  const [address = '', prefixText, ...rest] = text.split('/');
  const family = isIP(address);
  const bits = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (family === 0 || rest.length > 0 || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) || prefix > bits) {
    throw new ConfigError(
      `${name} must be comma-separated CIDR ranges such as 10.0.0.0/8 or fd00::/8; "${text}" is not one (an IPv4 prefix is 0–32, an IPv6 one 0–128)`,
    );
  }
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6', text };
}

function cidrList(name: string, raw: string): CidrRange[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => cidrRange(name, s));
}

/** OUTBOUND_DENY and OUTBOUND_ALLOW; with neither set, the default deny list. */
export function outboundRanges(env: Env): OutboundRanges {
  // Set but empty means "deny nothing": an operator who wants link-local
  // reachable says so explicitly with OUTBOUND_DENY=.
  const deny = cidrList('OUTBOUND_DENY', env.OUTBOUND_DENY ?? DEFAULT_OUTBOUND_DENY);
  const allowRaw = env.OUTBOUND_ALLOW;
  if (allowRaw === undefined || allowRaw.trim() === '') return { deny, allow: null };
  return { deny, allow: cidrList('OUTBOUND_ALLOW', allowRaw) };
}

/** `https://console.example.com,http://localhost:5173`: each an origin (scheme, host, port; no path). */
function corsOrigins(raw: string | undefined): string[] {
  const origins = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const origin of origins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = null;
    }
    if (!parsed || parsed.origin !== origin) {
      throw new ConfigError(`CORS_ORIGINS must be a comma-separated list of origins such as https://console.example.com (no path, no trailing slash), got "${origin}"`);
    }
  }
  return origins;
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(env.DATA_DIR || './.data');
  const databaseUrl = env.DATABASE_URL;
  if (databaseUrl !== undefined && databaseUrl !== '' && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const database: DatabaseSource = databaseUrl ? { kind: 'url', url: databaseUrl } : { kind: 'embedded', dataDir };
  const bootstrap = env.BOOTSTRAP_ADMIN_TOKEN;
  if (bootstrap !== undefined && bootstrap !== '' && bootstrap.length < 16) {
    throw new ConfigError('BOOTSTRAP_ADMIN_TOKEN must be at least 16 characters long');
  }
  return {
    role: role(env.ROLE),
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 4000, 0, 65535),
    database,
    dataDir,
    credentialsKey: credentialsKey(env, dataDir, database),
    bootstrapAdminToken: bootstrap ? bootstrap : null,
    maxConcurrencyLevel: integer(env, 'MAX_CONCURRENCY_LEVEL', 25, 1, 10000),
    connectorPlugins: (env.CONNECTOR_PLUGINS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
    logLevel: logLevel(env.LOG_LEVEL),
    // A few minutes: long enough for a database started beside Sluice (compose, a pod's sidecar) to come up.
    databaseWaitMs: integer(env, 'DATABASE_WAIT_MS', 300000, 0, 86400000),
    otlpTracesEndpoint: otlpTracesEndpoint(env),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 30000, 0, 3600000),
    messageLeaseMs: integer(env, 'MESSAGE_LEASE_MS', 30000, 1000, 600000),
    // 200, not more: the calls in flight when an API load begins are what the
    // API waits behind (BENCHMARKS.md, "API load"); at 200 burst mode keeps
    // its pace against a fast endpoint.
    maxCallsPerQueue: integer(env, 'MAX_CALLS_PER_QUEUE', 200, 1, 100000),
    connectionInitTimeoutMs: integer(env, 'CONNECTION_INIT_TIMEOUT_MS', 10000, 100, 600000),
    offlineAfterFailedCalls: integer(env, 'OFFLINE_AFTER_FAILED_CALLS', 5, 2, 1000),
    // Two minutes: an application back after a long outage waits at most
    // this (and the jitter) for its first call; a probe every two minutes is
    // nothing to an application that is away.
    probeMaxBackoffMs: integer(env, 'PROBE_MAX_BACKOFF_MS', 120000, 1000, 3600000),
    outbound: outboundRanges(env),
    jobErrorRetentionDays: integer(env, 'JOB_ERROR_RETENTION_DAYS', 30, 30, 36500),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    maxSocketsPerToken: integer(env, 'MAX_SOCKETS_PER_TOKEN', 8, 1, 10000),
    maxSubscriptionsPerToken: integer(env, 'MAX_SUBSCRIPTIONS_PER_TOKEN', 100, 1, 100000),
  };
}
