/**
 * A revoked BOOTSTRAP_ADMIN_TOKEN stays revoked (README "What each role may
 * do"): a restart with the same secret does not bring it back, and the start
 * logs a warning that the variable names a revoked token.
 */
import pino from 'pino';
import { startSluice } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { codeOf, useTestSluice } from '../support/sluice';

describe('BOOTSTRAP_ADMIN_TOKEN once revoked', () => {
  const s = useTestSluice();

  it('stays revoked after a restart with the same secret, with a warning at start', async () => {
    const { apiTokens } = await s.ok<{ apiTokens: { id: string; name: string }[] }>(`{ apiTokens { id name } }`);
    const bootstrap = apiTokens.find((t) => t.name === 'bootstrap-admin')!;
    const other = (
      await s.ok<{ createApiToken: { secret: string } }>(`mutation { createApiToken(name: "second admin", role: ADMINISTER) { secret } }`)
    ).createApiToken.secret;
    await s.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: bootstrap.id }, other);
    expect(codeOf(await s.gql(`{ viewer { role } }`, {}, s.adminSecret))).toBe('UNAUTHENTICATED');

    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) } as unknown as pino.DestinationStream);
    const restarted = await startSluice(
      loadConfig({ DATABASE_URL: s.databaseUrl, CREDENTIALS_KEY: s.credentialsKey, BOOTSTRAP_ADMIN_TOKEN: s.adminSecret, PORT: '0', ROLE: 'api' }),
      logger,
    );
    try {
      const response = await fetch(`${restarted.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.adminSecret}` },
        body: JSON.stringify({ query: `{ viewer { role } }` }),
      });
      const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
      expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(lines.filter((l) => l.includes('"level":40') && l.includes('BOOTSTRAP_ADMIN_TOKEN names a revoked token'))).toHaveLength(1);
      expect(lines.filter((l) => l.includes(s.adminSecret))).toEqual([]);
    } finally {
      await restarted.close();
    }
    // Still one bootstrap-admin row, the revoked one: no second token was made for the secret.
    const rows = (await s.sluice.dataSource.query(`SELECT revoked_at IS NOT NULL AS revoked FROM api_token WHERE name = 'bootstrap-admin'`)) as {
      revoked: boolean;
    }[];
    expect(rows).toEqual([{ revoked: true }]);
  });
});
