/**
 * The pg pool under TypeORM's DataSource, for the API's hot statements.
 *
 * Every API request used to go through TypeORM's query builder and entity
 * hydration (`find`, `findOne`, `transaction`): under `npm run bench --
 * apiLoad` that was a third of the server's CPU, more than the statements
 * themselves. Plain SQL on the same pool (same connections, same limit)
 * costs a fraction of it; `entityColumns.ts` gives the rows the entities'
 * shape, so the resolvers cannot tell the difference.
 */
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { Queryable } from './queryable';

export function poolOf(db: DataSource): Queryable {
  return pgPoolOf(db);
}

/** The pg Pool itself, for what a Queryable cannot do (taking clients: openWholePool.ts). */
export function pgPoolOf(db: DataSource): Pool {
  const pool = (db.driver as PostgresDriver).master as Pool | undefined;
  if (!pool) throw new Error('the DataSource is not initialized: it has no pool yet');
  return pool;
}
