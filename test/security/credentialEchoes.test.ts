/** Literal credentials in a malformed operation are not repeated by its errors (src/http/credentialEchoes.ts). */
import { useTestSluice } from '../support/sluice';

const SECRET = 'sk_live_do-not-echo-me';

describe('credential echoes of literals', () => {
  const s = useTestSluice();

  it('leaves a literal credential out of a validation error', async () => {
    const response = await s.gql(`mutation { testConnection(id: { credentials: { type: "bearer", token: "${SECRET}" } }) { ok } }`);
    expect(response.errors?.length).toBeGreaterThan(0);
    expect(JSON.stringify(response)).not.toContain(SECRET);
  });

  it('leaves string tokens out of a syntax error', async () => {
    const response = await s.gql(`mutation { createConnection(input: { credentials: { token: "x" "${SECRET}" } }) { id } }`);
    expect(response.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(JSON.stringify(response)).not.toContain(SECRET);
  });
});
