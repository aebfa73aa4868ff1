/** Paging of connections and flows (src/schema/common/paging.ts): oldest first, `first` 0..500, `after` the last id of the previous page. */
import { codeOf, useTestSluice } from '../support/sluice';

describe('paging of connections and flows', () => {
  const s = useTestSluice();

  it('pages connections and flows in creation order, and all of them without first', async () => {
    for (let i = 0; i < 5; i++) {
      await s.ok(`mutation($n: String!) { createConnection(input: { name: $n, connectorType: "http", config: { baseUrl: "http://127.0.0.1:9" } }) { id } }`, { n: `c${i}` });
      await s.ok(`mutation($n: String!) { createFlow(input: { name: $n }) { id } }`, { n: `f${i}` });
    }
    for (const field of ['connections', 'flows']) {
      const all = (await s.ok<Record<string, { id: string; name: string }[]>>(`{ ${field} { id name } }`))[field]!;
      expect(all.map((r) => r.name)).toEqual(field === 'connections' ? ['c0', 'c1', 'c2', 'c3', 'c4'] : ['f0', 'f1', 'f2', 'f3', 'f4']);
      const first = (await s.ok<Record<string, { id: string }[]>>(`{ ${field}(first: 2) { id } }`))[field]!;
      const second = (await s.ok<Record<string, { id: string }[]>>(`query($a: ID) { ${field}(first: 2, after: $a) { id } }`, { a: first[1]!.id }))[field]!;
      const last = (await s.ok<Record<string, { id: string }[]>>(`query($a: ID) { ${field}(first: 2, after: $a) { id } }`, { a: second[1]!.id }))[field]!;
      expect([...first, ...second, ...last].map((r) => r.id)).toEqual(all.map((r) => r.id));
      expect(codeOf(await s.gql(`{ ${field}(first: 501) { id } }`))).toBe('BAD_USER_INPUT');
      expect(codeOf(await s.gql(`{ ${field}(first: -1) { id } }`))).toBe('BAD_USER_INPUT');
      expect(codeOf(await s.gql(`{ ${field}(first: 2, after: "00000000-0000-4000-8000-000000000000") { id } }`))).toBe('NOT_FOUND');
    }
  });
});
