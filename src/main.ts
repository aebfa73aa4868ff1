/**
 * `npm start`: config → database → server, and a clean stop on SIGTERM or
 * SIGINT (Ctrl-C): stop serving, close the pool, stop the embedded
 * PostgreSQL last, exit 0. A second signal exits at once.
 */
import 'reflect-metadata';
import { startSluice, type RunningSluice } from './app';
import { ConfigError, loadConfig } from './config';
import { PluginLoadError } from './connectors/pluginLoader';
import { createLogger } from './logger';
import { StartRefusedError } from './startRefused';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sluice: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);

  // Signals are handled from the start: the embedded PostgreSQL runs in its
  // own process group and would outlive a process killed by a signal while
  // starting. One that comes meanwhile waits for the start, then shuts down.
  let sluice: RunningSluice | null = null;
  let stopping = false;
  const shutDown = (running: RunningSluice): void => {
    running
      .close()
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, sluice ? 'shutting down' : 'shutting down once started');
    if (sluice) shutDown(sluice);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  sluice = await startSluice(config, logger);
  if (stopping) return shutDown(sluice);
  logger.info({ url: `${sluice.url}/graphql`, role: config.role }, 'Sluice is ready');
}

main().catch((error: unknown) => {
  // A plugin problem is the operator's to fix: the message says what, a stack would only hide it.
  const detail = error instanceof PluginLoadError || error instanceof StartRefusedError ? error.message : error instanceof Error ? error.stack ?? error.message : String(error);
  process.stderr.write(`sluice: failed to start: ${detail}\n`);
  process.exit(1);
});
