/** Kept for the tests and benchmarks that import it from here; its home is src/database/queryable.ts. */
export type { Queryable } from '../../database/queryable';
