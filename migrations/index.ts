/** Every migration, in order. Append-only: never edit one that has landed. */
import { Foundation1763890000000 } from './1763890000000-Foundation';

export const migrations = [Foundation1763890000000];
