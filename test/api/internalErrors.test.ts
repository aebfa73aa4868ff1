/**
 * An error the server did not mean to raise reaches the client as a plain
 * INTERNAL_SERVER_ERROR, without the database's wording; the log keeps it.
 */
import { codeOf, startTestSluice, type TestSluice } from '../support/sluice';

describe('unexpected errors', () => {
  let s: TestSluice;
  const logLines: string[] = [];

  beforeAll(async () => {
    s = await startTestSluice({ logLines });
  });
  afterAll(() => s?.close());

  it('answers INTERNAL_SERVER_ERROR without the database message, and logs it', async () => {
    // Break this file's own database under the running server.
    await s.sluice.dataSource.query('ALTER TABLE flow RENAME TO flow_gone');
    try {
      const r = await s.gql(`{ flows { id } }`);
      expect(codeOf(r)).toBe('INTERNAL_SERVER_ERROR');
      expect(r.errors?.[0]?.message).toBe('internal server error');
      expect(JSON.stringify(r)).not.toContain('flow_gone');
      expect(JSON.stringify(r)).not.toMatch(/relation|does not exist/);
      expect(logLines.some((l) => l.includes('unexpected error in a GraphQL operation') && l.includes('does not exist'))).toBe(true);
    } finally {
      await s.sluice.dataSource.query('ALTER TABLE flow_gone RENAME TO flow');
    }
    expect((await s.ok<{ flows: unknown[] }>(`{ flows { id } }`)).flows).toEqual([]);
  });
});
