/**
 * Opens the database Sluice runs on: DATABASE_URL when set, otherwise the
 * embedded PostgreSQL under DATA_DIR (started here, stopped by `close`). The
 * schema is brought up to date before anything else touches it.
 */
import path from 'node:path';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../ormconfig';
import type { DatabaseSource } from '../config';
import type { Logger } from '../logger';
import { engineFunctionFiles } from '../engine';
import { EmbeddedPostgres } from './embeddedPostgres';
import { applySqlFunctions } from './sqlFunctions';
import { waitForDatabase } from './waitForDatabase';

export interface OpenOptions {
  poolSize?: number;
  /** How long to wait for a DATABASE_URL that does not answer yet (waitForDatabase.ts). */
  waitMs?: number;
  /** Calls the wait off (a signal while starting). */
  signal?: AbortSignal;
}

export interface Database {
  url: string;
  dataSource: DataSource;
  /** Closes the pool, then stops the embedded server if this process started one. */
  close(): Promise<void>;
}

const EMBEDDED_DATABASE = 'sluice';

/** Any key will do, as long as every Sluice process uses the same one. */
const MIGRATION_LOCK_KEY = 'sluice.migrations';

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

/**
 * Runs pending migrations, then the repeatable step that brings the stored
 * functions up to their files (sqlFunctions.ts), while holding a session
 * advisory lock, so that several processes starting at once against one
 * database migrate it once.
 */
export async function migrate(dataSource: DataSource, url: string, logger: Logger): Promise<void> {
  const lock = new Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'all' });
    for (const m of applied) logger.info({ migration: m.name }, 'migration applied');
    for (const name of await applySqlFunctions(lock, engineFunctionFiles())) logger.info({ function: name }, 'stored function applied');
  } finally {
    await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.end();
  }
}

export async function openDatabase(source: DatabaseSource, logger: Logger, options: OpenOptions = {}): Promise<Database> {
  const poolSize = options.poolSize ?? 20;
  let embedded: EmbeddedPostgres | null = null;
  let url: string;
  if (source.kind === 'url') {
    url = source.url;
    await waitForDatabase(url, { waitMs: options.waitMs ?? 0, logger, signal: options.signal });
  } else {
    embedded = new EmbeddedPostgres({
      clusterDir: path.join(source.dataDir, 'pg'),
      passwordFile: path.join(source.dataDir, 'pg-password'),
      log: (line) => logger.debug({ postgres: line.trim() }, 'embedded postgres'),
    });
    await embedded.start();
    await ensureDatabase(await embedded.url('postgres'), EMBEDDED_DATABASE);
    url = await embedded.url(EMBEDDED_DATABASE);
    logger.info({ dataDir: source.dataDir, port: await embedded.port }, 'embedded PostgreSQL started');
  }
  const dataSource = createDataSource(url, poolSize);
  try {
    await dataSource.initialize();
    await migrate(dataSource, url, logger);
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw error;
  }
  return {
    url,
    dataSource,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}
