/**
 * A running Sluice: database → services → HTTP server. `main.ts` starts one
 * from the environment; tests start one per file against their own database.
 */
import type { DataSource } from 'typeorm';
import { CredentialCipher, loadCredentialsKey } from './auth/credentialCipher';
import type { Config } from './config';
import { httpConnector } from './connectors/http';
import { ConnectorRegistry } from './connectors/registry';
import { loadPlugins } from './connectors/pluginLoader';
import type { Connector } from './connectors/sdk';
import { openDatabase, type Database } from './database/database';
import { openWholePool } from './database/openWholePool';
import { startHttpServer, type RunningHttpServer } from './http/server';
import { RequestsInProgress } from './http/requestsInProgress';
import type { Logger } from './logger';
import { createMetrics } from './metrics';
import { LiveUpdates } from './schema/live/liveUpdates';
import { QueueEngine } from './engine/engine';
import { createEngineMetrics } from './engine/engineMetrics';
import { foldQueueTally } from './engine/queueTallyFolding';
import { typeormQueryable } from './database/typeormQueryable';
import { buildSluiceSchema } from './schema';
import { createServices, type Services } from './schema/services';

export interface RunningSluice {
  url: string;
  /** null for ROLE=api. */
  engine: QueueEngine | null;
  services: Services;
  dataSource: DataSource;
  /** Stops taking requests, then closes the database (and stops the embedded one). */
  close(): Promise<void>;
}

export async function startSluice(config: Config, logger: Logger): Promise<RunningSluice> {
  const key = loadCredentialsKey(config.credentialsKey);
  const connectors = new ConnectorRegistry([httpConnector as unknown as Connector]);
  // Before the database: a broken plugin stops the start before anything runs.
  for (const plugin of await loadPlugins(config.connectorPlugins, connectors)) {
    logger.info({ type: plugin.type, version: plugin.version }, 'connector plugin loaded');
  }
  const database: Database = await openDatabase(config.database, logger);
  const cipher = new CredentialCipher(key);
  let http: RunningHttpServer | null = null;
  let engine: QueueEngine | null = null;
  let live: LiveUpdates | null = null;
  const stopFolding = foldQueueTally(typeormQueryable(database.dataSource.manager), logger);
  try {
    if (config.role !== 'worker') {
      await openWholePool(database.dataSource);
      live = new LiveUpdates(database.dataSource, database.url, logger.child({ component: 'live' }));
      await live.start();
    }
    const services = createServices({
      live,
      db: database.dataSource,
      connectors,
      cipher,
      maxConcurrencyLevel: config.maxConcurrencyLevel,
      logger,
    });
    if (config.bootstrapAdminToken) await services.tokens.ensureBootstrapAdmin(config.bootstrapAdminToken);
    const schema = await buildSluiceSchema();
    const metrics = createMetrics();
    if (config.role !== 'api') {
      const running: QueueEngine = new QueueEngine({
        databaseUrl: database.url,
        connectors,
        cipher,
        logger: logger.child({ component: 'engine' }),
        metrics: createEngineMetrics(
          metrics.registry,
          (): Map<string, number> => running.inFlight(),
          (): Promise<Map<string, number>> => running.queuedByOwner(),
          (): number | null => running.apiShareBudget(),
        ),
        leaseMs: config.messageLeaseMs,
        maxInFlightPerQueue: config.maxCallsPerQueue,
      });
      await running.start();
      engine = running;
    }
    let closing = false;
    // The engine leaves the API a share of the process only where the two
    // share it (ROLE=all). Split, an API process has no engine to slow down
    // and a worker sees no API requests: each runs unbounded (and a worker
    // competes with API processes only for the database).
    const sharing = config.role === 'all' ? engine : null;
    const graphqlInProgress = sharing ? new RequestsInProgress() : undefined;
    if (sharing && graphqlInProgress) sharing.watchApiRequests(graphqlInProgress);
    http = await startHttpServer(
      {
        schema,
        services,
        logger,
        metrics,
        serveApi: config.role !== 'worker',
        connectionInitTimeoutMs: config.connectionInitTimeoutMs,
        corsOrigins: config.corsOrigins,
        maxSocketsPerToken: config.maxSocketsPerToken,
        maxSubscriptionsPerToken: config.maxSubscriptionsPerToken,
        onGraphqlServed: sharing ? (ms) => sharing.apiRequestServed(ms) : undefined,
        graphqlInProgress,
        isHealthy: async () => {
          if (closing || !database.dataSource.isInitialized) return false;
          try {
            await database.dataSource.query('SELECT 1');
            return true;
          } catch {
            return false;
          }
        },
      },
      config.host,
      config.port,
    );
    const server = http;
    return {
      url: server.url,
      engine,
      services,
      dataSource: database.dataSource,
      async close() {
        closing = true;
        // Drain first: running calls finish (or are released) while the database is still up.
        await engine?.stop(config.shutdownGraceMs);
        await server.close();
        await live?.stop();
        await stopFolding();
        await database.close();
      },
    };
  } catch (error) {
    await engine?.stop(0).catch(() => undefined);
    await http?.close().catch(() => undefined);
    await live?.stop().catch(() => undefined);
    await stopFolding();
    await database.close();
    throw error;
  }
}
