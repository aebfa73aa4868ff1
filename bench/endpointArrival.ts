/**
 * The latency cases' finish line, shared by Sluice's (bench/run.ts) and
 * graphile-worker's (bench/graphileWorkerProcess.ts): bench/endpoint.ts's
 * long poll, answered with the arrival time of the next /orders request.
 */

/** Asked before the enqueue; resolves to the next /orders request's arrival (performance.timeOrigin + now, in ms). */
export async function nextArrival(endpointUrl: string): Promise<number> {
  return ((await (await fetch(`${endpointUrl}/arrival`)).json()) as { at: number }).at;
}

/**
 * Until the long poll is in place: asked, not assumed after a pause (at a load of 4 a 2 ms pause once lost the
 * race, and the case waited forever).
 */
export async function arrivalPollInPlace(endpointUrl: string): Promise<void> {
  while (((await (await fetch(`${endpointUrl}/arrivalWaiters`)).json()) as { waiting: number }).waiting === 0) {
    await new Promise((r) => setTimeout(r, 1));
  }
}
