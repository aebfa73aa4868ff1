/**
 * The start-up step for connections stored before secrets were refused in
 * config (auth/secretsInConfig.ts): an http connection whose config holds one
 * secret — a secret-looking entry of `config.headers`, or a user name and
 * password in `baseUrl` — and that has no credentials yet gets it moved into
 * its credentials (type `header`, or `basic` for user info), encrypted, and
 * out of the config every role reads.
 *
 * Why at start, in TypeScript, and not in a SQL migration: credentials are
 * sealed with CREDENTIALS_KEY, which the database never sees. It runs after
 * the migrations and the key check, so what it seals opens for every process.
 *
 * What cannot be moved without losing something — a connection that already
 * has credentials, or holds more than one secret — stops the start, naming
 * each connection and what is in the way (an operator decides which secret
 * stays). A plugin connection's config is the plugin's: Sluice cannot know
 * where its secret belongs, so it is only warned about.
 */
import type { Queryable } from '../database/queryable';
import type { Logger } from '../logger';
import { StartRefusedError } from '../startRefused';
import type { CredentialCipher } from './credentialCipher';
import { hasUserInfo, secretLookingHeader } from './secretsInConfig';

interface StoredConnection {
  id: string;
  name: string;
  connector_type: string;
  config: Record<string, unknown>;
  has_credentials: boolean;
}

/** One secret found in a config: where it is, and how it would be stored as credentials. */
type FoundSecret =
  | { kind: 'header'; name: string; value: string }
  | { kind: 'userInfo'; username: string; password: string; baseUrl: string };

function secretsOf(config: Record<string, unknown>): FoundSecret[] {
  const found: FoundSecret[] = [];
  const headers = config.headers;
  if (headers !== null && typeof headers === 'object' && !Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (typeof value === 'string' && secretLookingHeader(name)) found.push({ kind: 'header', name, value });
    }
  }
  if (typeof config.baseUrl === 'string' && hasUserInfo(config.baseUrl)) {
    const url = new URL(config.baseUrl);
    const username = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
    found.push({ kind: 'userInfo', username, password, baseUrl: url.toString().replace(/\/$/, config.baseUrl.endsWith('/') ? '/' : '') });
  }
  return found;
}

function where(secret: FoundSecret): string {
  return secret.kind === 'header' ? `config.headers.${secret.name}` : 'the user name and password in config.baseUrl';
}

/** The config without the secret, and the credentials that hold it. */
function moved(config: Record<string, unknown>, secret: FoundSecret): { config: Record<string, unknown>; credentials: Record<string, string> } {
  switch (secret.kind) {
    case 'header': {
      const { [secret.name]: _gone, ...headers } = config.headers as Record<string, string>;
      return { config: { ...config, headers }, credentials: { type: 'header', name: secret.name, value: secret.value } };
    }
    case 'userInfo':
      return { config: { ...config, baseUrl: secret.baseUrl }, credentials: { type: 'basic', username: secret.username, password: secret.password } };
    default: {
      const unreachable: never = secret;
      throw new Error(`unknown secret ${JSON.stringify(unreachable)}`);
    }
  }
}

/** The number of connections whose secret was moved; throws StartRefusedError for those it cannot move. */
export async function moveSecretsOutOfConfig(sql: Queryable, cipher: CredentialCipher, logger: Logger): Promise<number> {
  // Only rows that can hold one: a headers object or a '@' in baseUrl (the check in TypeScript decides).
  const { rows } = await sql.query<StoredConnection>(
    `SELECT id, name, connector_type, config, credentials IS NOT NULL AS has_credentials
       FROM connection
      WHERE jsonb_typeof(config -> 'headers') = 'object' OR config ->> 'baseUrl' LIKE '%@%'
      ORDER BY created_at, id`,
  );
  const stuck: string[] = [];
  let count = 0;
  for (const row of rows) {
    const secrets = secretsOf(row.config);
    if (secrets.length === 0) continue;
    const what = secrets.map(where).join(', ');
    if (row.connector_type !== 'http') {
      logger.warn(
        { connectionId: row.id, connectorType: row.connector_type, where: secrets.map(where) },
        `connection "${row.name}" holds what looks like a secret in its config (${what}), readable by every role; move it into its credentials`,
      );
      continue;
    }
    if (row.has_credentials || secrets.length > 1) {
      const why = row.has_credentials ? 'it already has credentials' : 'credentials hold one secret';
      stuck.push(`connection "${row.name}" (${row.id}): ${what} (${why})`);
      continue;
    }
    const secret = secrets[0]!;
    const change = moved(row.config, secret);
    // Only if nothing changed it meanwhile (another process starting at the same time moves it once).
    const { rowCount } = await sql.query(
      `UPDATE connection SET config = $2, credentials = $3, updated_at = now()
        WHERE id = $1 AND credentials IS NULL AND config = $4::jsonb`,
      [row.id, JSON.stringify(change.config), cipher.seal(row.id, change.credentials), JSON.stringify(row.config)],
    );
    if (rowCount === 1) {
      count++;
      logger.warn(
        { connectionId: row.id, from: where(secret), credentialsType: change.credentials.type },
        `moved the secret in ${where(secret)} of connection "${row.name}" into its credentials (encrypted, never returned)`,
      );
    }
  }
  if (stuck.length > 0) {
    throw new StartRefusedError(
      `these connections hold secrets in their config (readable by every role) that Sluice cannot move into their credentials: ${stuck.join('; ')}. ` +
        "Decide which secret stays and remove the other from the config, e.g. UPDATE connection SET config = config #- '{headers,X-Api-Key}' WHERE id = '<id>'; then start again.",
    );
  }
  return count;
}
