/** The services the resolvers call, built once per process around one DataSource. */
import type { DataSource } from 'typeorm';
import { poolOf } from '../database/pool';
import type { Queryable } from '../database/queryable';
import type { CredentialCipher } from '../auth/credentialCipher';
import type { ConnectorRegistry } from '../connectors/registry';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { ConnectionService } from './connection/connection.service';
import { ConnectionStateService } from './connection/connectionState.service';
import { QueueStatsReader } from './connection/queueStats';
import { FlowService } from './flow/flow.service';
import { JobService } from './job/job.service';
import { JobErrorService } from './jobError/jobError.service';
import { TokenService } from './token/token.service';
import type { LiveUpdates } from './live/liveUpdates';

export interface Services {
  db: DataSource;
  /** The DataSource's pool, for plain SQL on the hot paths (database/pool.ts). */
  sql: Queryable;
  connectors: ConnectorRegistry;
  maxConcurrencyLevel: number;
  connections: ConnectionService;
  /** pauseConnection and resumeConnection. */
  connectionStates: ConnectionStateService;
  queueStats: QueueStatsReader;
  flows: FlowService;
  jobs: JobService;
  jobErrors: JobErrorService;
  tokens: TokenService;
  /** The hub behind subscriptions; null where no API is served (ROLE=worker). */
  live: LiveUpdates | null;
}

export function createServices(options: {
  db: DataSource;
  connectors: ConnectorRegistry;
  cipher: CredentialCipher;
  maxConcurrencyLevel: number;
  logger: Logger;
  live: LiveUpdates | null;
  /** The process's metrics: the API counts the state changes it makes. */
  metrics: Pick<Metrics, 'connectionStateChanges'>;
}): Services {
  const { db, connectors, cipher, maxConcurrencyLevel, logger, live, metrics } = options;
  return {
    db,
    sql: poolOf(db),
    connectors,
    maxConcurrencyLevel,
    connections: new ConnectionService(db, connectors, cipher, maxConcurrencyLevel, logger),
    connectionStates: new ConnectionStateService(poolOf(db), logger, metrics.connectionStateChanges),
    queueStats: new QueueStatsReader(poolOf(db)),
    flows: new FlowService(db, connectors),
    jobs: new JobService(db, logger),
    jobErrors: new JobErrorService(poolOf(db), logger.child({ component: 'jobErrors' })),
    tokens: new TokenService(db),
    live,
  };
}
