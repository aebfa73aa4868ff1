/**
 * Credentials at rest: AES-256-GCM (authenticated encryption), one random IV
 * per value. Sealed layout: version (1 byte) | iv (12) | tag (16) | ciphertext.
 * The connection id is bound as additional data, so a sealed value copied onto
 * another connection's row does not decrypt.
 *
 * A value that does not open (a wrong key, a row copied from another
 * connection, a damaged value) is CREDENTIALS_UNREADABLE: permanent (no
 * retry opens it), never PLUGIN_ERROR, and logged naming the connection.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CredentialsKeySource } from '../config';
import { PermanentError } from '../connectors/sdk/errors';

export class CredentialsUnreadableError extends PermanentError {
  override name = 'CredentialsUnreadableError';
  constructor(readonly connectionId: string) {
    super(
      `the stored credentials of connection ${connectionId} cannot be decrypted with this process's CREDENTIALS_KEY: ` +
        'start every process with the key they were encrypted with, or give the connection new credentials',
      'CREDENTIALS_UNREADABLE',
    );
  }
}

/** Told once per connection and minute when its credentials do not open (a log line; the value is never passed). */
export type OnUnreadable = (connectionId: string, reason: string) => void;
const UNREADABLE_REPORT_MS = 60000;

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class CredentialCipher {
  private readonly reported = new Map<string, number>();

  constructor(
    private readonly key: Buffer,
    private readonly onUnreadable: OnUnreadable = () => undefined,
  ) {
    if (key.length !== 32) throw new Error('the credentials key must be 32 bytes');
  }

  seal(connectionId: string, credentials: unknown): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(connectionId));
    const body = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  /** The credentials sealed for `connectionId`; CredentialsUnreadableError when they do not open. */
  open(connectionId: string, sealed: Buffer): unknown {
    try {
      return this.openOrThrow(connectionId, sealed);
    } catch (error) {
      const now = Date.now();
      const last = this.reported.get(connectionId);
      if (last === undefined || now - last >= UNREADABLE_REPORT_MS) {
        if (this.reported.size >= 10000) this.reported.clear();
        this.reported.set(connectionId, now);
        this.onUnreadable(connectionId, error instanceof Error ? error.message : String(error));
      }
      throw new CredentialsUnreadableError(connectionId);
    }
  }

  /** True when `sealed` opens for `id` with this key: the start-up key check (credentialsKeyCheck.ts). */
  opens(id: string, sealed: Buffer): boolean {
    try {
      this.openOrThrow(id, sealed);
      return true;
    } catch {
      return false;
    }
  }

  private openOrThrow(connectionId: string, sealed: Buffer): unknown {
    if (sealed[0] !== VERSION) throw new Error(`unknown credentials format ${sealed[0]}`);
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAAD(Buffer.from(connectionId));
    decipher.setAuthTag(tag);
    const body = Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    return JSON.parse(body.toString('utf8'));
  }
}

/** The key from CREDENTIALS_KEY, or the one generated once into DATA_DIR (mode 0600). */
export function loadCredentialsKey(source: CredentialsKeySource): Buffer {
  if (source.kind === 'env') return source.key;
  try {
    const key = Buffer.from(fs.readFileSync(source.path, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${source.path} does not hold a 32-byte base64 key`);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  fs.mkdirSync(path.dirname(source.path), { recursive: true });
  const key = randomBytes(32);
  // 'wx': never overwrite a key another process wrote meanwhile.
  fs.writeFileSync(source.path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}
