/**
 * Bearer tokens. A secret is 32 random bytes shown once; only its SHA-256 is
 * stored, so a database dump does not let anyone in.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { RoleName } from '../../auth/role';
import { ApiTokenRow } from '../../database/entities';
import type { Viewer } from '../common/context';
import { isWellFormedId, notFound } from '../common/errors';
import { apiTokenColumns } from '../../database/entityColumns';
import { poolOf } from '../../database/pool';
import type { Queryable } from '../../database/queryable';
import { validName } from '../common/names';

const SECRET_PREFIX = 'slc_';
/** last_used_at is a hint for humans; writing it on every request would put a write on every read. */
const LAST_USED_RESOLUTION_MS = 60000;

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * How long this process trusts a token it has looked up. Every request
 * authenticates, and the lookup was a database round trip per request; a
 * revocation made in this process clears its entry at once, one made in
 * another process is seen here within this time.
 */
const VIEWER_CACHE_MS = 1000;
const VIEWER_CACHE_MAX = 10000;

export class TokenService {
  /** Live tokens by the hex SHA-256 of their secret (never the secret itself), with when they were read. */
  private readonly viewers = new Map<string, { viewer: Viewer; at: number }>();

  /** Plain SQL on the pool (database/pool.ts): authentication runs on every request. */
  private readonly sql: Queryable;

  constructor(db: DataSource) {
    this.sql = poolOf(db);
  }

  /** The viewer a bearer secret stands for, or null when it names no live token. */
  async authenticate(secret: string): Promise<Viewer | null> {
    const hash = hashSecret(secret);
    const key = hash.toString('hex');
    const now = Date.now();
    const cached = this.viewers.get(key);
    if (cached && now - cached.at < VIEWER_CACHE_MS) return cached.viewer;
    const viewer = await this.lookUp(hash, now);
    if (viewer) {
      if (this.viewers.size >= VIEWER_CACHE_MAX) this.viewers.clear();
      this.viewers.set(key, { viewer, at: now });
    } else this.viewers.delete(key);
    return viewer;
  }

  private async lookUp(hash: Buffer, now: number): Promise<Viewer | null> {
    // Plain SQL on the unique index: this runs on every request, and TypeORM's
    // query builder cost more than the query (`npm run bench -- apiLoad`).
    const { rows } = await this.sql.query<{ id: string; name: string; role: RoleName; last_used_at: Date | null }>(
      `SELECT id, name, role, last_used_at FROM api_token WHERE secret_hash = $1 AND revoked_at IS NULL`,
      [hash],
    );
    const row = rows[0];
    if (!row) return null;
    if (!row.last_used_at || now - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
      void this.sql.query(`UPDATE api_token SET last_used_at = $2 WHERE id = $1`, [row.id, new Date(now)]).catch(() => undefined);
    }
    return { tokenId: row.id, tokenName: row.name, role: row.role };
  }

  /** True while the token is live: long-lived sockets ask again so a revocation ends them. */
  async isLive(tokenId: string): Promise<boolean> {
    const { rows } = await this.sql.query(`SELECT 1 FROM api_token WHERE id = $1 AND revoked_at IS NULL`, [tokenId]);
    return rows.length > 0;
  }

  /** The live tokens, oldest first. */
  async list(): Promise<ApiTokenRow[]> {
    const { rows } = await this.sql.query<ApiTokenRow>(
      `SELECT ${apiTokenColumns('t')} FROM api_token t WHERE t.revoked_at IS NULL ORDER BY t.created_at, t.id`,
    );
    return rows;
  }

  async create(name: string, role: RoleName): Promise<{ token: ApiTokenRow; secret: string }> {
    const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
    const token: ApiTokenRow = {
      id: randomUUID(),
      name: validName('token', name),
      role,
      secretHash: hashSecret(secret),
      createdAt: new Date(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.sql.query(`INSERT INTO api_token (id, name, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)`, [
      token.id,
      token.name,
      token.role,
      token.secretHash,
      token.createdAt,
    ]);
    return { token, secret };
  }

  async revoke(id: string): Promise<boolean> {
    if (!isWellFormedId(id)) throw notFound('API token', id);
    // One statement (its row lock lasts the statement): a revoked token is
    // gone from every list, so revoking it again names nothing either.
    const { rows } = await this.sql.query(`UPDATE api_token SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id`, [
      id,
      new Date(),
    ]);
    if (rows.length === 0) throw notFound('API token', id);
    // After the commit: a request read between a forget inside the
    // transaction and the commit would have cached the token again.
    for (const [key, { viewer }] of this.viewers) if (viewer.tokenId === id) this.viewers.delete(key);
    return true;
  }

  /**
   * BOOTSTRAP_ADMIN_TOKEN: a live ADMINISTER token with this secret exists
   * after start — unless a token with this secret was revoked: a revocation
   * is for good, a restart does not undo it ('revoked': the caller warns).
   */
  async ensureBootstrapAdmin(secret: string): Promise<'live' | 'revoked'> {
    const hash = hashSecret(secret);
    await this.sql.query(
      `INSERT INTO api_token (id, name, role, secret_hash, created_at)
       VALUES ($1, 'bootstrap-admin', 'ADMINISTER', $2, now())
       ON CONFLICT (secret_hash) DO UPDATE SET role = 'ADMINISTER' WHERE api_token.revoked_at IS NULL`,
      [randomUUID(), hash],
    );
    const { rows } = await this.sql.query<{ revoked: boolean }>(`SELECT revoked_at IS NOT NULL AS revoked FROM api_token WHERE secret_hash = $1`, [
      hash,
    ]);
    return rows[0]?.revoked ? 'revoked' : 'live';
  }
}
