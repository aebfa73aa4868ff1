/** Bounding a read in time: what waits on the database where an answer must come regardless (a metrics scrape). */

/** `read`'s result, or a rejection once `ms` have passed without it. */
export function within<T>(read: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([read, late]).finally(() => clearTimeout(timer));
}
