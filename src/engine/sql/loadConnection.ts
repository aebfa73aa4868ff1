/** loadConnection: what a call through a connection needs: its connector, config and sealed credentials. */
import type { JsonObject } from '../../json';
import type { Queryable } from './queryable';

export interface CallableConnection {
  id: string;
  connectorType: string;
  config: JsonObject;
  /** Sealed in the database; opened when loaded, held only in memory. */
  credentials: Buffer | null;
  /** Of the queue owner: governs rate-limit handling. */
  autoRecover: boolean;
}

export async function loadConnection(db: Queryable, id: string): Promise<CallableConnection | null> {
  const { rows } = await db.query<{ id: string; connector_type: string; config: JsonObject; credentials: Buffer | null; auto_recover: boolean }>(
    `SELECT c.id, c.connector_type, c.config, c.credentials, o.auto_recover
       FROM connection c JOIN connection o ON o.id = c.queue_owner_id
      WHERE c.id = $1`,
    [id],
  );
  const r = rows[0];
  return r ? { id: r.id, connectorType: r.connector_type, config: r.config, credentials: r.credentials, autoRecover: r.auto_recover } : null;
}
