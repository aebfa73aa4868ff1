/** connectionNames: the names of connections by id, for log lines an operator reads (a connection may be renamed: never cached long). */
import type { Queryable } from './queryable';

export async function connectionNames(db: Queryable, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; name: string }>(`SELECT id, name FROM connection WHERE id = ANY($1::uuid[])`, [ids]);
  return new Map(rows.map((r) => [r.id, r.name]));
}
