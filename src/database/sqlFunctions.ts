/**
 * The repeatable step: stored functions kept as one `.sql` file each
 * (`CREATE OR REPLACE FUNCTION <name>` ..., the file named `<name>.sql`), applied
 * after the versioned migrations on every start.
 *
 * A file is applied when its checksum (SHA-256 of its bytes) differs from
 * the one recorded in `sql_function` when it was last applied, or when no
 * function of its name exists (a versioned migration dropped it, say to
 * change its return type, which CREATE OR REPLACE cannot do); otherwise it
 * is skipped, so a start with nothing changed costs one query. Every file
 * that is applied, and its new checksum, commit in one transaction: a file
 * that fails leaves the database as it was and the start fails, naming it.
 *
 * The caller serializes runs across processes (database.ts runs this under
 * the migrations' advisory lock). Only plpgsql functions belong here: their
 * bodies are checked for syntax only when created, so the files may be
 * applied in any order (name order) and name tables of any migration.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Queryable } from './queryable';

export interface SqlFunctionFile {
  /** The function's name: the file's name without `.sql`. */
  name: string;
  /** The file's text, run as it is. */
  text: string;
  /** SHA-256 of the file's bytes, hex. */
  checksum: string;
}

/** Every `<name>.sql` in `dir`, in name order; each must define the function it is named after. */
export function readSqlFunctionFiles(dir: string): SqlFunctionFile[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((file) => {
      const bytes = fs.readFileSync(path.join(dir, file));
      const name = file.slice(0, -'.sql'.length);
      const text = bytes.toString('utf8');
      if (!new RegExp(`^CREATE OR REPLACE FUNCTION ${name}\\(`, 'm').test(text)) {
        throw new Error(`${path.join(dir, file)} must define its function with a line starting "CREATE OR REPLACE FUNCTION ${name}(" (one function per file, named after it)`);
      }
      return { name, text, checksum: createHash('sha256').update(bytes).digest('hex') };
    });
}

/**
 * Applies the files that changed or whose function is missing; the names of
 * those applied. `db` must be one connection (it runs BEGIN ... COMMIT).
 */
export async function applySqlFunctions(db: Queryable, files: readonly SqlFunctionFile[]): Promise<string[]> {
  await db.query('BEGIN');
  try {
    const { rows } = await db.query<{ name: string; checksum: string | null; present: boolean }>(
      `SELECT f.name, r.checksum,
              EXISTS (SELECT 1 FROM pg_proc p WHERE p.proname = f.name AND p.pronamespace = current_schema()::regnamespace) AS present
         FROM unnest($1::text[]) AS f(name)
         LEFT JOIN sql_function r ON r.name = f.name`,
      [files.map((f) => f.name)],
    );
    const recorded = new Map(rows.map((r) => [r.name, r]));
    const applied: string[] = [];
    for (const file of files) {
      const r = recorded.get(file.name);
      if (r && r.present && r.checksum === file.checksum) continue;
      try {
        await db.query(file.text);
      } catch (error) {
        throw new Error(`applying ${file.name}.sql failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await db.query(
        `INSERT INTO sql_function (name, checksum, applied_at) VALUES ($1, $2, clock_timestamp())
         ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = EXCLUDED.applied_at`,
        [file.name, file.checksum],
      );
      applied.push(file.name);
    }
    await db.query('COMMIT');
    return applied;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
