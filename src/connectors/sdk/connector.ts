/**
 * The contract a connector implements. Plugins depend on this module (and
 * nothing else of Sluice): a few verbs, an explicit context argument, JSON
 * Schemas for everything a user types in, and the error classes of errors.ts.
 */
import type { StepKindName } from './stepKind';

/** A JSON Schema (draft 2020-12 or 07), as ajv accepts it. */
export type JsonSchema = Record<string, unknown>;

/** The SDK major version a connector was written against; the loader refuses others. */
export const SDK_VERSION = 1;

export interface ConnectorLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What every call gets: its connection's settings and secrets, a cancel signal and a logger. */
export interface CallContext<Config, Credentials> {
  /** The connection's validated, non-secret config. */
  config: Config;
  /** The decrypted credentials, or null when the connection has none. */
  credentials: Credentials | null;
  /** Aborted when the job is canceled or the process shuts down. */
  signal: AbortSignal;
  logger: ConnectorLogger;
}

export interface PingResult {
  ok: boolean;
  message?: string;
}

/** One step kind a connector supports: the schema of a step's config for that kind. */
export interface StepDefinition {
  configSchema: JsonSchema;
}

export interface Connector<Config = Record<string, unknown>, Credentials = Record<string, unknown>> {
  sdkVersion: typeof SDK_VERSION;
  /** Unique plugin id, e.g. "http". */
  type: string;
  displayName: string;
  version: string;
  /** JSON Schema of a connection's non-secret config. */
  configSchema: JsonSchema;
  /** JSON Schema of a connection's write-only credentials. */
  credentialsSchema: JsonSchema;
  /** The step kinds this connector supports, each with its step config schema. */
  steps: Partial<Record<StepKindName, StepDefinition>>;
  /** The identity of the external endpoint (for http: the origin of baseUrl). */
  application(config: Config): string;
  /** A cheap authenticated request that tells whether the connection works. */
  ping?(ctx: CallContext<Config, Credentials>): Promise<PingResult>;
}

/** Identity function that gives a plugin author type checking and inference. */
export function defineConnector<Config, Credentials>(
  connector: Connector<Config, Credentials>,
): Connector<Config, Credentials> {
  return connector;
}
