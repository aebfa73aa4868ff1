/**
 * claimMessages: up to `max` messages from the head of one queue, within the
 * queue owner's level across every process, and (under a level) the next few
 * reserved for this process's hand-offs.
 *
 * The work is the function sluice_claim_messages (functions/
 * sluice_claim_messages.sql, which says what it locks and why): a
 * transaction-scoped advisory lock per queue owner, the report of what ended
 * and what was handed off here, a count of what runs, then one UPDATE ...
 * RETURNING of the head. One round trip per batch.
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
  attempts: number; // including this claim (for a reservation: including its start)
  lease_id: string; // proves ownership when completing or starting a reservation
  idempotency_key: string; // the same on every retry
  reserved: boolean | null; // true: reserved for a hand-off, not started
  wait_ms: number | null; // info row: set when the queue is paused or at its rateLimit
  drained: boolean | null; // info row: nothing of the queue is ready to start now
  level_in_use: number | null; // info row: the level the claim obeyed (null: burst)
  released: boolean | null; // info row: the held reservations went back to the queue
}

/** What the dispatcher tells the claim about its own messages since the last one. */
export interface ClaimReport {
  /** Calls that ended here: their slots stop counting. */
  finished?: readonly ClaimedMessage[];
  /** Reservations started here in finished calls' slots: they count now. */
  started?: readonly ClaimedMessage[];
  /** Reservations held here, not started: free slots go to them first. */
  held?: readonly ClaimedMessage[];
  /** How many reservations to hold after this claim (0: release the held ones). */
  reserve?: number;
}

export interface Claim {
  /** To start now. */
  messages: ClaimedMessage[];
  /** Newly reserved for this process (not started; counted as queued). */
  reserved: ClaimedMessage[];
  /** When nothing could start because of a pause or the rateLimit: how long until something can. */
  waitMs: number | null;
  /** Fewer messages were ready than asked for: the queue has nothing ready now. */
  drained: boolean;
  /** The level this claim obeyed; null: burst, or the queue owner is gone. */
  levelInUse: number | null;
  /** The held reservations went back to the queue (a pause, a rateLimit, no level, or reserve 0). */
  released: boolean;
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

const ids = (messages: readonly ClaimedMessage[] = []): string[] => messages.map((m) => m.id);
const leases = (messages: readonly ClaimedMessage[] = []): string[] => messages.map((m) => m.leaseId);

export async function claimMessages(db: Queryable, ownerId: string, max: number, leaseMs: number, report: ClaimReport = {}): Promise<Claim> {
  const { finished, started, held, reserve = 0 } = report;
  const { rows } = await db.query<ClaimedRow>(
    `SELECT id, queue_owner_id, connection_id, job_id, step_id, payload, attempts, lease_id, idempotency_key, reserved,
            wait_ms, drained, level_in_use, released
       FROM sluice_claim_messages($1, $2, $3, $4, $5::bigint[], $6::uuid[], $7::bigint[], $8::uuid[], $9::bigint[], $10::uuid[])`,
    [ownerId, max, reserve, leaseMs, ids(finished), leases(finished), ids(started), leases(started), ids(held), leases(held)],
  );
  const info = rows.find((r) => r.id === null);
  const messages: ClaimedMessage[] = [];
  const reserved: ClaimedMessage[] = [];
  for (const r of rows) {
    if (r.id === null) continue;
    (r.reserved ? reserved : messages).push(claimedMessageOf({ ...r, id: r.id }));
  }
  return {
    messages,
    reserved,
    waitMs: info?.wait_ms ?? null,
    // No info row: the queue owner is gone; nothing will be ready there.
    drained: info ? info.drained === true : true,
    levelInUse: info?.level_in_use ?? null,
    released: info ? info.released === true : true,
  };
}
