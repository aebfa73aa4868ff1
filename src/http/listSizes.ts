/**
 * How long the lists a query can ask for really are, for the cost estimate
 * (queryCost.ts): the number of connections, flows and live tokens, and the
 * longest list of each nested kind (a flow's steps, a connection's steps,
 * flows and borrowers). The estimate multiplies a list field's selections by
 * its size, so a query over 1,000 connections costs what 1,000 connections
 * cost, and the same query over 3 costs what 3 cost.
 *
 * Read at most once a second per process (concurrent requests share one
 * read): a figure up to a second old is the price of not adding a round trip
 * to every request. Only ADMINISTER and MANAGE can add rows meanwhile.
 */
import type { Queryable } from '../database/queryable';

export type ListSizes = {
  connections: number;
  flows: number;
  apiTokens: number;
  /** The most steps of one flow (also bounds a flow's distinct connections). */
  stepsPerFlow: number;
  /** The most steps on one connection. */
  stepsPerConnection: number;
  /** The most distinct flows with a step on one connection. */
  flowsPerConnection: number;
  /** The most borrowers of one connection. */
  borrowersPerConnection: number;
};

/**
 * No parameters; no locks. Each aggregate scans its table once (the step and
 * connection tables hold thousands of rows, not millions: a few ms at most).
 */
const READ_LIST_SIZES = `
  SELECT (SELECT count(*) FROM connection)::int AS "connections",
         (SELECT count(*) FROM flow)::int AS "flows",
         (SELECT count(*) FROM api_token WHERE revoked_at IS NULL)::int AS "apiTokens",
         (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM step GROUP BY flow_id) s)::int AS "stepsPerFlow",
         (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM step GROUP BY connection_id) s)::int AS "stepsPerConnection",
         (SELECT coalesce(max(n), 0) FROM (SELECT count(DISTINCT flow_id) AS n FROM step GROUP BY connection_id) s)::int AS "flowsPerConnection",
         (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM connection WHERE borrow_from_id IS NOT NULL GROUP BY borrow_from_id) s)::int
           AS "borrowersPerConnection"`;

/** How old a reading may be before the next request reads again. */
export const LIST_SIZES_MAX_AGE_MS = 1000;

export class ListSizeReader {
  private reading: Promise<ListSizes> | null = null;
  private readAt = -Infinity;

  constructor(
    private readonly sql: Queryable,
    private readonly now: () => number = () => performance.now(),
  ) {}

  current(): Promise<ListSizes> {
    if (this.reading && this.now() - this.readAt < LIST_SIZES_MAX_AGE_MS) return this.reading;
    this.readAt = this.now();
    const reading = this.sql.query<ListSizes>(READ_LIST_SIZES).then(({ rows }) => rows[0] as ListSizes);
    // A failed read is not kept: the next request tries again.
    reading.catch(() => {
      if (this.reading === reading) this.reading = null;
    });
    this.reading = reading;
    return reading;
  }
}
