/**
 * claim: up to `max` messages from the head of one queue, within the queue
 * owner's level across every process, and (under a level) the next few
 * leased to this process as its prefetch.
 *
 * The work is the function sluice_claim (functions/sluice_claim.sql, which
 * says what it locks and why): a transaction-scoped advisory lock per queue
 * owner, a count of what runs, then one UPDATE ... RETURNING of the head. One
 * round trip per batch.
 */
import type { Queryable } from './queryable';
import type { ClaimedMessage, MessagePayload } from '../message';

interface ClaimedRow {
  id: string | null; // bigint: enqueue order; null on the one info row
  queue_owner_id: string;
  connection_id: string;
  job_id: string;
  step_id: string;
  payload: MessagePayload;
  attempts: number; // including this start (for a prefetched one: including its start to come)
  lease_id: string; // proves ownership when completing or starting a prefetched one
  idempotency_key: string; // the same on every retry
  prefetched: boolean | null; // true: leased to this process, not started
  wait_ms: number | null; // info row: set when the queue is paused or at its rateLimit
  drained: boolean | null; // info row: nothing more of the queue is ready now
  level_in_use: number | null; // info row: the level the claim obeyed (null: burst)
  share: number | null; // info row: this engine's fair part of the level (null: burst)
  may_prefetch: boolean | null; // info row: false: stop starting the prefetch and give it back
  released: boolean | null; // info row: the held prefetch went back to the queue
  held_kept: string[] | null; // info row: the held messages still the caller's (bigint ids)
}

export interface ClaimRequest {
  /** The claiming engine (for its fair share of the level); null: none. */
  engineId: string | null;
  /** The most messages to start now. */
  max: number;
  /** Calls in flight here for this queue: the claim starts no more than the share allows beside them. */
  calls: number;
  /** How many prefetched messages to hold after this claim (0: give the held ones back). */
  prefetch: number;
  /** Prefetched messages held here, not started: free slots go to them first. */
  held: readonly ClaimedMessage[];
  leaseMs: number;
}

export interface Claim {
  /** To start now. */
  messages: ClaimedMessage[];
  /** Newly prefetched for this process (not started; counted as queued). */
  prefetched: ClaimedMessage[];
  /** When nothing could start because of a pause or the rateLimit: how long until something can. */
  waitMs: number | null;
  /** Fewer messages were ready than asked for: the queue has nothing more ready now. */
  drained: boolean;
  /** The level this claim obeyed; null: burst, or the queue owner is gone. */
  levelInUse: number | null;
  /** This engine's fair part of the level; null: burst, or the queue owner is gone. */
  share: number | null;
  /**
   * Whether prefetching is allowed now (a level, no rateLimit, not paused,
   * every connection ONLINE). False: start nothing more from the prefetch,
   * and give it back with the next claim (prefetch 0).
   */
  mayPrefetch: boolean;
  /** The held prefetch went back to the queue (asked for with prefetch 0). */
  released: boolean;
  /** Ids of the held messages still this process's after the claim: it keeps exactly these (none when the queue owner is gone). */
  heldKept: string[];
}

/** A started message's row, as the claim and the probe's claim (probes.ts) return it. */
export interface StartedRow {
  id: string; // bigint: enqueue order
  queue_owner_id: string;
  connection_id: string;
  job_id: string;
  step_id: string;
  payload: MessagePayload;
  attempts: number; // including this start
  lease_id: string; // proves ownership when completing
  idempotency_key: string; // the same on every retry
}

export function claimedMessageOf(r: StartedRow): ClaimedMessage {
  return {
    id: r.id,
    queueOwnerId: r.queue_owner_id,
    connectionId: r.connection_id,
    jobId: r.job_id,
    stepId: r.step_id,
    payload: r.payload,
    attempts: r.attempts,
    leaseId: r.lease_id,
    idempotencyKey: r.idempotency_key,
  };
}

export async function claim(db: Queryable, ownerId: string, request: ClaimRequest): Promise<Claim> {
  const { rows } = await db.query<ClaimedRow>(
    `SELECT id, queue_owner_id, connection_id, job_id, step_id, payload, attempts, lease_id, idempotency_key, prefetched,
            wait_ms, drained, level_in_use, share, may_prefetch, released, held_kept::text[] AS held_kept
       FROM sluice_claim($1::jsonb)`,
    [
      JSON.stringify({
        owner: ownerId,
        engine: request.engineId,
        max: Math.max(0, request.max),
        calls: Math.max(0, request.calls),
        prefetch: Math.max(0, request.prefetch),
        lease_ms: request.leaseMs,
        held: request.held.map((m) => ({ id: m.id, lease_id: m.leaseId })),
      }),
    ],
  );
  const info = rows.find((r) => r.id === null);
  const messages: ClaimedMessage[] = [];
  const prefetched: ClaimedMessage[] = [];
  for (const r of rows) {
    if (r.id === null) continue;
    (r.prefetched ? prefetched : messages).push(claimedMessageOf({ ...r, id: r.id }));
  }
  return {
    messages,
    prefetched,
    waitMs: info?.wait_ms ?? null,
    // No info row: the queue owner is gone; nothing will be ready there.
    drained: info ? info.drained === true : true,
    levelInUse: info?.level_in_use ?? null,
    share: info?.share ?? null,
    mayPrefetch: info?.may_prefetch === true,
    released: info ? info.released === true : true,
    heldKept: info?.held_kept ?? [],
  };
}
