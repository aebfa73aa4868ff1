import type { EntityManager } from 'typeorm';
import type { Queryable } from './queryable';

/**
 * Lets an API transaction (a TypeORM EntityManager) run the engine's
 * statements, so that, say, a job and its first message commit together.
 * Only for statements whose top level returns rows (SELECT, WITH ... SELECT).
 */
export function typeormQueryable(tx: EntityManager): Queryable {
  return {
    async query(text: string, values?: unknown[]) {
      const rows = await tx.query(text, values);
      return { rows, rowCount: rows.length, command: 'SELECT', oid: 0, fields: [] };
    },
  };
}
