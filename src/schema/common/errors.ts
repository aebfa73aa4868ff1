/**
 * The contract's error codes, and the only way resolvers and services raise
 * them. Services throw these before writing anything, so a rejected mutation
 * changes nothing.
 */
import { GraphQLError } from 'graphql';

export type ErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT';

const HTTP_STATUS: Record<ErrorCode, number | undefined> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: undefined,
  BAD_USER_INPUT: undefined,
  NOT_FOUND: undefined,
  CONFLICT: undefined,
};

function sluiceError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, {
    extensions: { code, ...extra, ...(status ? { http: { status } } : {}) },
  });
}

export const unauthenticated = (): GraphQLError =>
  sluiceError('UNAUTHENTICATED', 'a valid bearer token is required (Authorization: Bearer <secret>)');
export const forbidden = (need: string): GraphQLError => sluiceError('FORBIDDEN', `this needs the role ${need}`);
export const badUserInput = (message: string, problems?: string[]): GraphQLError =>
  sluiceError('BAD_USER_INPUT', problems?.length ? `${message}: ${problems.join('; ')}` : message, problems ? { problems } : {});
export const notFound = (what: string, id: string): GraphQLError => sluiceError('NOT_FOUND', `no ${what} with id "${id}"`);
export const conflict = (message: string): GraphQLError => sluiceError('CONFLICT', message);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed id names nothing: the contract makes it NOT_FOUND, like an unknown one. */
export function isWellFormedId(id: string): boolean {
  return UUID.test(id);
}
