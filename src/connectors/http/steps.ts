/** The http connector's step calls: export pages, downloads, lookups, imports. */
import type { ExportStep, DownloadStep, ImportStep, LookupStep, JsonRecord, StepCallContext } from '../sdk';
import { exhaustedForMs, httpCall, parseJson } from './httpCall';
import { fillPath, parseFile, recordsAt, type FileFormat } from './records';
import { connectionHeaders, joinUrl } from './requestHeaders';
import { downloadStepSchema, exportStepSchema, importStepSchema, lookupStepSchema } from './schemas';
import type { HttpConfig, HttpCredentials } from './types';

const DEFAULT_TIMEOUT_MS = 30000;

type Paging =
  | { type: 'page'; pageParam: string; pageSizeParam: string; pageSize: number; firstPage?: number }
  | { type: 'cursor'; cursorParam: string; nextCursorPath: string };

interface ExportConfig {
  method?: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | boolean>;
  recordsPath?: string;
  paging?: Paging;
}

type Ctx<S> = StepCallContext<HttpConfig, HttpCredentials, S>;

async function send(ctx: Ctx<unknown>, method: string, url: URL, body?: unknown, extraHeaders: Record<string, string> = {}) {
  const headers = { ...connectionHeaders(ctx.config, ctx.credentials), ...extraHeaders };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const result = await httpCall({
    method,
    url,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: ctx.config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    signal: ctx.signal,
  });
  // The API says its limit is used up: wait for its reset rather than draw a 429.
  const waitMs = exhaustedForMs(result.headers);
  if (waitMs !== null && waitMs > 0) ctx.slowDown(waitMs);
  return result;
}

/** Cursor of page paging: the page number to ask for next. */
interface PageCursor {
  page: number;
}

export const exportStep: ExportStep<HttpConfig, HttpCredentials, ExportConfig> = {
  configSchema: exportStepSchema,
  async exportPage(ctx) {
    const { stepConfig: step } = ctx;
    const url = joinUrl(ctx.config.baseUrl, step.path);
    for (const [k, v] of Object.entries(step.query ?? {})) url.searchParams.set(k, String(v));
    const paging = step.paging;
    if (paging?.type === 'page') {
      const page = (ctx.cursor as PageCursor | null)?.page ?? paging.firstPage ?? 1;
      url.searchParams.set(paging.pageParam, String(page));
      url.searchParams.set(paging.pageSizeParam, String(paging.pageSize));
      const records = recordsAt(parseJson(await send(ctx, step.method ?? 'GET', url), 'export'), step.recordsPath);
      // A short page is the last one.
      return { records, next: records.length < paging.pageSize ? null : ({ page: page + 1 } satisfies PageCursor) };
    }
    if (paging?.type === 'cursor') {
      if (typeof ctx.cursor === 'string') url.searchParams.set(paging.cursorParam, ctx.cursor);
      const body = parseJson(await send(ctx, step.method ?? 'GET', url), 'export');
      const records = recordsAt(body, step.recordsPath);
      const next = fillCursor(body, paging.nextCursorPath);
      return { records, next };
    }
    return { records: recordsAt(parseJson(await send(ctx, step.method ?? 'GET', url), 'export'), step.recordsPath), next: null };
  },
};

function fillCursor(body: unknown, nextCursorPath: string): string | null {
  let current = body;
  for (const key of nextCursorPath.split('.')) {
    if (current === null || typeof current !== 'object') return null;
    current = (current as Record<string, unknown>)[key];
  }
  return current === null || current === undefined || current === '' ? null : String(current);
}

export const downloadStep: DownloadStep<HttpConfig, HttpCredentials, { path: string; format: FileFormat }> = {
  configSchema: downloadStepSchema,
  async download(ctx) {
    const result = await send(ctx, 'GET', joinUrl(ctx.config.baseUrl, ctx.stepConfig.path));
    return parseFile(result.text, ctx.stepConfig.format);
  },
};

export const lookupStep: LookupStep<HttpConfig, HttpCredentials, { method?: 'GET' | 'POST'; path: string; resultField: string }> = {
  configSchema: lookupStepSchema,
  async lookup(ctx) {
    const { stepConfig: step, record } = ctx;
    const url = joinUrl(ctx.config.baseUrl, fillPath(step.path, record));
    const method = step.method ?? 'GET';
    const result = await send(ctx, method, url, method === 'POST' ? record : undefined);
    return { ...record, [step.resultField]: parseJson(result, 'lookup') } as JsonRecord;
  },
};

export const importStep: ImportStep<HttpConfig, HttpCredentials, { method?: 'POST' | 'PUT' | 'PATCH'; path: string; batchSize?: number }> = {
  configSchema: importStepSchema,
  async importRecords(ctx) {
    const { stepConfig: step, records } = ctx;
    const batched = (step.batchSize ?? 1) > 1;
    // A single record's path may name its fields; a batch has no one record to fill from.
    const path = batched ? step.path : fillPath(step.path, records[0] ?? {});
    await send(ctx, step.method ?? 'POST', joinUrl(ctx.config.baseUrl, path), batched ? records : records[0], {
      'idempotency-key': ctx.idempotencyKey,
    });
  },
};
