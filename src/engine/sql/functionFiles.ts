/**
 * The engine's stored functions, one `.sql` file each in `functions/`
 * (docs/engine-sql.md lists them), applied after the versioned migrations by
 * the repeatable step (src/database/sqlFunctions.ts). `npm run build` copies
 * the directory next to the compiled code.
 */
import path from 'node:path';
import { readSqlFunctionFiles, type SqlFunctionFile } from '../../database/sqlFunctions';

export const ENGINE_FUNCTIONS_DIR = path.join(__dirname, 'functions');

export function engineFunctionFiles(): SqlFunctionFile[] {
  return readSqlFunctionFiles(ENGINE_FUNCTIONS_DIR);
}
