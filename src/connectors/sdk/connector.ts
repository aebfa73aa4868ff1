/**
 * The contract a connector implements. Plugins depend on this module (and
 * nothing else of Sluice): a few verbs, an explicit context argument, JSON
 * Schemas for everything a user types in, and the error classes of errors.ts.
 */

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
  /** When not ok: a short machine code (e.g. HTTP_401, OUTBOUND_DENIED), shown by testConnection. */
  code?: string;
}

/** A JSON object: a record, or a step's validated config. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonRecord = Record<string, any>;

/** What every step call gets on top of CallContext. */
export interface StepCallContext<Config, Credentials, StepConfig> extends CallContext<Config, Credentials> {
  /** The step's validated config (defaults filled in). */
  stepConfig: StepConfig;
  /** Unique to this message and the same on every retry of it: send it so the application can deduplicate. */
  idempotencyKey: string;
  /**
   * The call succeeded, but the application says its limit is used up for
   * this long (e.g. RateLimit-Remaining: 0): the whole queue waits that long
   * instead of drawing a rate-limit error. Optional for a connector to call.
   */
  slowDown(waitMs: number): void;
}

export interface ExportPage {
  records: JsonRecord[];
  /** Where the next page starts (any JSON), or null when this was the last page. */
  next: unknown;
}

/** Source: reads one page per call; the engine enqueues the next page when this one returns. */
export interface ExportStep<Config, Credentials, StepConfig = JsonRecord> {
  configSchema: JsonSchema;
  exportPage(ctx: StepCallContext<Config, Credentials, StepConfig> & { cursor: unknown }): Promise<ExportPage>;
}

/** Source: fetches a whole file and returns its rows as records. */
export interface DownloadStep<Config, Credentials, StepConfig = JsonRecord> {
  configSchema: JsonSchema;
  download(ctx: StepCallContext<Config, Credentials, StepConfig>): Promise<JsonRecord[]>;
}

/** Per record: returns the record enriched with what it looked up. */
export interface LookupStep<Config, Credentials, StepConfig = JsonRecord> {
  configSchema: JsonSchema;
  lookup(ctx: StepCallContext<Config, Credentials, StepConfig> & { record: JsonRecord }): Promise<JsonRecord>;
}

/** Per record or batch: writes the records to the application. */
export interface ImportStep<Config, Credentials, StepConfig = JsonRecord> {
  configSchema: JsonSchema;
  /** Largest batch the connector accepts; the engine reads `batchSize` from the step config. */
  importRecords(ctx: StepCallContext<Config, Credentials, StepConfig> & { records: JsonRecord[] }): Promise<void>;
}

/** The step kinds a connector supports, each with its step config schema and its call. */
export interface ConnectorSteps<Config, Credentials> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  EXPORT?: ExportStep<Config, Credentials, any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  DOWNLOAD?: DownloadStep<Config, Credentials, any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  LOOKUP?: LookupStep<Config, Credentials, any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  IMPORT?: ImportStep<Config, Credentials, any>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Connector<Config = any, Credentials = any> {
  sdkVersion: typeof SDK_VERSION;
  /** Unique plugin id, e.g. "http". */
  type: string;
  displayName: string;
  version: string;
  /** JSON Schema of a connection's non-secret config. */
  configSchema: JsonSchema;
  /** JSON Schema of a connection's write-only credentials. */
  credentialsSchema: JsonSchema;
  /** The step kinds this connector supports, each with its step config schema and call. */
  steps: ConnectorSteps<Config, Credentials>;
  /** The identity of the external endpoint (for http: the origin of baseUrl). */
  application(config: Config): string;
  /** A cheap authenticated request that tells whether the connection works. */
  ping?(ctx: CallContext<Config, Credentials>): Promise<PingResult>;
  /**
   * Whether `ping` tells, for this config, that the application is back: the
   * engine probes an OFFLINE connection with the ping when true, else with
   * the first of its waiting messages. Absent: whenever there is a ping.
   */
  pingConfigured?(config: Config): boolean;
}

/** Identity function that gives a plugin author type checking and inference. */
export function defineConnector<Config, Credentials>(
  connector: Connector<Config, Credentials>,
): Connector<Config, Credentials> {
  return connector;
}
