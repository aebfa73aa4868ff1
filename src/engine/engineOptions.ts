/**
 * What a process's engine is given at start (src/app.ts builds it from the
 * configuration, tests and benchmarks from their own settings).
 */
import type { CredentialCipher } from '../auth/credentialCipher';
import type { ConnectorRegistry } from '../connectors/registry';
import type { Logger } from '../logger';
import type { EngineMetrics } from './engineMetrics';
import type { ApiShareOptions } from './limit/apiShare';
import type { RetryPolicy } from './retryPolicy';

export interface EngineOptions {
  databaseUrl: string;
  connectors: ConnectorRegistry;
  cipher: CredentialCipher;
  logger: Logger;
  metrics: EngineMetrics;
  /** How long a claimed message belongs to this process without a heartbeat. */
  leaseMs: number;
  /** How often to look for work that no NOTIFY announced. */
  pollMs?: number;
  /** The most messages of one queue this process runs at once. */
  maxInFlightPerQueue?: number;
  retry?: RetryPolicy;
  poolSize?: number;
  /** The API's share of this process (limit/apiShare.ts); tests make it react faster. */
  apiShare?: ApiShareOptions;
  /** Failed calls in a row, of at least two messages, that take a queue owner OFFLINE (default 5). */
  offlineAfterFailedCalls?: number;
  /** The longest wait between two probes of an OFFLINE connection (default 2 minutes). */
  probeMaxBackoffMs?: number;
  /** Counts the connection state changes this engine makes (sluice_connection_state_changes_total). */
  connectionStateChanges?: { inc(labels: { connection: string; to: string; reason: string }): void };
}
