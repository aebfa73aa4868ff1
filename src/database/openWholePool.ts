/**
 * The API's pool is opened whole when the process starts serving, and stays
 * open (`min` = `max` in ormconfig.ts, so no idle connection is closed).
 *
 * Why: a load that meets a pool of one or two connections opens the rest in
 * its first second, and a new PostgreSQL backend is dear while the engine
 * keeps both cores busy: a fork, a SCRAM exchange (PBKDF2 on both sides),
 * and catalog caches that each first query of each kind fills. Under
 * `BENCH_APILOAD_SECONDS=15 npm run bench -- apiLoad` (250 requests/s
 * against a burst flow, MAX_CALLS_PER_QUEUE 200), the requests of the
 * load's first 200–300 ms took up to ~200 ms with the pool opened on demand,
 * and under ~110 ms with it opened at start (BENCHMARKS.md, "API load").
 */
import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import { pgPoolOf } from './pool';

export async function openWholePool(db: DataSource): Promise<void> {
  const pool = pgPoolOf(db);
  const size = pool.options.max ?? 10;
  // All at once: a client released before the others are taken would only be handed out again.
  const clients: PoolClient[] = await Promise.all(Array.from({ length: size }, () => pool.connect()));
  try {
    // One statement each, so that the backend has started and read the catalog it needs for any query.
    await Promise.all(clients.map((c) => c.query('SELECT 1 FROM connection LIMIT 0')));
  } finally {
    for (const c of clients) c.release();
  }
}
