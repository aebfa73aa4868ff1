/**
 * An operator's changes of connection state (pauseConnection,
 * resumeConnection) and the "probe it now" of a connection whose config or
 * credentials changed. Each is one UPDATE of the connection's row, then a
 * NOTIFY of its queue owner on sluice_state and sluice_queue, so that every
 * process's dispatchers claim again (handing nothing off before) and live
 * updates re-read the state. FOR NO KEY UPDATE: the inserts of messages,
 * whose foreign key takes KEY SHARE on the row, are not held up. Run them inside the caller's
 * transaction: the NOTIFY is delivered at its commit.
 *
 * The claim reads the state under the queue's lock (sluice_claim.sql):
 * a pause committed before a claim is obeyed by it, in every process; calls
 * already running finish.
 */
import type { ConnectionStateName } from '../../database/entities';
import { QUEUE_CHANNEL, STATE_CHANNEL } from '../channels';
import type { Queryable } from './queryable';

/** Every process's dispatchers of these queues claim again, handing nothing off before; live updates re-read them. */
export async function notifyStateChanged(db: Queryable, ownerIds: string[]): Promise<void> {
  await db.query(
    `SELECT pg_notify('${STATE_CHANNEL}', owner::text), pg_notify('${QUEUE_CHANNEL}', owner::text) FROM unnest($1::uuid[]) AS owner`,
    [ownerIds],
  );
}

export interface StateChange {
  queueOwnerId: string;
  from: ConnectionStateName;
  to: ConnectionStateName;
}

/** PAUSED with `reason` (a pause of a paused connection changes its reason only). Null: no such connection. */
export async function pauseConnection(db: Queryable, connectionId: string, reason: string | null): Promise<StateChange | null> {
  const { rows } = await db.query<{ queue_owner_id: string; from_state: ConnectionStateName }>(
    `WITH before AS (SELECT id, state FROM connection WHERE id = $1 FOR NO KEY UPDATE)
     UPDATE connection c
        SET state = 'PAUSED', state_reason = $2,
            state_changed_at = CASE WHEN before.state = 'PAUSED' THEN c.state_changed_at ELSE now() END,
            next_probe_at = NULL, probe_backoff_ms = NULL, probe_lease_until = NULL, probe_failures = 0
       FROM before WHERE c.id = before.id
     RETURNING c.queue_owner_id, before.state AS from_state`,
    [connectionId, reason],
  );
  const row = rows[0];
  if (!row) return null;
  await notifyStateChanged(db, [row.queue_owner_id]);
  return { queueOwnerId: row.queue_owner_id, from: row.from_state, to: 'PAUSED' };
}

/**
 * Ends a pause (PAUSED → ONLINE); an OFFLINE connection is probed at once
 * (it stays OFFLINE until the probe answers); an ONLINE one is left as it is.
 * Null: no such connection.
 */
export async function resumeConnection(db: Queryable, connectionId: string): Promise<StateChange | null> {
  const { rows } = await db.query<{ queue_owner_id: string; from_state: ConnectionStateName; to_state: ConnectionStateName }>(
    `WITH before AS (SELECT id, state FROM connection WHERE id = $1 FOR NO KEY UPDATE)
     UPDATE connection c
        SET state = CASE WHEN before.state = 'PAUSED' THEN 'ONLINE' ELSE c.state END,
            state_reason = CASE WHEN before.state = 'PAUSED' THEN NULL ELSE c.state_reason END,
            state_changed_at = CASE WHEN before.state = 'PAUSED' THEN now() ELSE c.state_changed_at END,
            next_probe_at = CASE WHEN before.state = 'OFFLINE' THEN now() ELSE c.next_probe_at END,
            probe_backoff_ms = CASE WHEN before.state = 'OFFLINE' THEN 1000 ELSE c.probe_backoff_ms END,
            failed_calls = CASE WHEN before.state = 'PAUSED' THEN 0 ELSE c.failed_calls END
       FROM before WHERE c.id = before.id
     RETURNING c.queue_owner_id, before.state AS from_state, c.state AS to_state`,
    [connectionId],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.from_state !== row.to_state) await notifyStateChanged(db, [row.queue_owner_id]);
  return { queueOwnerId: row.queue_owner_id, from: row.from_state, to: row.to_state };
}

/** A connection's config or credentials changed: if it is OFFLINE, its next probe is due now, with the backoff from the start. */
export async function probeNow(db: Queryable, connectionId: string): Promise<void> {
  await db.query(
    `UPDATE connection SET next_probe_at = now(), probe_backoff_ms = 1000 WHERE id = $1 AND state = 'OFFLINE'`,
    [connectionId],
  );
}

/** Every connection's own state (for the sluice_connection_state gauge). */
export async function connectionStates(db: Queryable): Promise<Map<string, ConnectionStateName>> {
  const { rows } = await db.query<{ id: string; state: ConnectionStateName }>(`SELECT id, state FROM connection`);
  return new Map(rows.map((r) => [r.id, r.state]));
}
