/**
 * The explorer's introspection: graphql-js's own query with type references
 * four levels deep (enough for every type Sluice serves: the deepest is
 * [ID!]!, three levels) instead of its default nine, so that it stays within
 * servers whose depth limit counts introspection as it counts any query
 * (MAX_DEPTH 10). The schema is built here and handed to GraphiQL.
 */
import { buildClientSchema, getIntrospectionQuery, type GraphQLSchema, type IntrospectionQuery } from 'graphql';

const SHALLOW_TYPE_REF = `fragment TypeRef on __Type {
  kind
  name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
}
`;

/** graphql-js's introspection query (fragments do not count as a level), its TypeRef fragment four levels deep. */
export function shallowIntrospectionQuery(): string {
  const full = getIntrospectionQuery({ descriptions: true });
  return `${full.slice(0, full.indexOf('fragment TypeRef'))}${SHALLOW_TYPE_REF}`;
}

export async function fetchSchema(url: string, token: string): Promise<GraphQLSchema> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: shallowIntrospectionQuery(), operationName: 'IntrospectionQuery' }),
  });
  const body = (await response.json()) as { data?: IntrospectionQuery; errors?: { message: string }[] };
  if (!body.data) throw new Error(body.errors?.map((e) => e.message).join('; ') ?? `HTTP ${response.status}`);
  return buildClientSchema(body.data);
}
