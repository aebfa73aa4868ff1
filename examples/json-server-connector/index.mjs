// @ts-check
/**
 * sluice-connector-json-server: a Sluice connector plugin for json-server
 * (the npm package, 0.17), a small self-hostable REST application that
 * serves the collections of a JSON file.
 *
 * - EXPORT reads a collection page by page (lib/paging.mjs).
 * - LOOKUP finds, for each record, the item of another collection whose
 *   `matchField` equals one of the record's fields, and adds it to the record.
 * - IMPORT upserts each record by its id: PUT /<resource>/<id>, and POST when
 *   the application says 404. A record without an id gets the message's
 *   idempotency key as its id, so a retry replaces what an earlier try wrote
 *   instead of writing it twice.
 * - Failures map to the SDK's errors in lib/responseErrors.mjs (429 and 503
 *   with Retry-After are rate limits).
 *
 * Load it with CONNECTOR_PLUGINS=sluice-connector-json-server (or a path to
 * this file). The README says how to make it talk to another API.
 */
import { defineConnector, PermanentError } from 'sluice/connector-sdk';
import { hasNextPage, pageQuery } from './lib/paging.mjs';
import { DEFAULT_TIMEOUT_MS, request } from './lib/request.mjs';

/**
 * @typedef {import('./lib/request.mjs').Config} Config
 * @typedef {import('./lib/request.mjs').Credentials} Credentials
 * @typedef {{ resource: string, pageSize: number, sort: string, filter?: Record<string, string | number | boolean> }} ExportConfig
 * @typedef {{ resource: string, recordField: string, matchField: string, resultField: string, onMissing: 'fail' | 'null' }} LookupConfig
 * @typedef {{ resource: string, batchSize: number }} ImportConfig
 */

/** A collection's path below baseUrl, e.g. "orders" or "api/orders". */
const RESOURCE = { type: 'string', pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$' };
/** A record field's name. */
const FIELD = { type: 'string', pattern: '^[A-Za-z0-9_$-]+$' };

/** @type {import('sluice/connector-sdk').ExportStep<Config, Credentials, ExportConfig>} */
const exportStep = {
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['resource'],
    properties: {
      resource: RESOURCE,
      pageSize: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
      sort: { ...FIELD, default: 'id' },
      // json-server's filters (`status=open`, `total_gte=100`); names starting with _ are paging's.
      filter: { type: 'object', propertyNames: { pattern: '^[^_]' }, additionalProperties: { type: ['string', 'number', 'boolean'] } },
    },
  },
  async exportPage(ctx) {
    const page = ctx.cursor ?? 1;
    if (typeof page !== 'number' || !Number.isInteger(page) || page < 1) {
      throw new PermanentError(`the export cursor is not a page number: ${JSON.stringify(ctx.cursor)}`, 'BAD_CURSOR');
    }
    const { resource, pageSize, sort, filter } = ctx.stepConfig;
    const { headers, body } = await request(ctx, { method: 'GET', path: resource, query: { ...filter, ...pageQuery(page, pageSize, sort) } });
    if (!Array.isArray(body)) throw new PermanentError(`GET /${resource} did not answer a list of records`, 'NOT_A_LIST');
    return { records: body, next: hasNextPage(headers, page, pageSize, body.length) ? page + 1 : null };
  },
};

/** @type {import('sluice/connector-sdk').LookupStep<Config, Credentials, LookupConfig>} */
const lookupStep = {
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['resource', 'recordField', 'resultField'],
    properties: {
      resource: RESOURCE,
      recordField: FIELD, // the record's field whose value is looked up
      matchField: { ...FIELD, default: 'id' }, // the field of `resource` that must equal it
      resultField: FIELD, // where the item found goes in the record
      onMissing: { enum: ['fail', 'null'], default: 'fail' }, // no item found: a JobError NOT_FOUND, or null
    },
  },
  async lookup(ctx) {
    const { resource, recordField, matchField, resultField, onMissing } = ctx.stepConfig;
    const value = ctx.record[recordField];
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      throw new PermanentError(`the record has no ${recordField} to look up ${resource} by`, 'MISSING_FIELD');
    }
    const { body } = await request(ctx, { method: 'GET', path: resource, query: { [matchField]: value } });
    if (!Array.isArray(body)) throw new PermanentError(`GET /${resource} did not answer a list of records`, 'NOT_A_LIST');
    const found = body[0] ?? null;
    if (found === null && onMissing === 'fail') {
      throw new PermanentError(`no ${resource} has ${matchField} = ${JSON.stringify(value)}`, 'NOT_FOUND');
    }
    return { ...ctx.record, [resultField]: found };
  },
};

/** @type {import('sluice/connector-sdk').ImportStep<Config, Credentials, ImportConfig>} */
const importStep = {
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['resource'],
    properties: {
      resource: RESOURCE,
      // Records per message: json-server has no bulk write, so a batch is written one record after another.
      batchSize: { type: 'integer', minimum: 1, maximum: 100, default: 1 },
    },
  },
  async importRecords(ctx) {
    const { resource } = ctx.stepConfig;
    // A retry of a batch writes all of it again: each write is an upsert, so that is harmless.
    for (const [i, record] of ctx.records.entries()) {
      const key = ctx.records.length === 1 ? ctx.idempotencyKey : `${ctx.idempotencyKey}-${i}`;
      const id = record.id ?? key;
      if (typeof id !== 'string' && typeof id !== 'number') throw new PermanentError('the record\'s id is neither a string nor a number', 'BAD_ID');
      const item = { ...record, id };
      // PUT is idempotent by itself; the POST that creates carries the key for APIs that deduplicate by it.
      const put = await request(ctx, { method: 'PUT', path: `${resource}/${encodeURIComponent(String(id))}`, body: item, expected: [404] });
      if (put.status === 404) await request(ctx, { method: 'POST', path: resource, body: item, idempotencyKey: key });
    }
  },
};

export default defineConnector({
  sdkVersion: 1,
  type: 'json-server',
  displayName: 'json-server',
  version: '1.0.0',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['baseUrl'],
    properties: {
      baseUrl: { type: 'string', format: 'uri', pattern: '^https?://' },
      // Per request; Sluice gives up on a whole call after this plus its grace (5 s).
      timeoutMs: { type: 'integer', minimum: 100, maximum: 600000, default: DEFAULT_TIMEOUT_MS },
    },
  },
  // json-server has no authentication; an API in front of it, or another API, may want a bearer token.
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { token: { type: 'string', minLength: 1, writeOnly: true } },
  },
  /** @param {Config} config */
  application: (config) => new URL(config.baseUrl).origin,
  async ping(ctx) {
    try {
      await request(ctx, { method: 'GET', path: '', parse: false });
      return { ok: true };
    } catch (error) {
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  },
  steps: { EXPORT: exportStep, LOOKUP: lookupStep, IMPORT: importStep },
});
