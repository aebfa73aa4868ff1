/**
 * The borrow graph in SQL. Each connection stores the end of its borrow chain
 * (queue_owner_id) so that the engine never walks chains; these statements
 * keep that column true when an edge changes.
 */
import type { EntityManager } from 'typeorm';
import { typeormQueryable } from '../../database/typeormQueryable';
import { moveQueued } from '../../engine';

/**
 * Serializes every change to the borrow graph. Without it two concurrent
 * borrows (A→B and B→A) could each pass the cycle check on a graph that
 * does not yet hold the other's edge. Released at commit. A statement
 * without parameters, so that it can ride with BEGIN (database/transaction.ts).
 */
export const LOCK_BORROW_GRAPH = `SELECT pg_advisory_xact_lock(hashtext('sluice.borrow_graph'))`;

export async function lockBorrowGraph(tx: EntityManager): Promise<void> {
  await tx.query(LOCK_BORROW_GRAPH);
}

/** The connection and every connection that borrows from it, directly or through a chain. */
export async function subtreeIds(tx: EntityManager, rootId: string): Promise<string[]> {
  const rows: { id: string }[] = await tx.query(
    `WITH RECURSIVE subtree(id) AS (
       SELECT $1::uuid
       UNION
       SELECT c.id FROM connection c JOIN subtree s ON c.borrow_from_id = s.id
     )
     SELECT id FROM subtree`,
    [rootId],
  );
  return rows.map((r) => r.id);
}

/**
 * Points a subtree at its new queue owner; the engine's store moves the
 * queued messages of its connections into that queue (engine/sql/
 * moveQueued.ts). Running messages finish where they started.
 */
export async function moveSubtreeToQueueOwner(tx: EntityManager, rootId: string, queueOwnerId: string): Promise<void> {
  const ids = await subtreeIds(tx, rootId);
  await tx.query(`UPDATE connection SET queue_owner_id = $2 WHERE id = ANY($1::uuid[]) AND queue_owner_id <> $2`, [ids, queueOwnerId]);
  await moveQueued(typeormQueryable(tx), ids, queueOwnerId);
}
