/**
 * engine_instance (migrations/1763970000000-StartOnEnqueue.ts): the engines
 * an enqueue may start a message for. An engine upserts its row every second
 * while it can hear sluice_start, with `alive_until` a few seconds ahead, and
 * deletes it when it stops or loses its LISTEN connection. Rows of engines
 * that died are pruned by the next upsert of any engine, a minute after they
 * stopped being alive (nothing reads them once `alive_until` has passed).
 */
import type { Queryable } from './queryable';

export async function registerEngine(db: Queryable, engineId: string, leaseMs: number, aliveMs: number): Promise<void> {
  await db.query(
    `WITH pruned AS (
       DELETE FROM engine_instance WHERE alive_until < clock_timestamp() - interval '1 minute'
     )
     INSERT INTO engine_instance (id, lease_ms, alive_until)
     VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
     ON CONFLICT (id) DO UPDATE SET lease_ms = EXCLUDED.lease_ms, alive_until = EXCLUDED.alive_until`,
    [engineId, leaseMs, aliveMs],
  );
}

export async function unregisterEngine(db: Queryable, engineId: string): Promise<void> {
  await db.query(`DELETE FROM engine_instance WHERE id = $1`, [engineId]);
}
