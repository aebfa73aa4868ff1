/**
 * A running Sluice: port → database → services → HTTP server. `main.ts`
 * starts one from the environment; tests start one per file against their
 * own database.
 *
 * The port opens first (http/probes.ts): /livez, /healthz (503: starting)
 * and /metrics answer while the database is waited for and migrated, and
 * /graphql says 503 until the API is ready. It closes last.
 */
import type { DataSource } from 'typeorm';
import { CredentialCipher, loadCredentialsKey } from './auth/credentialCipher';
import { checkCredentialsKey } from './auth/credentialsKeyCheck';
import { moveSecretsOutOfConfig } from './auth/secretsOutOfConfig';
import { installOutboundPolicy } from './connectors/outbound/outboundPolicy';
import { poolOf } from './database/pool';
import type { Config } from './config';
import { httpConnector } from './connectors/http';
import { ConnectorRegistry } from './connectors/registry';
import { loadPlugins } from './connectors/pluginLoader';
import type { Connector } from './connectors/sdk';
import { openDatabase, type Database } from './database/database';
import { DatabaseHealth } from './database/databaseHealth';
import { openPort, type OpenPort } from './http/probes';
import { openWholePool } from './database/openWholePool';
import { loadConsoleBundle } from './http/consoleBundle';
import { startHttpServer, type RunningHttpServer } from './http/server';
import { RequestsInProgress } from './http/requestsInProgress';
import type { Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { registerConnectionStateGauge } from './connectionStateGauge';
import { LiveUpdates } from './schema/live/liveUpdates';
import { QueueEngine, connectionStates, createEngineMetrics, foldQueueTally } from './engine';
import { typeormQueryable } from './database/typeormQueryable';
import { buildSluiceSchema } from './schema';
import { createServices, type Services } from './schema/services';
import { keepJobErrorsFor } from './retention/jobErrorRetention';
import { pgPoolOf } from './database/pool';

export interface RunningSluice {
  url: string;
  /** null for ROLE=api. */
  engine: QueueEngine | null;
  services: Services;
  dataSource: DataSource;
  /** Stops taking requests, then closes the database (and stops the embedded one). */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Aborted: a start still waiting for its database gives up (StartAborted) instead of waiting on. */
  signal?: AbortSignal;
}

export async function startSluice(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningSluice> {
  const health = new DatabaseHealth();
  const metrics = createMetrics(() => health.answers());
  const port = await openPort({ host: config.host, port: config.port, logger, metrics, serveApi: config.role !== 'worker' });
  try {
    return await startOnPort(config, logger, options, port, metrics, health);
  } catch (error) {
    await port.close();
    throw error;
  }
}

async function startOnPort(
  config: Config,
  logger: Logger,
  options: StartOptions,
  port: OpenPort,
  metrics: Metrics,
  health: DatabaseHealth,
): Promise<RunningSluice> {
  const key = loadCredentialsKey(config.credentialsKey);
  // Before any connector can make a call: every socket checks this policy.
  installOutboundPolicy(config.outbound);
  const connectors = new ConnectorRegistry([httpConnector as unknown as Connector]);
  // Before the database: a broken plugin stops the start before anything runs.
  for (const plugin of await loadPlugins(config.connectorPlugins, connectors)) {
    logger.info({ type: plugin.type, version: plugin.version }, 'connector plugin loaded');
  }
  const database: Database = await openDatabase(config.database, logger, { waitMs: config.databaseWaitMs, signal: options.signal });
  health.watch(() => database.dataSource.query('SELECT 1'));
  registerConnectionStateGauge(metrics.registry, () => connectionStates(poolOf(database.dataSource)));
  const cipher = new CredentialCipher(key, (connectionId, reason) =>
    logger.error({ connectionId, reason }, `the stored credentials of connection ${connectionId} cannot be decrypted with CREDENTIALS_KEY (CREDENTIALS_UNREADABLE)`),
  );
  let http: RunningHttpServer | null = null;
  let engine: QueueEngine | null = null;
  let live: LiveUpdates | null = null;
  const stopFolding = foldQueueTally(typeormQueryable(database.dataSource.manager), logger);
  const stopRetention = keepJobErrorsFor(pgPoolOf(database.dataSource), config.jobErrorRetentionDays, logger.child({ component: 'retention' }));
  try {
    // After the migrations, before anything serves or runs: a wrong key stops
    // here; then secrets stored in configs before they were refused move
    // into credentials, sealed with the key just checked.
    try {
      if ((await checkCredentialsKey(poolOf(database.dataSource), cipher)) === 'written') logger.info('credentials key check value written');
      const moved = await moveSecretsOutOfConfig(poolOf(database.dataSource), cipher, logger);
      if (moved > 0) logger.warn({ moved }, 'secrets moved out of connection configs into credentials');
    } catch (error) {
      logger.fatal({ err: error }, error instanceof Error ? error.message : String(error));
      throw error;
    }
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
      metrics,
    });
    if (config.bootstrapAdminToken && (await services.tokens.ensureBootstrapAdmin(config.bootstrapAdminToken)) === 'revoked') {
      logger.warn('BOOTSTRAP_ADMIN_TOKEN names a revoked token: it stays revoked and does not authenticate; set another secret (or unset it)');
    }
    const schema = await buildSluiceSchema();
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
        offlineAfterFailedCalls: config.offlineAfterFailedCalls,
        probeMaxBackoffMs: config.probeMaxBackoffMs,
        connectionStateChanges: metrics.connectionStateChanges,
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
    http = await startHttpServer({
      port,
      schema,
      services,
      logger,
      metrics,
      serveApi: config.role !== 'worker',
      console: config.role !== 'worker' ? loadConsoleBundle() : null,
      connectionInitTimeoutMs: config.connectionInitTimeoutMs,
      corsOrigins: config.corsOrigins,
      maxSocketsPerToken: config.maxSocketsPerToken,
      maxSubscriptionsPerToken: config.maxSubscriptionsPerToken,
      onGraphqlServed: sharing ? (ms) => sharing.apiRequestServed(ms) : undefined,
      graphqlInProgress,
      isHealthy: async () => !closing && (await health.answers()),
    });
    const server = http;
    return {
      url: server.url,
      engine,
      services,
      dataSource: database.dataSource,
      async close() {
        closing = true;
        port.drain();
        // Drain first: running calls finish (or are released) while the database is still up.
        await engine?.stop(config.shutdownGraceMs);
        await server.close();
        await live?.stop();
        await stopFolding();
        await stopRetention();
        health.close();
        await database.close();
        await port.close();
      },
    };
  } catch (error) {
    await engine?.stop(0).catch(() => undefined);
    await http?.close().catch(() => undefined);
    await live?.stop().catch(() => undefined);
    await stopFolding();
    await stopRetention();
    health.close();
    await database.close();
    throw error;
  }
}
