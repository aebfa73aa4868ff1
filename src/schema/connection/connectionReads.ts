/**
 * The connection rows a `connections` or `connection` query starts from,
 * each with its queue owner's numbers from queue_tally (see queueStats.ts) in
 * the same statement: a dashboard's list asks for queueSize and inFlight of
 * every connection, and reading them in a second statement was a second
 * round trip on the API's most frequent request. The resolver primes the
 * request's loaders with both, so the field resolvers read nothing more.
 */
import type { ConnectionRow } from '../../database/entities';
import { connectionColumns } from '../../database/entityColumns';
import type { Queryable } from '../../database/queryable';
import type { Page } from '../common/paging';
import type { QueueCounts } from './queueStats';

export interface ConnectionWithCounts {
  row: ConnectionRow;
  /** Of the row's queue owner (itself unless it borrows). */
  counts: QueueCounts;
}

/**
 * $1: one connection's id, or null for every connection (oldest first);
 * $2: the id of the row to start after (paging, by created_at then id), or
 * null; $3: how many rows at most, or null for all (LIMIT NULL is no limit).
 * The tally is summed per row's queue owner (a handful of rows each, on
 * queue_tally_owner_idx); no locks.
 */
const SELECT_WITH_COUNTS = `
  SELECT ${connectionColumns('c')}, tally.queued AS "queueSize", tally.running AS "inFlight"
    FROM connection c
    LEFT JOIN LATERAL (
      SELECT sum(t.queued) AS queued, sum(t.running) AS running FROM queue_tally t WHERE t.queue_owner_id = c.queue_owner_id
    ) tally ON true
   WHERE ($1::uuid IS NULL OR c.id = $1::uuid)
     AND ($2::uuid IS NULL OR (c.created_at, c.id) > (SELECT a.created_at, a.id FROM connection a WHERE a.id = $2::uuid))
   ORDER BY c.created_at, c.id
   LIMIT $3::int`;

/** `page`: which of every connection (oldest first); ignored with an id. */
export async function connectionsWithCounts(
  sql: Queryable,
  id: string | null,
  page: Page = { first: null, after: null },
): Promise<ConnectionWithCounts[]> {
  const { rows } = await sql.query<ConnectionRow & { queueSize: string | null; inFlight: string | null }>(SELECT_WITH_COUNTS, [
    id,
    id === null ? page.after : null,
    id === null ? page.first : null,
  ]);
  return rows.map(({ queueSize, inFlight, ...row }) => ({ row, counts: { queueSize: Number(queueSize ?? 0), inFlight: Number(inFlight ?? 0) } }));
}
