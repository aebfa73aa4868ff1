import { Client } from 'pg';
import { startTestSluice, type TestSluice } from '../support/sluice';

/** The API's connections to this server's database, as PostgreSQL sees them (the engine's and LISTEN's have their own names). */
async function apiBackends(server: TestSluice): Promise<number> {
  const db = new Client({ connectionString: server.databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sluice' AND pid <> pg_backend_pid()`,
    );
    return rows[0]!.n;
  } finally {
    await db.end();
  }
}

describe('openWholePool', () => {
  it('opens every connection of the API pool at start and keeps them open while idle', async () => {
    const server = await startTestSluice();
    try {
      expect(await apiBackends(server)).toBe(20);
      const { connections } = await server.ok<{ connections: unknown[] }>(`{ connections { id } }`);
      expect(connections).toEqual([]);
      // pg-pool closes idle connections above `min` after idleTimeoutMillis (10 s by default): none may go.
      await new Promise((r) => setTimeout(r, 11000));
      expect(await apiBackends(server)).toBe(20);
    } finally {
      await server.close();
    }
  }, 30000);

  it('leaves a worker process with the pool opened on demand', async () => {
    const server = await startTestSluice({ env: { ROLE: 'worker' } });
    try {
      expect(await apiBackends(server)).toBeLessThan(20);
    } finally {
      await server.close();
    }
  });
});
