import type { QueryResult, QueryResultRow } from 'pg';

/** A pg Pool or a client inside a transaction: what the engine's and the API's statements run on. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}
