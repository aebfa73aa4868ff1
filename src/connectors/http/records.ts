/** Reading records out of responses and files, and filling records into paths. */
import { parse as parseCsv } from 'csv-parse/sync';
import { PermanentError, type JsonRecord } from '../sdk';

/** The value at a dot path ("data.items"); the whole value for an empty path. */
export function atPath(value: unknown, dotPath: string | undefined): unknown {
  if (!dotPath) return value;
  let current = value;
  for (const key of dotPath.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The records of a page: an array of objects at recordsPath. */
export function recordsAt(body: unknown, recordsPath: string | undefined): JsonRecord[] {
  const records = atPath(body, recordsPath);
  if (!Array.isArray(records)) {
    throw new PermanentError(`the response has no array of records at "${recordsPath ?? '(body)'}"`, 'INVALID_RESPONSE');
  }
  return records.map((r) => (r !== null && typeof r === 'object' && !Array.isArray(r) ? (r as JsonRecord) : { value: r }));
}

/** `{{record.a.b}}` in a path becomes that field of the record, URL-encoded. */
export function fillPath(template: string, record: JsonRecord): string {
  return template.replace(/\{\{\s*record\.([\w.$-]+)\s*\}\}/g, (_m, field: string) => {
    const value = atPath(record, field);
    if (value === undefined || value === null || typeof value === 'object') {
      throw new PermanentError(`the record has no value at "${field}" for the path ${template}`, 'INVALID_RECORD');
    }
    return encodeURIComponent(String(value));
  });
}

export type FileFormat = 'csv' | 'ndjson' | 'json';

export function parseFile(text: string, format: FileFormat): JsonRecord[] {
  try {
    switch (format) {
      case 'csv':
        return parseCsv(text, { columns: true, skip_empty_lines: true, bom: true }) as JsonRecord[];
      case 'ndjson':
        return text
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as JsonRecord);
      case 'json':
        return recordsAt(JSON.parse(text), undefined);
      default: {
        const unreachable: never = format;
        throw new Error(`unknown format ${String(unreachable)}`);
      }
    }
  } catch (error) {
    if (error instanceof PermanentError) throw error;
    throw new PermanentError(`the file is not valid ${format}: ${(error as Error).message}`, 'INVALID_RESPONSE');
  }
}
