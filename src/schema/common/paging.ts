/**
 * Keyset paging of the lists that are oldest first (`connections`, `flows`):
 * a page is the `first` rows after the row `after` names, by (created_at,
 * id). Without `first`, every row after `after` (all of them without
 * either): the cost limit counts such a list by its real length
 * (src/http/queryCost.ts), so an unpaged list is only refused when it is
 * really long.
 */
import { badUserInput, isWellFormedId, notFound } from './errors';

/** The most rows one list field returns: a bound on what one request can ask for. */
export const MAX_PAGE = 500;

export interface Page {
  /** null: no bound. */
  first: number | null;
  /** The last id of the previous page; null: from the oldest. */
  after: string | null;
}

/** BAD_USER_INPUT for a `first` outside 0..MAX_PAGE; NOT_FOUND for a malformed `after` (an id that names nothing). */
export function validPage(what: string, first: number | null | undefined, after: string | null | undefined): Page {
  if (first != null && (!Number.isInteger(first) || first < 0 || first > MAX_PAGE)) {
    throw badUserInput(`first must be from 0 to ${MAX_PAGE}, got ${first}; leave it out for every ${what}`);
  }
  if (after != null && !isWellFormedId(after)) throw notFound(what, after);
  return { first: first ?? null, after: after ?? null };
}
