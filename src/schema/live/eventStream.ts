/**
 * A push-fed async iterator: what a GraphQL subscription returns. Values
 * pushed while nobody pulls wait in order, up to MAX_BUFFERED_EVENTS: a
 * socket whose client reads slowly is not pulled from while its sends wait
 * (graphql-ws awaits each), and each event is a snapshot that a later one
 * supersedes, so past the bound the oldest is dropped. `return()` (the
 * client unsubscribed or the socket closed) runs the cleanup once.
 */
export const MAX_BUFFERED_EVENTS = 1000;

export class EventStream<T> implements AsyncIterableIterator<T> {
  private readonly buffered: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private done = false;

  constructor(private readonly cleanup: () => void) {}

  push(value: T): void {
    if (this.done) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value, done: false });
    } else {
      if (this.buffered.length >= MAX_BUFFERED_EVENTS) this.buffered.shift();
      this.buffered.push(value);
    }
  }

  /** Ends the stream after what is buffered. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
    if (this.waiting && this.buffered.length === 0) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.buffered.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.buffered.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
