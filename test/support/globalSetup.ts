/**
 * One embedded PostgreSQL for the whole test run, with a template database
 * that already has every migration and stored function: each test file clones it (CREATE DATABASE
 * ... TEMPLATE), which takes milliseconds and gives the file its own data.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createDataSource } from '../../ormconfig';
import { EmbeddedPostgres } from '../../src/database/embeddedPostgres';
import { applySqlFunctions } from '../../src/database/sqlFunctions';
import { engineFunctionFiles } from '../../src/engine/sql/functionFiles';
import { TEMPLATE_DATABASE } from './database';

declare global {
  // eslint-disable-next-line no-var
  var __SLUICE_TEST_PG__: { pg: EmbeddedPostgres; dir: string } | undefined;
}

export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-test-'));
  const pg = new EmbeddedPostgres({ clusterDir: path.join(dir, 'pg'), passwordFile: path.join(dir, 'pg-password') });
  await pg.start();
  const adminUrl = await pg.url('postgres');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await client.end();
  const templateUrl = await pg.url(TEMPLATE_DATABASE);
  const ds = createDataSource(templateUrl, 2);
  await ds.initialize();
  await ds.runMigrations({ transaction: 'all' });
  await ds.destroy();
  // The stored functions, as a start applies them after the migrations (src/database/database.ts).
  const template = new Client({ connectionString: templateUrl });
  await template.connect();
  try {
    await applySqlFunctions(template, engineFunctionFiles());
  } finally {
    await template.end();
  }
  process.env.SLUICE_TEST_ADMIN_URL = adminUrl;
  globalThis.__SLUICE_TEST_PG__ = { pg, dir };
}
