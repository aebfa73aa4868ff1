import type { Viewer } from '../schema/common/context';
import type { TokenService } from '../schema/token/token.service';

/** The secret of an `Authorization: Bearer <secret>` value, or null. */
export function bearerSecret(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? (match[1] as string) : null;
}

export async function viewerFor(tokens: TokenService, authorization: unknown): Promise<Viewer | null> {
  const secret = bearerSecret(authorization);
  return secret ? tokens.authenticate(secret) : null;
}
