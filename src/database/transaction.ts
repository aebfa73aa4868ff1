/**
 * A transaction on one client of the pg pool (pool.ts), for the API's hot
 * mutations. TypeORM's `transaction` sends START TRANSACTION and COMMIT as
 * round trips of their own around its query builder's statements; here
 * `first`, a statement without parameters (a lock, say), rides with BEGIN in
 * one round trip (a simple-protocol query string may hold several
 * statements; the transaction opened by its BEGIN lasts past its end).
 */
import type { Pool, PoolClient } from 'pg';
import type { Queryable } from './queryable';

export async function inTransaction<T>(pool: Queryable, work: (tx: Queryable) => Promise<T>, first?: string): Promise<T> {
  const client: PoolClient = await (pool as Pool).connect();
  let broken: Error | undefined;
  try {
    await client.query(first === undefined ? 'BEGIN' : `BEGIN; ${first}`);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A client whose ROLLBACK fails (connection lost) must not go back to the pool.
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}
