/**
 * engine_instance (migrations/1763970000000-StartOnEnqueue.ts): the engines
 * an enqueue may start a message for. An engine upserts its row every second
 * over its LISTEN connection (`db` must be that connection: the row names its
 * backend, which is what hears sluice_start), with `alive_until` a few
 * seconds ahead, and deletes it when it stops or loses that connection. Rows
 * of engines that died are pruned by the next upsert of any engine, a minute
 * after they stopped being alive (nothing reads them once `alive_until` has
 * passed).
 */
import type { Queryable } from './queryable';

/** The LISTEN connection, or any client whose backend is to stand for the engine (tests). */
export interface ListenConnection {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

export async function registerEngine(db: ListenConnection, engineId: string, leaseMs: number, aliveMs: number): Promise<void> {
  await db.query(
    `WITH pruned AS (
       DELETE FROM engine_instance WHERE alive_until < clock_timestamp() - interval '1 minute'
     )
     INSERT INTO engine_instance (id, lease_ms, alive_until, listen_pid, listen_started)
     SELECT $1, $2, clock_timestamp() + $3 * interval '1 millisecond', a.pid, a.backend_start
       FROM pg_stat_get_activity(pg_backend_pid()) a -- the row the enqueue looks up by pid
     ON CONFLICT (id) DO UPDATE
       SET lease_ms = EXCLUDED.lease_ms, alive_until = EXCLUDED.alive_until,
           listen_pid = EXCLUDED.listen_pid, listen_started = EXCLUDED.listen_started`,
    [engineId, leaseMs, aliveMs],
  );
}

export async function unregisterEngine(db: Queryable, engineId: string): Promise<void> {
  await db.query(`DELETE FROM engine_instance WHERE id = $1`, [engineId]);
}
