import { badUserInput } from './errors';

const MAX_NAME_LENGTH = 200;

/** Names are what people read in lists: non-blank, trimmed, bounded. */
export function validName(what: string, name: string | null | undefined): string {
  const trimmed = (name ?? '').trim();
  if (trimmed.length === 0) throw badUserInput(`${what} name must not be empty`);
  if (trimmed.length > MAX_NAME_LENGTH) throw badUserInput(`${what} name must be at most ${MAX_NAME_LENGTH} characters`);
  return trimmed;
}
