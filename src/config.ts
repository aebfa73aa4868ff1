/**
 * The process configuration: read from the environment once, at start, and
 * validated into one typed object. Nothing else in Sluice reads `process.env`.
 */
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
  logLevel: string;
  /** How long a shutdown waits for running calls before releasing them. */
  shutdownGraceMs: number;
  /** How long a claimed message is this process's without a heartbeat; a crashed process's messages rerun after it. */
  messageLeaseMs: number;
  /** The most calls of one queue this process runs at once (burst mode's bound per process). */
  maxCallsPerQueue: number;
  /** How long a WebSocket may stay open without sending connection_init before it is closed (4408). */
  connectionInitTimeoutMs: number;
  /** Origins browsers may call the API from (CORS); empty: the same origin only. */
  corsOrigins: string[];
  /** WebSockets one token may hold open at once in this process. */
  maxSocketsPerToken: number;
  /** Operations one token may run at once over all its WebSockets in this process. */
  maxSubscriptionsPerToken: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
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
    logLevel: env.LOG_LEVEL || 'info',
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 30000, 0, 3600000),
    messageLeaseMs: integer(env, 'MESSAGE_LEASE_MS', 30000, 1000, 600000),
    // 200, not more: the calls in flight when an API load begins are what the
    // API waits behind (BENCHMARKS.md, "API load"); at 200 burst mode keeps
    // its pace against a fast endpoint.
    maxCallsPerQueue: integer(env, 'MAX_CALLS_PER_QUEUE', 200, 1, 100000),
    connectionInitTimeoutMs: integer(env, 'CONNECTION_INIT_TIMEOUT_MS', 10000, 100, 600000),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    maxSocketsPerToken: integer(env, 'MAX_SOCKETS_PER_TOKEN', 8, 1, 10000),
    maxSubscriptionsPerToken: integer(env, 'MAX_SUBSCRIPTIONS_PER_TOKEN', 100, 1, 100000),
  };
}
