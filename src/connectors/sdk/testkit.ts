/**
 * The plugin test kit: runs a connector's calls against a live endpoint, in a
 * plugin author's own tests, without a Sluice server. Config, credentials and
 * step configs are validated against the connector's schemas and get their
 * defaults filled, as Sluice does before it stores them, so what passes here
 * is what Sluice will hand the connector.
 *
 *   const kit = connectorTestKit(myConnector, { config: { baseUrl }, credentials: { type: 'bearer', token } });
 *   const records = await kit.exportAll({ path: '/orders', paging: { ... } });
 */
import { randomUUID } from 'node:crypto';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { Connector, ConnectorLogger, ExportPage, JsonRecord, JsonSchema, PingResult, StepCallContext } from './connector';

export interface TestKitOptions {
  config: unknown;
  credentials?: unknown;
  /** Aborts every call after this long (default 30 s). */
  timeoutMs?: number;
  /** Where the connector's log lines go (default: nowhere). */
  logger?: ConnectorLogger;
}

export interface ConnectorTestKit {
  /** Waits the connector asked for through ctx.slowDown, in call order. */
  readonly slowDowns: number[];
  ping(): Promise<PingResult>;
  exportPage(stepConfig: unknown, cursor?: unknown): Promise<ExportPage>;
  /** Every page, following `next` until it is null (at most `maxPages`). */
  exportAll(stepConfig: unknown, maxPages?: number): Promise<JsonRecord[]>;
  download(stepConfig: unknown): Promise<JsonRecord[]>;
  lookup(stepConfig: unknown, record: JsonRecord): Promise<JsonRecord>;
  importRecords(stepConfig: unknown, records: JsonRecord[], idempotencyKey?: string): Promise<void>;
}

export class TestKitValidationError extends Error {
  override name = 'TestKitValidationError';
}

const silent: ConnectorLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export function connectorTestKit(connector: Connector, options: TestKitOptions): ConnectorTestKit {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  addFormats(ajv);
  const valid = (what: string, schema: JsonSchema, value: unknown): JsonRecord => {
    const copy = structuredClone(value ?? {}) as JsonRecord;
    const validate = ajv.compile(schema);
    if (!validate(copy)) {
      const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`.trim());
      throw new TestKitValidationError(`${what} does not match the ${connector.type} connector's schema: ${problems.join('; ')}`);
    }
    return copy;
  };
  const config = valid('config', connector.configSchema, options.config);
  const credentials = options.credentials == null ? null : valid('credentials', connector.credentialsSchema, options.credentials);
  const slowDowns: number[] = [];
  const timeoutMs = options.timeoutMs ?? 30000;

  const step = <K extends keyof Connector['steps']>(kind: K): NonNullable<Connector['steps'][K]> => {
    const s = connector.steps[kind];
    if (!s) throw new TestKitValidationError(`the ${connector.type} connector has no ${String(kind)} step`);
    return s as NonNullable<Connector['steps'][K]>;
  };
  const ctx = (stepSchema: JsonSchema, stepConfig: unknown, idempotencyKey: string = randomUUID()): StepCallContext<unknown, unknown, JsonRecord> => ({
    config,
    credentials,
    signal: AbortSignal.timeout(timeoutMs),
    logger: options.logger ?? silent,
    stepConfig: valid('step config', stepSchema, stepConfig),
    idempotencyKey,
    slowDown: (ms) => void slowDowns.push(ms),
  });

  return {
    slowDowns,
    async ping() {
      if (!connector.ping) return { ok: true, message: 'the connector has no ping' };
      return connector.ping({ config, credentials, signal: AbortSignal.timeout(timeoutMs), logger: options.logger ?? silent });
    },
    async exportPage(stepConfig, cursor = null) {
      const s = step('EXPORT');
      return s.exportPage({ ...ctx(s.configSchema, stepConfig), cursor });
    },
    async exportAll(stepConfig, maxPages = 100) {
      const s = step('EXPORT');
      const records: JsonRecord[] = [];
      let cursor: unknown = null;
      for (let page = 0; page < maxPages; page++) {
        const result = await s.exportPage({ ...ctx(s.configSchema, stepConfig), cursor });
        records.push(...result.records);
        if (result.next === null || result.next === undefined) return records;
        cursor = result.next;
      }
      throw new TestKitValidationError(`the export did not end within ${maxPages} pages`);
    },
    async download(stepConfig) {
      const s = step('DOWNLOAD');
      return s.download(ctx(s.configSchema, stepConfig));
    },
    async lookup(stepConfig, record) {
      const s = step('LOOKUP');
      return s.lookup({ ...ctx(s.configSchema, stepConfig), record });
    },
    async importRecords(stepConfig, records, idempotencyKey) {
      const s = step('IMPORT');
      return s.importRecords({ ...ctx(s.configSchema, stepConfig, idempotencyKey), records });
    },
  };
}
