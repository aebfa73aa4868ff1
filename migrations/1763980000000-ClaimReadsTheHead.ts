import type { MigrationInterface, QueryRunner } from 'typeorm';

const CLAIM = 'sluice_claim_messages(uuid, int, int, int, bigint[], uuid[], bigint[], uuid[], bigint[], uuid[])';
const ENQUEUE = 'sluice_enqueue_messages(jsonb)';

/**
 * The claim, and the enqueue's look at the queue, read the head of the
 * queue in order from its waiting index, never the whole queue.
 *
 * Why: "the oldest N waiting" is an index scan of queue_message_waiting_idx
 * (queue_owner_id, id) that stops after N. Before the table had statistics
 * (right after a big enqueue; autovacuum analyzes it a minute later at
 * best), PostgreSQL estimated a couple of matching rows and found a bitmap
 * scan plus a sort cheaper: it read every waiting message of the queue on
 * every claim. With 60,000 queued a claim of 55 took 5–13 ms instead of
 * about 1.2 ms (claims and completions of 55 replayed by hand), which at
 * thousands of messages per second made PostgreSQL the bottleneck of a long
 * drain (`BENCH_PEERS_N=60000 npm run bench -- burstDrain`: 6.8 ms per
 * claim). test/engine/claimMessages.test.ts counts the index entries a
 * claim reads.
 *
 * Bitmap scans are never the right way for these functions: every
 * statement in them looks up a few rows by key or reads a head in index
 * order. So they are switched off for the functions' own statements only
 * (a function's SET applies while it runs). Same signatures: replaced in
 * place, a process of the previous release calls them too.
 */
export class ClaimReadsTheHead1763980000000 implements MigrationInterface {
  name = 'ClaimReadsTheHead1763980000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER FUNCTION ${CLAIM} SET enable_bitmapscan = off`);
    await q.query(`ALTER FUNCTION ${ENQUEUE} SET enable_bitmapscan = off`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER FUNCTION ${ENQUEUE} RESET enable_bitmapscan`);
    await q.query(`ALTER FUNCTION ${CLAIM} RESET enable_bitmapscan`);
  }
}
