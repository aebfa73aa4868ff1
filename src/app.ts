/**
 * A running Sluice: database → services → HTTP server. `main.ts` starts one
 * from the environment; tests start one per file against their own database.
 */
import type { DataSource } from 'typeorm';
import { CredentialCipher, loadCredentialsKey } from './auth/credentialCipher';
import type { Config } from './config';
import { httpConnector } from './connectors/http';
import { ConnectorRegistry } from './connectors/registry';
import type { Connector } from './connectors/sdk';
import { openDatabase, type Database } from './database/database';
import { startHttpServer, type RunningHttpServer } from './http/server';
import type { Logger } from './logger';
import { createMetrics } from './metrics';
import { buildSluiceSchema } from './schema';
import { createServices, type Services } from './schema/services';

export interface RunningSluice {
  url: string;
  services: Services;
  dataSource: DataSource;
  /** Stops taking requests, then closes the database (and stops the embedded one). */
  close(): Promise<void>;
}

export async function startSluice(config: Config, logger: Logger): Promise<RunningSluice> {
  const key = loadCredentialsKey(config.credentialsKey);
  const connectors = new ConnectorRegistry([httpConnector as unknown as Connector]);
  const database: Database = await openDatabase(config.database, logger);
  let http: RunningHttpServer | null = null;
  try {
    const services = createServices({
      db: database.dataSource,
      connectors,
      cipher: new CredentialCipher(key),
      maxConcurrencyLevel: config.maxConcurrencyLevel,
      logger,
    });
    if (config.bootstrapAdminToken) await services.tokens.ensureBootstrapAdmin(config.bootstrapAdminToken);
    const schema = await buildSluiceSchema();
    let closing = false;
    http = await startHttpServer(
      {
        schema,
        services,
        logger,
        metrics: createMetrics(),
        serveApi: config.role !== 'worker',
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
      services,
      dataSource: database.dataSource,
      async close() {
        closing = true;
        await server.close();
        await database.close();
      },
    };
  } catch (error) {
    await http?.close().catch(() => undefined);
    await database.close();
    throw error;
  }
}
