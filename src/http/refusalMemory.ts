/**
 * The refusals the gate (operationGate.ts) made, remembered by the document's
 * text, so that a bomb sent again is refused for the price of a hash and a
 * lookup instead of a lexing, a parse and the limit rules. One MONITOR
 * sending the same three bombs back to back, 8 at a time, made 837 refusals
 * a second and pushed the normal API load's p99 from under 100 ms to 182 ms
 * (BENCHMARKS.md, "Hostile API load"); a remembered refusal costs a few
 * microseconds of hashing.
 *
 * What is remembered is exactly what cannot change while the text stays the
 * same, so a remembered answer is the answer the full checks would give:
 *
 * - `source`: bad strings and too deep literals (badInput.ts), found in the
 *   text before the variables are looked at;
 * - `limits`: the tokens, depth, aliases and directives limits: properties
 *   of the text alone; the variables are still checked first, as they are
 *   without the memory, so a request with bad variables gets BAD_USER_INPUT;
 * - `cost`: a cost refusal, only for a document none of whose operations
 *   declares a variable (the cost then depends on the variables not at all),
 *   and only for the operationName and the list sizes (listSizes.ts) it was
 *   estimated with: once a connection is deleted, or another operation of
 *   the document is named, it is estimated again. A cost that depends on
 *   `$first` is estimated every time.
 *
 * SERVER_BUSY (costBudget.ts) is never remembered: it is about the moment.
 *
 * The key is the SHA-256 of the text (never the text: documents may be up
 * to the 1 MB body limit, and hashing one costs under a millisecond); a
 * cryptographic hash, so that no client can make another client's document
 * collide with one of its own bombs. The memory is an LRU (lru-cache) of at
 * most REMEMBERED_REFUSALS entries and REMEMBERED_BYTES bytes, counted as
 * the key and the refusals' messages; the least recently used goes first.
 */
import { createHash } from 'node:crypto';
import type { GraphQLError } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { ListSizes } from './listSizes';

/** Documents whose refusal is remembered, at most. */
export const REMEMBERED_REFUSALS = 1000;
/** Bytes of keys and messages remembered, at most. */
export const REMEMBERED_BYTES = 1024 * 1024;
/** What an entry costs beyond its key and messages (the entry, its array, each error's object): an estimate, so that tiny entries count too. */
const ENTRY_OVERHEAD_BYTES = 200;

export type RememberedRefusal =
  /** Refused by the text's strings or literals, before its variables are looked at. */
  | { kind: 'source'; errors: readonly GraphQLError[] }
  /** Refused by the tokens, depth, aliases or directives limit, once its variables pass. */
  | { kind: 'limits'; errors: readonly GraphQLError[] }
  /** Refused by its cost, for this operationName and these list sizes (its operations declare no variables). */
  | { kind: 'cost'; operationName: string | undefined; sizes: ListSizes; errors: readonly GraphQLError[] };

/** The key of a document's text. */
export function textKey(query: string): string {
  return createHash('sha256').update(query).digest('base64');
}

export function sameSizes(a: ListSizes, b: ListSizes): boolean {
  return (Object.keys(a) as (keyof ListSizes)[]).every((name) => a[name] === b[name]);
}

function bytesOf(key: string, refusal: RememberedRefusal): number {
  return key.length + refusal.errors.reduce((sum, error) => sum + error.message.length * 2 + ENTRY_OVERHEAD_BYTES, ENTRY_OVERHEAD_BYTES);
}

export class RefusalMemory {
  private readonly entries: LRUCache<string, RememberedRefusal>;

  constructor(maxEntries = REMEMBERED_REFUSALS, maxBytes = REMEMBERED_BYTES) {
    this.entries = new LRUCache<string, RememberedRefusal>({ max: maxEntries, maxSize: maxBytes, sizeCalculation: (refusal, key) => bytesOf(key, refusal) });
  }

  recall(key: string): RememberedRefusal | undefined {
    return this.entries.get(key);
  }

  remember(key: string, refusal: RememberedRefusal): void {
    this.entries.set(key, refusal);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /** How many refusals are remembered, and their bytes as counted against REMEMBERED_BYTES. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.entries.calculatedSize };
  }
}
