import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One row that tells whether a process holds the key the credentials were
 * encrypted with: a known constant sealed with CREDENTIALS_KEY by the first
 * process that starts (src/auth/credentialsKeyCheck.ts). A process whose key
 * does not open it refuses to start, naming CREDENTIALS_KEY, instead of
 * starting "ready" and failing every call that needs a credential.
 *
 * `id` is always 1 (the CHECK makes a second row impossible), so the first
 * start's INSERT … ON CONFLICT DO NOTHING has one winner when several
 * processes start at once; the others read the winner's row.
 */
export class CredentialsKeyCheck1765200000000 implements MigrationInterface {
  name = 'CredentialsKeyCheck1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE credentials_key_check (
        id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        -- The constant, sealed as credentials are (credentialCipher.ts layout).
        sealed bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE credentials_key_check`);
  }
}
