/**
 * The start-up key check (contract: "credentials"): a process whose
 * CREDENTIALS_KEY is not the one the stored credentials were encrypted with
 * refuses to start, naming CREDENTIALS_KEY — rather than starting "ready" and
 * failing every call that needs a credential.
 *
 * The check value is a known constant sealed with the key by the first start
 * (table credentials_key_check, one row). A database from before the check
 * has credentials but no row: one stored credential is opened first, so the
 * first start after the upgrade cannot write a check value with a wrong key.
 */
import type { Queryable } from '../database/queryable';
import { StartRefusedError } from '../startRefused';
import type { CredentialCipher } from './credentialCipher';

/** The "connection id" the check value is sealed for (additional data): no connection has it, ids are UUIDs. */
const CHECK_ID = 'sluice-credentials-key-check';
const CHECK_CONSTANT = 'sluice credentials key check, version 1';

export type KeyCheck = 'written' | 'matched';

function mismatch(what: string): StartRefusedError {
  return new StartRefusedError(
    `CREDENTIALS_KEY is not the key this database's credentials were encrypted with (${what} does not decrypt with it). ` +
      'Start this process with the same CREDENTIALS_KEY as the processes that wrote them (with the embedded database, the key in DATA_DIR/credentials.key); ' +
      'Sluice refuses to start rather than fail every call that needs a credential.',
  );
}

export async function checkCredentialsKey(sql: Queryable, cipher: CredentialCipher): Promise<KeyCheck> {
  const read = async (): Promise<Buffer | null> =>
    (await sql.query<{ sealed: Buffer }>(`SELECT sealed FROM credentials_key_check WHERE id = 1`)).rows[0]?.sealed ?? null;
  let sealed = await read();
  let outcome: KeyCheck = 'matched';
  if (sealed === null) {
    const { rows } = await sql.query<{ id: string; credentials: Buffer }>(
      `SELECT id, credentials FROM connection WHERE credentials IS NOT NULL ORDER BY created_at, id LIMIT 1`,
    );
    const stored = rows[0];
    if (stored && !cipher.opens(stored.id, stored.credentials)) throw mismatch(`the stored credentials of connection ${stored.id}`);
    // One row, id 1: when processes start together one INSERT wins and every one checks the winner's.
    const { rowCount } = await sql.query(`INSERT INTO credentials_key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [
      cipher.seal(CHECK_ID, CHECK_CONSTANT),
    ]);
    if (rowCount === 1) outcome = 'written';
    sealed = await read();
  }
  if (sealed === null || !cipher.opens(CHECK_ID, sealed)) throw mismatch('the key check value in the credentials_key_check table');
  return outcome;
}
