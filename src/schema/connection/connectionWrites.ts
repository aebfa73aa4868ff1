/**
 * The connection changes an operator makes most (rename, new policy, create,
 * delete), each in as few round trips as its checks allow: one statement
 * where one statement is atomic on its own, instead of TypeORM's
 * START TRANSACTION, SELECT ... FOR UPDATE, UPDATE, COMMIT. The commit is
 * what a mutation waits for (a WAL flush), so every statement saved inside a
 * transaction is also time its row lock is held less.
 */
import type { ConnectionRow } from '../../database/entities';
import { connectionColumns } from '../../database/entityColumns';
import { QUEUE_CHANNEL, STATE_CHANNEL, type PolicyColumns } from '../../engine';
import type { Queryable } from '../../database/queryable';

/** A new connection, every column given; one autocommitted statement. */
export async function insertConnection(sql: Queryable, row: ConnectionRow): Promise<void> {
  await sql.query(
    `INSERT INTO connection (id, name, connector_type, application, config, credentials, borrow_from_id, queue_owner_id,
                             auto_recover, concurrency_level, target_concurrency_level, rate_limit_requests, rate_limit_per_ms,
                             created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     RETURNING id`,
    [
      row.id, row.name, row.connectorType, row.application, JSON.stringify(row.config), row.credentials, row.borrowFromId, row.queueOwnerId,
      row.autoRecover, row.concurrencyLevel, row.targetConcurrencyLevel, row.rateLimitRequests, row.rateLimitPerMs,
      row.createdAt, row.updatedAt,
    ],
  );
}

/**
 * Renames a connection, in one statement (its row lock lasts the statement).
 * Only for edits that leave config and credentials alone: those never touch
 * the borrow graph, nor need an OFFLINE connection probed
 * (ConnectionService.update says why). $2: the new name or null (keep).
 * The updated row, or null when there is no such connection.
 */
export async function renameConnection(sql: Queryable, id: string, change: { name: string | null; updatedAt: Date }): Promise<ConnectionRow | null> {
  const { rows } = await sql.query<ConnectionRow>(
    `UPDATE connection c
        SET name = coalesce($2, c.name), updated_at = $3
      WHERE c.id = $1
     RETURNING ${connectionColumns('c')}`,
    [id, change.name, change.updatedAt],
  );
  return rows[0] ?? null;
}

/**
 * A new concurrency policy for a connection that does not borrow, in one
 * statement: the policy columns, a clean slate for auto-recovery (no pause,
 * no history: the new policy starts fresh), and the NOTIFYs that tell the
 * engine and queueSize subscribers (delivered at commit, so never before the
 * change is visible): sluice_queue to claim, sluice_state so that no
 * dispatcher hands a slot on under the old level before its claim has read
 * the new one. $2: the policy columns as jsonb.
 * The updated row; null when the connection does not exist or borrows (the
 * caller then finds out which, to say so).
 */
export async function setPolicy(sql: Queryable, id: string, policy: PolicyColumns, updatedAt: Date): Promise<ConnectionRow | null> {
  const { rows } = await sql.query<ConnectionRow & { notified: unknown; changed: unknown }>(
    `WITH policy AS (
       SELECT * FROM jsonb_to_record($2::jsonb) AS p(
         "autoRecover" boolean, "concurrencyLevel" int, "targetConcurrencyLevel" int, "rateLimitRequests" int, "rateLimitPerMs" int)
     ), updated AS (
       UPDATE connection c
          SET auto_recover = p."autoRecover", concurrency_level = p."concurrencyLevel",
              target_concurrency_level = p."targetConcurrencyLevel",
              rate_limit_requests = p."rateLimitRequests", rate_limit_per_ms = p."rateLimitPerMs", updated_at = $3,
              paused_until = NULL, known_good_level = NULL, recovery_successes = 0, rate_limited_count = 0,
              rounds_at_ceiling = 0, probe_wait_rounds = DEFAULT, probe_step = DEFAULT,
              rate_limit_paused_at = NULL, rate_limit_headroom = NULL
         FROM policy p
        WHERE c.id = $1 AND c.borrow_from_id IS NULL
       RETURNING ${connectionColumns('c')}
     )
     SELECT updated.*, pg_notify('${QUEUE_CHANNEL}', updated.id::text) AS notified,
            pg_notify('${STATE_CHANNEL}', updated.id::text) AS changed FROM updated`,
    [id, JSON.stringify(policy), updatedAt],
  );
  const row = rows[0];
  if (!row) return null;
  const { notified: _notified, changed: _changed, ...connection } = row;
  return connection;
}

/** What still refers to a connection; `live` is counted only when nothing else does (it may be a long queue). */
export interface ConnectionReferences {
  steps: number;
  borrowers: number;
  live: number;
}

/**
 * Deletes a connection that nothing refers to, in the transaction that holds
 * the borrow-graph lock and the row's lock, and counts what refers to it in
 * the same statement (its snapshot is taken after both locks, so it sees
 * every step or message committed before them; later ones wait for the row
 * lock, their foreign key needs it). Deleted when every count is 0.
 */
export async function deleteUnreferencedConnection(tx: Queryable, id: string): Promise<ConnectionReferences> {
  const { rows } = await tx.query<ConnectionReferences>(
    `WITH refs AS (
       SELECT (SELECT count(*)::int FROM step WHERE connection_id = $1) AS steps,
              (SELECT count(*)::int FROM connection WHERE borrow_from_id = $1) AS borrowers
     ), counts AS (
       SELECT steps, borrowers,
              CASE WHEN steps = 0 AND borrowers = 0
                   THEN (SELECT count(*)::int FROM queue_message WHERE queue_owner_id = $1 OR connection_id = $1)
                   ELSE 0 END AS live
         FROM refs
     ), deleted AS (
       DELETE FROM connection WHERE id = $1 AND (SELECT steps = 0 AND borrowers = 0 AND live = 0 FROM counts)
     )
     SELECT steps, borrowers, live FROM counts`,
    [id],
  );
  return rows[0] as ConnectionReferences;
}
