/**
 * `npm start`: config → port → database → server, and a clean stop on
 * SIGTERM or SIGINT (Ctrl-C): stop serving, drain, close the pool, stop the
 * embedded PostgreSQL last, exit 0.
 *
 * `npm start` execs node (package.json), so a supervisor's signal to npm's
 * pid reaches this process through npm, which forwards SIGTERM and SIGINT.
 * A Ctrl-C in a terminal therefore arrives twice, once from the terminal and
 * once forwarded by npm: a repeat of the same signal within
 * REPEAT_WINDOW_MS is that echo. A later second signal exits at once (1).
 *
 * Every line is JSON (pino), the errors that stop a start too: a
 * configuration error names its variable (code CONFIG_ERROR, exit 2); any
 * other says what failed (exit 1).
 */
import 'reflect-metadata';
import { startSluice, type RunningSluice } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { PluginLoadError } from './connectors/pluginLoader';
import { DatabaseWaitError, StartAborted } from './database/waitForDatabase';
import { createLogger, type Logger } from './logger';
import { StartRefusedError } from './startRefused';
import { startTracing, type Tracing } from './tracing';

const REPEAT_WINDOW_MS = 1000;

/** A start's fatal error as one JSON line: a message the operator can act on, a stack only where it helps. */
function startFailed(logger: Logger, error: unknown): void {
  if (error instanceof ConfigError) {
    logger.fatal({ code: error.code, variable: error.variable }, `sluice: configuration error: ${error.message}`);
  } else if (error instanceof PluginLoadError || error instanceof DatabaseWaitError || error instanceof StartRefusedError) {
    // The operator's to fix: the message says what; a stack would only hide it.
    logger.fatal({ code: (error as { code?: string }).code ?? error.name }, `sluice: failed to start: ${error.message}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    logger.fatal({ err: error }, `sluice: failed to start: ${message}`);
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    // No level is configured yet (it may be what is wrong): fatal lines are written at any level but silent.
    startFailed(createLogger('info'), error);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
    return;
  }
  const logger = createLogger(config.logLevel);
  const tracing: Tracing | null = config.otlpTracesEndpoint ? startTracing({ kind: 'otlp', url: config.otlpTracesEndpoint }, { 'sluice.role': config.role }) : null;
  if (tracing) logger.info({ endpoint: config.otlpTracesEndpoint }, 'tracing on (OTLP over HTTP)');

  // Signals are handled from the start: the embedded PostgreSQL runs in its
  // own process group and would outlive a process killed by a signal while
  // starting. One that comes meanwhile calls off a wait for the database,
  // or else waits for the start, then shuts down.
  const starting = new AbortController();
  let sluice: RunningSluice | null = null;
  let first: { signal: NodeJS.Signals; at: number } | null = null;
  const exit = async (code: number): Promise<void> => {
    await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'exporting the last spans failed'));
    process.exit(code);
  };
  const shutDown = (running: RunningSluice): void => {
    running
      .close()
      .then(() => {
        logger.info('stopped');
        return exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        return exit(1);
      });
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (first) {
      if (signal === first.signal && Date.now() - first.at < REPEAT_WINDOW_MS) return; // npm's echo of the same Ctrl-C
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    first = { signal, at: Date.now() };
    logger.info({ signal }, sluice ? 'shutting down' : 'shutting down once started');
    starting.abort();
    if (sluice) shutDown(sluice);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    sluice = await startSluice(config, logger, { signal: starting.signal });
  } catch (error) {
    if (error instanceof StartAborted) {
      logger.info('stopped before the start was done');
      return exit(0);
    }
    startFailed(logger, error);
    return exit(1);
  }
  if (first) return shutDown(sluice);
  logger.info({ url: `${sluice.url}/graphql`, role: config.role }, 'Sluice is ready');
}

void main();
