/**
 * The GraphQL requests received and not answered yet, oldest first (a Map
 * keeps insertion order). How long the oldest has waited tells the engine's
 * API share (src/engine/limit/apiShare.ts, `stalled`) that the API is behind
 * before any of those requests ends and reports its duration.
 */
export class RequestsInProgress {
  private readonly startedAt = new Map<number, number>();
  private nextId = 0;

  /** A request arrived at `now`; call what this returns when it is answered (or its socket closed). */
  begin(now: number): () => void {
    const id = this.nextId++;
    this.startedAt.set(id, now);
    return () => {
      this.startedAt.delete(id);
    };
  }

  get count(): number {
    return this.startedAt.size;
  }

  oldestWaitMs(now: number): number {
    const oldest = this.startedAt.values().next();
    return oldest.done ? 0 : now - oldest.value;
  }
}
