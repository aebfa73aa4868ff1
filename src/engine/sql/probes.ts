/**
 * The probes of OFFLINE connections (docs/engine.md, "Connection state"):
 * which are due, the message a probe sends when there is no ping, and what
 * its answer does to the connection's state.
 *
 * One probe at a time per connection, across processes: takeDueProbes moves
 * probe_lease_until ahead under FOR NO KEY UPDATE SKIP LOCKED, and only a
 * connection whose lease is over is due; the prober's heartbeat extends it
 * while its probe runs (extendProbeLeases). A process that dies mid-probe
 * frees it when the lease runs out. The backoff: 1 s first (set when it goes OFFLINE), then
 * doubling, with ±25 % jitter (sluice_probe_backoff.sql), up to the cap the
 * engine passes; it never stops while the connection is OFFLINE.
 */
import type { ClaimedMessage } from '../message';
import { claimedMessageOf, type StartedRow } from './claim';
import { notifyStateChanged } from './connectionStateChanges';
import type { Queryable } from './queryable';

export interface DueProbe {
  connectionId: string;
  queueOwnerId: string;
}

/** The OFFLINE connections whose next probe is due, leased to this process for `leaseMs`. */
export async function takeDueProbes(db: Queryable, leaseMs: number, limit: number): Promise<DueProbe[]> {
  const { rows } = await db.query<{ id: string; queue_owner_id: string }>(
    `UPDATE connection c SET probe_lease_until = clock_timestamp() + $1::int * interval '1 millisecond'
      WHERE c.id IN (SELECT d.id FROM connection d
                      WHERE d.state = 'OFFLINE' AND d.next_probe_at <= now()
                        AND (d.probe_lease_until IS NULL OR d.probe_lease_until <= now())
                      ORDER BY d.next_probe_at LIMIT $2
                      FOR NO KEY UPDATE SKIP LOCKED)
     RETURNING c.id, c.queue_owner_id`,
    [leaseMs, limit],
  );
  return rows.map((r) => ({ connectionId: r.id, queueOwnerId: r.queue_owner_id }));
}

/** Probes in flight here go on: their leases (probe_lease_until) move ahead, with the engine's heartbeat. */
export async function extendProbeLeases(db: Queryable, connectionIds: readonly string[], leaseMs: number): Promise<void> {
  if (connectionIds.length === 0) return;
  await db.query(
    `UPDATE connection SET probe_lease_until = clock_timestamp() + $2::int * interval '1 millisecond'
      WHERE id = ANY ($1::uuid[]) AND state = 'OFFLINE' AND probe_lease_until IS NOT NULL`,
    [connectionIds, leaseMs],
  );
}

/** Starts the probe's message (no ping): functions/sluice_claim_probe.sql. Null: nothing to send now. */
export async function claimProbe(db: Queryable, connectionId: string, leaseMs: number): Promise<ClaimedMessage | null> {
  const { rows } = await db.query<StartedRow>(`SELECT * FROM sluice_claim_probe($1, $2)`, [connectionId, leaseMs]);
  return rows[0] ? claimedMessageOf(rows[0]) : null;
}

/**
 * The application answered the probe: ONLINE again, the run of failures
 * forgotten, and every process's dispatchers of the queue woken. Returns the
 * queue owner when the state changed (null: it was not OFFLINE any more).
 */
export async function probeSucceeded(db: Queryable, connectionId: string): Promise<{ queueOwnerId: string; reason: string | null } | null> {
  const { rows } = await db.query<{ queue_owner_id: string; reason: string | null }>(
    `WITH before AS (SELECT id, state_reason FROM connection WHERE id = $1 FOR NO KEY UPDATE)
     UPDATE connection c
        SET state = 'ONLINE', state_changed_at = now(), state_reason = NULL, next_probe_at = NULL,
            probe_backoff_ms = NULL, probe_lease_until = NULL, probe_failures = 0,
            failed_calls = 0, failed_call_messages = '{}'
       FROM before
      WHERE c.id = before.id AND c.state = 'OFFLINE'
     RETURNING c.queue_owner_id, before.state_reason AS reason`,
    [connectionId],
  );
  const row = rows[0];
  if (!row) return null;
  await notifyStateChanged(db, [row.queue_owner_id]);
  return { queueOwnerId: row.queue_owner_id, reason: row.reason };
}

/** The probe failed too: the next one after the backoff, which grows by half up to `maxBackoffMs`. */
export async function probeFailed(db: Queryable, connectionId: string, reason: string, maxBackoffMs: number): Promise<Date | null> {
  const { rows } = await db.query<{ next_probe_at: Date }>(
    `UPDATE connection
        SET next_probe_at = clock_timestamp() + sluice_probe_backoff(least($3::int, coalesce(probe_backoff_ms, 1000))),
            probe_backoff_ms = least($3::int, coalesce(probe_backoff_ms, 1000) * 3 / 2),
            probe_lease_until = NULL, state_reason = $2, probe_failures = probe_failures + 1
      WHERE id = $1 AND state = 'OFFLINE'
     RETURNING next_probe_at`,
    [connectionId, reason, maxBackoffMs],
  );
  return rows[0]?.next_probe_at ?? null;
}

/**
 * The probe could not go out (nothing to send, the level full, its call
 * canceled): due again after the backoff in force, which stays as it is (an
 * idle OFFLINE connection costs a statement per backoff, not per second).
 */
export async function probePostponed(db: Queryable, connectionId: string): Promise<void> {
  await db.query(
    `UPDATE connection
        SET next_probe_at = clock_timestamp() + sluice_probe_backoff(coalesce(probe_backoff_ms, 1000) * 2 / 3), probe_lease_until = NULL
      WHERE id = $1 AND state = 'OFFLINE'`,
    [connectionId],
  );
}
