import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ClaimSaysWhenDrained1763930000000 } from './1763930000000-ClaimSaysWhenDrained';

/**
 * The engine's stored functions now live in src/engine/sql/functions, one
 * `.sql` file each, applied after the versioned migrations by a repeatable
 * step (src/database/sqlFunctions.ts) that records each file's checksum
 * here; versioned migrations hold schema changes only from now on.
 *
 *   sql_function   one row per function file applied: its name (the
 *                  function's), the SHA-256 of the file as applied, when.
 *
 * And the claim's first overload, sluice_claim_messages(uuid, int, int,
 * bigint[], uuid[]) (1763930000000-ClaimSaysWhenDrained), goes: nothing has
 * called it since 1763940000000-ReservedMessages added the overload every
 * release since then calls. The functions still in use are left in place:
 * the repeatable step replaces them with their files' versions.
 */
export class SqlFunctionFiles1765400000000 implements MigrationInterface {
  name = 'SqlFunctionFiles1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sql_function (
        name        text PRIMARY KEY,
        checksum    text NOT NULL,
        applied_at  timestamptz NOT NULL
      )`);
    await q.query(`DROP FUNCTION sluice_claim_messages(uuid, int, int, bigint[], uuid[])`);
  }

  async down(q: QueryRunner): Promise<void> {
    // That migration's up drops the overload before creating it: give it one to drop.
    await q.query(`CREATE FUNCTION sluice_claim_messages(uuid, int, int, bigint[], uuid[]) RETURNS void LANGUAGE sql AS ''`);
    await new ClaimSaysWhenDrained1763930000000().up(q);
    await q.query(`DROP TABLE sql_function`);
  }
}
