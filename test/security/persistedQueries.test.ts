/**
 * Automatic persisted queries (Apollo's APQ) are off: a request that names
 * its document by hash alone would skip every check of operationGate.ts,
 * which reads the text. With them on, a query registered with `first: 1`
 * was run by hash with `first: 500` (a cost of 502,001) and answered 200.
 */
import { createHash } from 'node:crypto';
import { useTestSluice } from '../support/sluice';

describe('automatic persisted queries', () => {
  const s = useTestSluice();

  it('are not supported: a hash alone runs nothing, even when the same text was sent with it before', async () => {
    const monitor = await s.token('MONITOR');
    const query = `query($n: Int) { jobs(first: $n) { id flow { id jobs(first: $n) { id status } } } }`;
    const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') };
    const post = async (body: unknown): Promise<{ status: number; data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] }> => {
      const response = await fetch(`${s.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${monitor}` },
        body: JSON.stringify(body),
      });
      return { status: response.status, ...((await response.json()) as object) };
    };
    const registered = await post({ query, variables: { n: 1 }, extensions: { persistedQuery } });
    expect(registered.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_SUPPORTED');
    const replayed = await post({ variables: { n: 500 }, extensions: { persistedQuery } });
    // (Answered 200, as the APQ protocol wants: clients then send the text.)
    expect({ data: replayed.data ?? null, code: replayed.errors?.[0]?.extensions?.code }).toEqual({
      data: null,
      code: 'PERSISTED_QUERY_NOT_SUPPORTED',
    });
    // The text itself still goes through the checks.
    expect((await post({ query, variables: { n: 500 } })).errors?.[0]?.extensions).toMatchObject({ limit: 'cost' });
  });
});
