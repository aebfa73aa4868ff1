/**
 * The engine tells the SDK's error classes apart by a registered symbol, not
 * by `instanceof` alone: a plugin that brings its own copy of the SDK throws
 * instances of that copy's classes, and a rate limit must still be a rate limit.
 */
import { connectorErrorKind, PermanentError, RateLimitedError, TransientError } from '../../src/connectors/sdk';

type ErrorsModule = typeof import('../../src/connectors/sdk/errors');

function anotherCopyOfTheSdk(): ErrorsModule {
  let copy: ErrorsModule | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    copy = require('../../src/connectors/sdk/errors') as ErrorsModule;
  });
  return copy!;
}

it('recognises the errors of another copy of the SDK by kind', () => {
  const other = anotherCopyOfTheSdk();
  const limited = new other.RateLimitedError('slow down', 1500);
  expect(limited).not.toBeInstanceOf(RateLimitedError);
  expect(connectorErrorKind(limited)).toBe('rate-limited');
  expect(connectorErrorKind(new other.TransientError('later', 'HTTP_503'))).toBe('transient');
  expect(connectorErrorKind(new other.PermanentError('never', 'HTTP_404'))).toBe('permanent');
});

it('gives no kind to anything outside the taxonomy', () => {
  for (const thrown of [new Error('plain'), { name: 'RateLimitedError', code: 'RATE_LIMITED' }, 'a string', undefined, null, Object.create(null)]) {
    expect(connectorErrorKind(thrown)).toBeUndefined();
  }
  expect(connectorErrorKind(new RateLimitedError('x'))).toBe('rate-limited');
  expect(connectorErrorKind(new TransientError('x'))).toBe('transient');
  expect(connectorErrorKind(new PermanentError('x'))).toBe('permanent');
});
