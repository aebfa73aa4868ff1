import type { Logger } from '../logger';
import type { ConnectorLogger } from './sdk';

/**
 * The logger a connector call gets: the SDK's (message, fields) shape over
 * pino's (fields, message), bound to the call. The pino child is made on the
 * first log line only: most calls never log, and a child per call shows in
 * profiles at thousands of calls per second. Redaction applies as everywhere.
 */
export function connectorLogger(logger: Logger, bindings: Record<string, unknown>): ConnectorLogger {
  let child: Logger | undefined;
  const get = (): Logger => (child ??= logger.child(bindings));
  return {
    debug: (message, fields) => get().debug(fields ?? {}, message),
    info: (message, fields) => get().info(fields ?? {}, message),
    warn: (message, fields) => get().warn(fields ?? {}, message),
    error: (message, fields) => get().error(fields ?? {}, message),
  };
}
