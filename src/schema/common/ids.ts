import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { isWellFormedId, notFound } from './errors';

/**
 * The row with this id, or NOT_FOUND (a malformed id names nothing too).
 * `lock` takes a row lock for the rest of the transaction.
 */
export async function findOrNotFound<T extends ObjectLiteral>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  what: string,
  id: string,
  lock?: 'pessimistic_write' | 'pessimistic_read',
): Promise<T> {
  if (!isWellFormedId(id)) throw notFound(what, id);
  const row = await manager.findOne(entity, {
    where: { id } as never,
    ...(lock ? { lock: { mode: lock } } : {}),
  });
  if (!row) throw notFound(what, id);
  return row;
}
