/**
 * claimMessages against the real claim function: at most the level, from the
 * head, and `drained` only when fewer messages were ready than there was
 * room for — never when the level or a pause held the claim back, since the
 * dispatcher stops claiming on a call's end while its queue is drained.
 */
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
  const last = await claimMessages(db, conn, 10, 30000, [first.messages[0]!]);
  expect(last.messages).toHaveLength(1);
  expect(last.messages[0]!.id).not.toBe(first.messages[1]!.id);
  expect(last.drained).toBe(false);

  // Another call ends: a free slot and nothing ready.
  const after = await claimMessages(db, conn, 10, 30000, [first.messages[1]!]);
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
