import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The engine with one way to start a message and one way to free a slot
 * (docs/engine.md, "Slots and the local queue").
 *
 * The claim becomes sluice_claim(p_claim jsonb) (src/engine/sql/functions/
 * sluice_claim.sql): it no longer takes reports of ended calls or of
 * hand-offs, since a slot is now freed, or handed to a prefetched message,
 * only by the commit of the outcome that ended it. The old overload goes
 * with its row in sql_function; the repeatable step installs the new file.
 *
 * sluice_complete_messages returns which hand-ons it recorded (handed_on):
 * dropped here, installed again from its file by the repeatable step.
 *
 * sluice_outcome gains:
 *   attempts          the message's attempts including the call that ended:
 *                     the commit writes it (a prefetched message started in
 *                     a slot has its start counted by no claim).
 *   successor_id,     the prefetched message started in this call's slot
 *   successor_lease,  (its job, to lock it in order with the batch's):
 *   successor_job     the commit marks it running in the same statement
 *                     that would free the slot, so the level never moves.
 *
 * queue_claimer: which engines claimed a queue lately, so that the claim
 * can tell each its fair share of the level (processes sharing a queue
 * split it instead of the first keeping every slot by handing them on).
 * UNLOGGED: after a crash of PostgreSQL it is rebuilt by the next claims.
 *
 * 'done' rows (a call ended, its slot reported, its outcome not committed)
 * are no longer made; any left by an older process expire as before.
 */
export class OneWayIn1765700000000 implements MigrationInterface {
  name = 'OneWayIn1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, integer, integer, integer, bigint[], uuid[], bigint[], uuid[], bigint[], uuid[])`);
    await q.query(`DELETE FROM sql_function WHERE name = 'sluice_claim_messages'`);
    // Its result gains handed_on (a new return type): the repeatable step installs the file again.
    await q.query(`DROP FUNCTION sluice_complete_messages(jsonb)`);
    await q.query(`ALTER TYPE sluice_outcome ADD ATTRIBUTE attempts int, ADD ATTRIBUTE successor_id bigint, ADD ATTRIBUTE successor_lease uuid, ADD ATTRIBUTE successor_job uuid`);
    await q.query(`
      CREATE UNLOGGED TABLE queue_claimer (
        queue_owner_id  uuid NOT NULL,
        engine_id       uuid NOT NULL,
        seen_at         timestamptz NOT NULL,
        PRIMARY KEY (queue_owner_id, engine_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE queue_claimer`);
    await q.query(`ALTER TYPE sluice_outcome DROP ATTRIBUTE successor_job, DROP ATTRIBUTE successor_lease, DROP ATTRIBUTE successor_id, DROP ATTRIBUTE attempts`);
    await q.query(`DROP FUNCTION IF EXISTS sluice_claim(jsonb)`);
    await q.query(`DELETE FROM sql_function WHERE name = 'sluice_claim'`);
  }
}
