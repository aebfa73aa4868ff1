/**
 * claimMessages against the real claim function: at most the level, from the
 * head, and `drained` only when fewer messages were ready than there was
 * room for — never when the level or a pause held the claim back, since the
 * dispatcher stops claiming on a call's end while its queue is drained.
 */
import { Client } from 'pg';
import { claimMessages } from '../../src/engine/sql/claimMessages';
import { enqueueMessages } from '../../src/engine/sql/enqueueMessages';
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

it('is not drained while the level holds messages back, and drained once fewer are ready than there is room for', async () => {
  const conn = await queueWith(2, 3);
  const first = await claimMessages(db, conn, 10, 30000);
  expect(first.messages).toHaveLength(2);
  expect(first.drained).toBe(false); // one is left, held back by the level

  const full = await claimMessages(db, conn, 10, 30000);
  expect(full.messages).toHaveLength(0);
  expect(full.drained).toBe(false); // no free slot: the queue may well hold more

  // One call ends: its slot is reported and the last message takes it. As
  // many were ready as there was room for, so the claim cannot tell that
  // none is left: not drained (one more claim will tell).
  const last = await claimMessages(db, conn, 10, 30000, { finished: [first.messages[0]!] });
  expect(last.messages).toHaveLength(1);
  expect(last.messages[0]!.id).not.toBe(first.messages[1]!.id);
  expect(last.drained).toBe(false);

  // Another call ends: a free slot and nothing ready.
  const after = await claimMessages(db, conn, 10, 30000, { finished: [first.messages[1]!] });
  expect(after.messages).toHaveLength(0);
  expect(after.drained).toBe(true);
});

it('in burst mode is drained when the batch is short, not when it is full', async () => {
  const conn = await queueWith(null, 5);
  const part = await claimMessages(db, conn, 3, 30000);
  expect(part.messages).toHaveLength(3);
  expect(part.drained).toBe(false);
  const rest = await claimMessages(db, conn, 3, 30000);
  expect(rest.messages).toHaveLength(2);
  expect(rest.drained).toBe(true);
});

it('is never drained while the queue is paused', async () => {
  const conn = await queueWith(3, 2);
  await db.query(`UPDATE connection SET paused_until = now() + interval '1 minute' WHERE id = $1`, [conn]);
  const paused = await claimMessages(db, conn, 10, 30000);
  expect(paused.messages).toHaveLength(0);
  expect(paused.waitMs).toBeGreaterThan(50000);
  expect(paused.drained).toBe(false);
});

describe('reservations (hand-offs, migrations/1763940000000-ReservedMessages.ts)', () => {
  const ids = (messages: { id: string }[]): string[] => messages.map((m) => m.id);

  it('under a level, reserves the next messages after those it starts, hidden from every other claim', async () => {
    const conn = await queueWith(2, 6);
    const mine = await claimMessages(db, conn, 10, 30000, { reserve: 2 });
    expect(mine.messages).toHaveLength(2);
    expect(mine.reserved).toHaveLength(2);
    expect(mine.levelInUse).toBe(2);
    // FIFO: the reserved ones come right after the started ones.
    expect(ids(mine.reserved).map(Number)).toEqual(ids(mine.messages).map(Number).map((id) => id + 2));
    // Another process, after one of ours ended: it gets the message after the reservations.
    const other = await claimMessages(db, conn, 10, 30000, { finished: [mine.messages[0]!] });
    expect(other.messages).toHaveLength(1);
    expect(Number(other.messages[0]!.id)).toBe(Number(mine.reserved[1]!.id) + 1);
    // Reservations still count as queued (queueSize), not as running.
    const { rows } = await db.query<{ state: string; n: number }>(
      `SELECT state, count(*)::int AS n FROM queue_message WHERE id = ANY($1::bigint[]) GROUP BY state`,
      [ids(mine.reserved)],
    );
    expect(rows).toEqual([{ state: 'queued', n: 2 }]);
  });

  it('a hand-off keeps the level: the ended call is done and the reserved one running, one for one', async () => {
    const conn = await queueWith(2, 5);
    const mine = await claimMessages(db, conn, 10, 30000, { reserve: 1 });
    const [first] = mine.messages;
    const [next] = mine.reserved;
    // `first` ended and `next` started in its slot, reported together.
    const report = await claimMessages(db, conn, 10, 30000, { finished: [first!], started: [next!], reserve: 1 });
    expect(report.messages).toHaveLength(0); // the level is still full
    expect(report.reserved).toHaveLength(1); // topped up
    const { rows } = await db.query<{ running: number; attempts: number }>(
      `SELECT (SELECT count(*)::int FROM queue_message WHERE queue_owner_id = $1 AND state = 'running') AS running,
              (SELECT attempts FROM queue_message WHERE id = $2) AS attempts`,
      [conn, next!.id],
    );
    expect(rows[0]).toEqual({ running: 2, attempts: 1 });
    expect(next!.attempts).toBe(1); // what the dispatcher was told it would be
  });

  it('gives a free slot to the caller’s own reservations first, then releases them with reserve 0', async () => {
    const conn = await queueWith(2, 6);
    const mine = await claimMessages(db, conn, 10, 30000, { reserve: 2 });
    const freed = await claimMessages(db, conn, 10, 30000, { finished: [mine.messages[0]!], held: mine.reserved, reserve: 2 });
    expect(ids(freed.messages)).toEqual([mine.reserved[0]!.id]); // the head: the oldest reservation
    const held = [mine.reserved[1]!, ...freed.reserved];
    const release = await claimMessages(db, conn, 10, 30000, { held, reserve: 0 });
    expect(release.released).toBe(true);
    expect(release.messages).toHaveLength(0);
    // Plain queued messages again, in their place: another claim takes the oldest when a slot frees.
    const other = await claimMessages(db, conn, 10, 30000, { finished: [mine.messages[1]!] });
    expect(ids(other.messages)).toEqual([held[0]!.id]);
  });

  it('keeps reservations through a pause, and takes none in burst mode or under a rateLimit', async () => {
    const conn = await queueWith(2, 6);
    const mine = await claimMessages(db, conn, 10, 30000, { reserve: 2 });
    await db.query(`UPDATE connection SET paused_until = now() + interval '1 minute' WHERE id = $1`, [conn]);
    const paused = await claimMessages(db, conn, 10, 30000, { held: mine.reserved, reserve: 2 });
    expect(paused.waitMs).toBeGreaterThan(50000);
    expect(paused.released).toBe(false);

    const burst = await queueWith(null, 4);
    const b = await claimMessages(db, burst, 2, 30000, { reserve: 2 });
    expect(b.messages).toHaveLength(2);
    expect(b.reserved).toHaveLength(0);

    const limited = await queueWith(3, 6);
    await db.query(`UPDATE connection SET rate_limit_requests = 100, rate_limit_per_ms = 1000 WHERE id = $1`, [limited]);
    const r = await claimMessages(db, limited, 10, 30000, { reserve: 2 });
    expect(r.messages).toHaveLength(3);
    expect(r.reserved).toHaveLength(0);
  });

  it('skips a held reservation whose row another transaction holds (its outcome committing) instead of waiting for it', async () => {
    // migrations/1763960000000-ClaimSkipsLockedReservations.ts: waiting there
    // deadlocked against a completion that held the row and waited for ours.
    const conn = await queueWith(2, 6);
    const mine = await claimMessages(db, conn, 10, 30000, { reserve: 2 });
    const [handedOff, stillHeld] = mine.reserved;
    const completion = new Client({ connectionString: s.databaseUrl });
    await completion.connect();
    try {
      await completion.query('BEGIN');
      await completion.query('DELETE FROM queue_message WHERE id = $1', [handedOff!.id]); // uncommitted: the row stays locked
      const claim = claimMessages(db, conn, 10, 30000, { finished: [mine.messages[0]!], held: mine.reserved, reserve: 2 });
      const outcome = await Promise.race([claim.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waited'), 3000))]);
      expect(outcome).toBe('answered');
      expect(ids((await claim).messages)).toEqual([stillHeld!.id]); // the free slot went to the reservation it could take
      // Released with reserve 0, the locked one is skipped the same way.
      const release = claimMessages(db, conn, 10, 30000, { held: [handedOff!], reserve: 0 });
      expect(await Promise.race([release.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waited'), 3000))])).toBe('answered');
      await completion.query('COMMIT');
    } finally {
      await completion.end();
    }
  });

  it('takes a reservation that started and ended since the last claim straight to done, without waiting for its job row', async () => {
    // Updated twice in one claim, its row had its foreign keys checked again,
    // which waited for a completion holding the job row: a deadlock.
    const conn = await queueWith(2, 5);
    const mine = await claimMessages(db, conn, 10, 30000, { reserve: 1 });
    const [first, second] = mine.messages;
    const [next] = mine.reserved;
    const completion = new Client({ connectionString: s.databaseUrl });
    await completion.connect();
    try {
      await completion.query('BEGIN');
      await completion.query('SELECT 1 FROM job WHERE id = $1 FOR UPDATE', [first!.jobId]);
      // `first` ended, `next` ran in its slot and ended too.
      const claim = claimMessages(db, conn, 10, 30000, { finished: [first!, next!], started: [next!], reserve: 0 });
      expect(await Promise.race([claim.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waited'), 3000))])).toBe('answered');
      await completion.query('COMMIT');
      const { rows } = await db.query<{ id: string; state: string }>(
        `SELECT id::text, state FROM queue_message WHERE id = ANY($1::bigint[]) ORDER BY id`,
        [[first!.id, second!.id, next!.id]],
      );
      // Both slots of the hand-off are free again; `second` still runs, and the claim started one more in the free slot.
      expect(rows.map((r) => r.state)).toEqual(['done', 'running', 'done']);
      expect((await claim).messages).toHaveLength(1);
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
      const claim = await claimMessages(db, conn, max, 30000);
      const { rows } = await db.query<{ read: string }>(
        `SELECT pg_stat_get_xact_tuples_returned('queue_message_waiting_idx'::regclass) AS read`,
      );
      return { read: Number(rows[0]?.read ?? 0), claimed: claim.messages.length };
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
