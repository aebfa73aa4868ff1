/**
 * The JSON Schemas of the built-in http connector: its connection config, its
 * credentials, and one step config per kind (contract: "The built-in http
 * connector"). Unknown properties are refused so that a typo is an error, not
 * a silently ignored setting.
 */
import type { JsonSchema } from '../sdk';

const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };
const path: JsonSchema = { type: 'string', minLength: 1, pattern: '^/' };

export const httpConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['baseUrl'],
  properties: {
    baseUrl: { type: 'string', format: 'uri', pattern: '^https?://' },
    headers: stringMap,
    timeoutMs: { type: 'integer', minimum: 1, maximum: 600000, default: 30000 },
    ping: {
      type: 'object',
      additionalProperties: false,
      properties: { path },
    },
  },
};

export const httpCredentialsSchema: JsonSchema = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'token'],
      properties: { type: { const: 'bearer' }, token: { type: 'string', minLength: 1, writeOnly: true } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'username', 'password'],
      properties: {
        type: { const: 'basic' },
        username: { type: 'string' },
        password: { type: 'string', writeOnly: true },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'name', 'value'],
      properties: {
        type: { const: 'header' },
        name: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
        value: { type: 'string', writeOnly: true },
      },
    },
  ],
};

const paging: JsonSchema = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'pageParam', 'pageSizeParam', 'pageSize'],
      properties: {
        type: { const: 'page' },
        pageParam: { type: 'string', minLength: 1 },
        pageSizeParam: { type: 'string', minLength: 1 },
        pageSize: { type: 'integer', minimum: 1, maximum: 10000 },
        firstPage: { type: 'integer', default: 1 },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'cursorParam', 'nextCursorPath'],
      properties: {
        type: { const: 'cursor' },
        cursorParam: { type: 'string', minLength: 1 },
        nextCursorPath: { type: 'string', minLength: 1 },
      },
    },
  ],
};

export const exportStepSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    method: { enum: ['GET', 'POST'], default: 'GET' },
    path,
    query: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    recordsPath: { type: 'string', minLength: 1 },
    paging,
  },
};

export const downloadStepSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path', 'format'],
  properties: { path, format: { enum: ['csv', 'ndjson', 'json'] } },
};

export const lookupStepSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path', 'resultField'],
  properties: {
    method: { enum: ['GET', 'POST'], default: 'GET' },
    path,
    resultField: { type: 'string', minLength: 1 },
  },
};

export const importStepSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    method: { enum: ['POST', 'PUT', 'PATCH'], default: 'POST' },
    path,
    batchSize: { type: 'integer', minimum: 1, maximum: 1000, default: 1 },
  },
};
