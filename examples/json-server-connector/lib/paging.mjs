// @ts-check
/**
 * How the application pages a list: json-server 0.17 takes
 * `?_page=<1-based page>&_limit=<page size>&_sort=<field>&_order=asc` and
 * answers an array, with `X-Total-Count` and a `Link` header that has
 * rel="next" while there is a next page. Another API pages otherwise: this
 * is the file to change (and the cursor may then be a token, not a number).
 */

/**
 * The query of one page.
 * @param {number} page  1-based
 * @param {number} pageSize
 * @param {string} sort  a field that orders records stably (pages must not overlap)
 * @returns {Record<string, string | number>}
 */
export function pageQuery(page, pageSize, sort) {
  return { _page: page, _limit: pageSize, _sort: sort, _order: 'asc' };
}

/**
 * Whether a page has a next one: from the Link header when there is one,
 * else from X-Total-Count, else a full page is taken to mean "maybe more"
 * (one empty page at the end is the price).
 * @param {Headers} headers
 * @param {number} page
 * @param {number} pageSize
 * @param {number} received  records on this page
 * @returns {boolean}
 */
export function hasNextPage(headers, page, pageSize, received) {
  const link = headers.get('link');
  if (link !== null) return /rel="?next"?/.test(link);
  const total = headers.get('x-total-count');
  if (total !== null && /^\d+$/.test(total)) return page * pageSize < Number(total);
  return received === pageSize;
}
