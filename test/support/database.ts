/** Per-file databases cloned from the migrated template that globalSetup made. */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { Queryable } from '../../src/engine/sql/queryable';

export const TEMPLATE_DATABASE = 'sluice_template';

function adminUrl(): string {
  const url = process.env.SLUICE_TEST_ADMIN_URL;
  if (!url) throw new Error('SLUICE_TEST_ADMIN_URL is unset: run the tests through jest (test/support/globalSetup.ts)');
  return url;
}

/** A fresh database with every migration applied; its URL. */
export async function createTestDatabase(): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A plain connection to a test server's database for the enclosing block,
 * for what the API does not show: opened before its tests (after the server
 * has started, so declare it after useTestSluice), closed after them.
 */
export function useDatabase(server: { databaseUrl: string }): Queryable {
  let client: Client | undefined;
  beforeAll(async () => {
    client = new Client({ connectionString: server.databaseUrl });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });
  return {
    query: (text, values) => {
      if (!client) throw new Error('useDatabase: the database is used outside a test');
      return client.query(text, values);
    },
  };
}
