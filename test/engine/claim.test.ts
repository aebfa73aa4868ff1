/**
 * The claim (src/engine/sql/functions/sluice_claim.sql) against the real
 * database: at most the level, from the head; `drained` only when fewer
 * messages were ready than asked for (never when the level or a pause held
 * the claim back, since a dispatcher stops claiming on a call's end while its
 * queue is drained); the prefetch, hidden from other claims; the fair share;
 * and the commit that frees a slot or hands it to a prefetched message.
 */
import { Client } from 'pg';
import { claim, type ClaimRequest } from '../../src/engine/sql/claim';
import { completeMessages } from '../../src/engine/sql/completeMessages';
import { enqueueMessages } from '../../src/engine/sql/enqueueMessages';
import { registerEngine, unregisterEngine } from '../../src/engine/sql/engineInstances';
import type { ClaimedMessage } from '../../src/engine/message';
import { createFlow, createHttpConnection, runFlow } from '../support/flows';
import { useDatabase } from '../support/database';
import { useTestSluice } from '../support/sluice';

const s = useTestSluice(); // the API only: nothing claims but this test
const db = useDatabase(s);

async function queueWith(level: number | null, messages: number): Promise<string> {
  const conn = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: level, autoRecoverRateLimitErrors: false });
  const flow = await createFlow(s, [
    { kind: 'EXPORT', connectionId: conn, config: { path: '/orders' } },
    { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
  ]);
  const jobId = await runFlow(s, flow.id); // its first page is one message
  await enqueueMessages(
    db,
    Array.from({ length: messages - 1 }, (_, i) => ({ connectionId: conn, jobId, stepId: flow.stepIds[1]!, payload: { kind: 'records' as const, records: [{ id: i }] } })),
  );
  return conn;
}

const claimFrom = (conn: string, max: number, request: Partial<ClaimRequest> = {}) =>
  claim(db, conn, { engineId: null, max, calls: 0, prefetch: 0, held: [], leaseMs: 30000, ...request });

/** The call in `message`'s slot ended well; `successor` (prefetched) started in its slot. */
const ended = (message: ClaimedMessage, successor: ClaimedMessage | null = null) =>
  completeMessages(db, [{ outcome: { kind: 'done', message, followUps: [], delta: { exported: 0, succeeded: 1, failed: 0, sourceFailed: false }, errors: [] }, successor }]);

const running = async (conn: string): Promise<number> =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM queue_message WHERE queue_owner_id = $1 AND state = 'running'`, [conn])).rows[0]!.n;

const ids = (messages: readonly { id: string }[]): string[] => messages.map((m) => m.id);

it('is not drained while the level holds messages back, and drained once fewer are ready than there is room for', async () => {
  const conn = await queueWith(2, 3);
  const first = await claimFrom(conn, 10);
  expect(first.messages).toHaveLength(2);
  expect(first.drained).toBe(false); // one is left, held back by the level

  const full = await claimFrom(conn, 10);
  expect(full.messages).toHaveLength(0);
  expect(full.drained).toBe(false); // no free slot: the queue may well hold more

  // One call ends: its commit frees its slot and the last message takes it.
  // As many were ready as there was room for, so the claim cannot tell that
  // none is left: not drained (one more claim will tell).
  await ended(first.messages[0]!);
  const last = await claimFrom(conn, 1);
  expect(last.messages).toHaveLength(1);
  expect(last.drained).toBe(false);

  // Another call ends: a free slot and nothing ready.
  await ended(first.messages[1]!);
  const after = await claimFrom(conn, 10);
  expect(after.messages).toHaveLength(0);
  expect(after.drained).toBe(true);
});

it('in burst mode is drained when the batch is short, not when it is full', async () => {
  const conn = await queueWith(null, 5);
  const part = await claimFrom(conn, 3);
  expect(part.messages).toHaveLength(3);
  expect(part.drained).toBe(false);
  const rest = await claimFrom(conn, 3);
  expect(rest.messages).toHaveLength(2);
  expect(rest.drained).toBe(true);
});

it('is never drained while the queue is paused', async () => {
  const conn = await queueWith(3, 2);
  await db.query(`UPDATE connection SET paused_until = now() + interval '1 minute' WHERE id = $1`, [conn]);
  const paused = await claimFrom(conn, 10);
  expect(paused.messages).toHaveLength(0);
  expect(paused.waitMs).toBeGreaterThan(50000);
  expect(paused.drained).toBe(false);
});

describe('the prefetch', () => {
  it('under a level, leases the next messages after those it starts, hidden from every other claim', async () => {
    const conn = await queueWith(2, 6);
    const mine = await claimFrom(conn, 10, { prefetch: 2 });
    expect(mine.messages).toHaveLength(2);
    expect(mine.prefetched).toHaveLength(2);
    expect(mine.levelInUse).toBe(2);
    expect(mine.mayPrefetch).toBe(true);
    // FIFO: the prefetched ones come right after the started ones.
    expect(ids(mine.prefetched).map(Number)).toEqual(ids(mine.messages).map(Number).map((id) => id + 2));
    // Another process, after one of ours committed: it gets the message after the prefetch.
    await ended(mine.messages[0]!);
    const other = await claimFrom(conn, 10);
    expect(other.messages).toHaveLength(1);
    expect(Number(other.messages[0]!.id)).toBe(Number(mine.prefetched[1]!.id) + 1);
    // Prefetched ones still count as queued (queueSize), not as running.
    const { rows } = await db.query<{ state: string; n: number }>(
      `SELECT state, count(*)::int AS n FROM queue_message WHERE id = ANY($1::bigint[]) GROUP BY state`,
      [ids(mine.prefetched)],
    );
    expect(rows).toEqual([{ state: 'queued', n: 2 }]);
  });

  it('a hand-on keeps the level: the commit that ends a call starts its successor, one for one', async () => {
    const conn = await queueWith(2, 5);
    const mine = await claimFrom(conn, 10, { prefetch: 1 });
    const [first] = mine.messages;
    const [next] = mine.prefetched;
    expect(next!.attempts).toBe(1); // what it will be once started
    await ended(first!, next!);
    const { rows } = await db.query<{ state: string; attempts: number }>(`SELECT state, attempts FROM queue_message WHERE id = $1`, [next!.id]);
    expect(rows[0]).toEqual({ state: 'running', attempts: 1 });
    expect(await running(conn)).toBe(2);
    expect((await claimFrom(conn, 10)).messages).toHaveLength(0); // the level is still full
  });

  it('a hand-on whose successor ended in the same batch frees both slots, and a retry keeps the attempts the call had', async () => {
    const conn = await queueWith(2, 5);
    const mine = await claimFrom(conn, 10, { prefetch: 1 });
    const [first] = mine.messages;
    const [next] = mine.prefetched;
    await completeMessages(db, [
      { outcome: { kind: 'done', message: first!, followUps: [], delta: { exported: 0, succeeded: 1, failed: 0, sourceFailed: false }, errors: [] }, successor: next! },
      { outcome: { kind: 'retry', message: next!, delayMs: 0, refund: false, reason: 'HTTP_503' }, successor: null },
    ]);
    const { rows } = await db.query<{ state: string; attempts: number; lease_id: string | null }>(`SELECT state, attempts, lease_id FROM queue_message WHERE id = $1`, [next!.id]);
    expect(rows[0]).toEqual({ state: 'queued', attempts: 1, lease_id: null });
    expect(await running(conn)).toBe(1);
  });

  it('gives a free slot to the caller’s own prefetch first, and gives it back only when asked (prefetch 0)', async () => {
    const conn = await queueWith(2, 6);
    const mine = await claimFrom(conn, 10, { prefetch: 2 });
    await ended(mine.messages[0]!);
    const freed = await claimFrom(conn, 10, { held: mine.prefetched, prefetch: 2 });
    expect(ids(freed.messages)).toEqual([mine.prefetched[0]!.id]); // the head: the oldest prefetched
    const held = [mine.prefetched[1]!, ...freed.prefetched];
    const release = await claimFrom(conn, 10, { held, prefetch: 0 });
    expect(release.released).toBe(true);
    expect(release.messages).toHaveLength(0);
    // Plain queued messages again, in their place: another claim takes the oldest when a slot frees.
    await ended(mine.messages[1]!);
    const other = await claimFrom(conn, 10);
    expect(ids(other.messages)).toEqual([held[0]!.id]);
  });

  it('keeps the prefetch through a pause but says not to use it, and prefetches none in burst mode or under a rateLimit', async () => {
    const conn = await queueWith(2, 6);
    const mine = await claimFrom(conn, 10, { prefetch: 2 });
    await db.query(`UPDATE connection SET paused_until = now() + interval '1 minute' WHERE id = $1`, [conn]);
    const paused = await claimFrom(conn, 10, { held: mine.prefetched, prefetch: 2 });
    expect(paused.waitMs).toBeGreaterThan(50000);
    expect(paused.released).toBe(false);
    expect(paused.mayPrefetch).toBe(false);

    const burst = await queueWith(null, 4);
    const b = await claimFrom(burst, 2, { prefetch: 2 });
    expect(b.messages).toHaveLength(2);
    expect(b.prefetched).toHaveLength(0);
    expect(b.mayPrefetch).toBe(false);

    const limited = await queueWith(3, 6);
    await db.query(`UPDATE connection SET rate_limit_requests = 100, rate_limit_per_ms = 1000 WHERE id = $1`, [limited]);
    const r = await claimFrom(limited, 10, { prefetch: 2 });
    expect(r.messages).toHaveLength(3);
    expect(r.prefetched).toHaveLength(0);
  });

  it('splits the level among the engines that claim the queue, the shares adding up to the level', async () => {
    const conn = await queueWith(5, 20);
    const a = '00000000-0000-4000-8000-00000000000a';
    const b = '00000000-0000-4000-8000-00000000000b';
    const c = '00000000-0000-4000-8000-00000000000c';
    for (const engine of [a, b, c]) await registerEngine(db, engine, 30000, 60000);
    expect((await claimFrom(conn, 1, { engineId: a })).share).toBe(5);
    // 5 between two: 3 for the first by id, 2 for the other (3 + 3 would let
    // hand-ons keep 6 running after a level lowered to 5).
    expect((await claimFrom(conn, 1, { engineId: b })).share).toBe(2);
    expect((await claimFrom(conn, 1, { engineId: a })).share).toBe(3);
    // A claim asking for nothing does not count as wanting.
    expect((await claimFrom(conn, 0, { engineId: c })).share).toBe(2);
    expect((await claimFrom(conn, 1, { engineId: c })).share).toBe(1);
    // An engine that is gone counts no more: its part goes to the others.
    await unregisterEngine(db, b);
    expect((await claimFrom(conn, 1, { engineId: c })).share).toBe(2);
  });

  it('starts no more than the caller’s share beside the calls it has in flight', async () => {
    const conn = await queueWith(4, 10);
    const a = '00000000-0000-4000-8000-0000000000a1';
    const b = '00000000-0000-4000-8000-0000000000b1';
    for (const engine of [a, b]) await registerEngine(db, engine, 30000, 60000);
    await claimFrom(conn, 0, { engineId: a, prefetch: 1 }); // a wants the queue too
    const mine = await claimFrom(conn, 10, { engineId: b, calls: 1 });
    expect(mine.share).toBe(2);
    expect(mine.messages).toHaveLength(1);
  });

  it('skips a held message whose row another transaction holds (a commit starting it) instead of waiting for it', async () => {
    // Waiting there deadlocked against a completion that held the row and waited for ours.
    const conn = await queueWith(2, 6);
    const mine = await claimFrom(conn, 10, { prefetch: 2 });
    const [handedOn, stillHeld] = mine.prefetched;
    await ended(mine.messages[0]!);
    const completion = new Client({ connectionString: s.databaseUrl });
    await completion.connect();
    try {
      await completion.query('BEGIN');
      await completion.query('DELETE FROM queue_message WHERE id = $1', [handedOn!.id]); // uncommitted: the row stays locked
      const answer = claimFrom(conn, 10, { held: mine.prefetched, prefetch: 2 });
      const outcome = await Promise.race([answer.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waited'), 3000))]);
      expect(outcome).toBe('answered');
      expect(ids((await answer).messages)).toEqual([stillHeld!.id]); // the free slot went to the one it could take
      // Given back with prefetch 0, the locked one is skipped the same way.
      const release = claimFrom(conn, 10, { held: [handedOn!], prefetch: 0 });
      expect(await Promise.race([release.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waited'), 3000))])).toBe('answered');
      await completion.query('COMMIT');
    } finally {
      await completion.end();
    }
  });
});

describe('on a long queue', () => {
  /**
   * Index entries of the queue's waiting index read by one claim, in its own
   * transaction (the pg_stat_get_xact_ functions count the current one only).
   */
  async function entriesReadByClaim(conn: string, max: number): Promise<{ read: number; claimed: number }> {
    await db.query('BEGIN');
    try {
      const answer = await claimFrom(conn, max);
      const { rows } = await db.query<{ read: string }>(
        `SELECT pg_stat_get_xact_tuples_returned('queue_message_waiting_idx'::regclass) AS read`,
      );
      return { read: Number(rows[0]?.read ?? 0), claimed: answer.messages.length };
    } finally {
      await db.query('ROLLBACK');
    }
  }

  it('reads the head of the queue, not every waiting message, even before the table has statistics', async () => {
    // No ANALYZE meanwhile: what a queue looks like right after a big
    // enqueue. With the template's statistics (an empty table) and 60,000
    // queued, the planner chose a bitmap scan of the whole waiting index and
    // a sort for every claim: 5–13 ms per claim, each reading all 60,000
    // entries (migrations/1763980000000-ClaimReadsTheHead.ts).
    await db.query(`ALTER TABLE queue_message SET (autovacuum_enabled = false)`);
    const conn = await queueWith(null, 60000);
    const { read, claimed } = await entriesReadByClaim(conn, 20);
    expect(claimed).toBe(20);
    expect(read).toBeLessThan(100);
  });
});
