/**
 * A GraphQL-over-HTTP client for a Sluice this test process did not start
 * itself (a child process: test/support/sluiceProcess.ts), with the same
 * `gql`/`ok` as a TestSluice, so the flow helpers work against it.
 */
import type { GraphQLResponse, TestSluice } from './sluice';

export type GraphQLClient = Pick<TestSluice, 'gql' | 'ok'>;

/** `url`: http://127.0.0.1:<port> (the process's, without /graphql); `secret`: the token every call carries. */
export function graphqlClient(url: string, secret: string): GraphQLClient {
  const gql: TestSluice['gql'] = async (query, variables, token = secret) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as GraphQLResponse<any>;
    return { ...body, status: response.status };
  };
  const ok: TestSluice['ok'] = async (query, variables, token) => {
    const result = await gql(query, variables, token);
    if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    return result.data as any;
  };
  return { gql, ok };
}
