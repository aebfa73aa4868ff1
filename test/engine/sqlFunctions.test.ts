/**
 * The engine's stored functions are their files (src/engine/sql/functions),
 * applied after the migrations by the repeatable step
 * (src/database/sqlFunctions.ts): the database holds exactly what the files
 * say, nothing else named sluice_*, and a changed file is applied again.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { applySqlFunctions, readSqlFunctionFiles } from '../../src/database/sqlFunctions';
import { engineFunctionFiles } from '../../src/engine/sql/functionFiles';
import { createTestDatabase } from '../support/database';

function useClient(): () => Client {
  let client: Client | undefined;
  beforeAll(async () => {
    client = new Client({ connectionString: await createTestDatabase() });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });
  return () => {
    if (!client) throw new Error('the client is used outside a test');
    return client;
  };
}

/** Every definition of the functions named `names` in `schema`, as PostgreSQL prints them, by name. */
async function definitions(db: Client, schema: string, names: string[]): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ name: string; def: string }>(
    `SELECT p.proname AS name, pg_get_functiondef(p.oid) AS def
       FROM pg_proc p
      WHERE p.pronamespace = $1::regnamespace AND p.proname = ANY($2::text[])
      ORDER BY p.oid`,
    [schema, names],
  );
  const byName = new Map<string, string[]>();
  for (const r of rows) byName.set(r.name, [...(byName.get(r.name) ?? []), r.def.replace(`FUNCTION ${schema}.`, 'FUNCTION ')]);
  return byName;
}

describe('engine stored functions', () => {
  const db = useClient();
  const files = engineFunctionFiles();

  it('are defined in the database exactly as their files define them, one definition each', async () => {
    // Each file applied on its own in a scratch schema, then printed by
    // PostgreSQL beside the database's: arguments, result, settings (such as
    // the claim's enable_bitmapscan) and body all compared, in one normal form.
    const names = files.map((f) => f.name);
    await db().query('CREATE SCHEMA from_files');
    try {
      await db().query('SET search_path = from_files, public');
      for (const file of files) await db().query(file.text);
      await db().query('SET search_path = public');
      const fromFiles = await definitions(db(), 'from_files', names);
      const inDatabase = await definitions(db(), 'public', names);
      for (const name of names) {
        expect({ name, definitions: inDatabase.get(name) }).toEqual({ name, definitions: fromFiles.get(name) });
        expect(fromFiles.get(name)).toHaveLength(1);
      }
    } finally {
      await db().query('SET search_path = public');
      await db().query('DROP SCHEMA from_files CASCADE');
    }
  });

  it('include every sluice_ function of the database', async () => {
    const { rows } = await db().query<{ name: string }>(
      `SELECT DISTINCT proname AS name FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'sluice\\_%' ORDER BY 1`,
    );
    expect(rows.map((r) => r.name)).toEqual(files.map((f) => f.name).sort());
  });

  it('have the checksums of their files recorded', async () => {
    const { rows } = await db().query<{ name: string; checksum: string }>(`SELECT name, checksum FROM sql_function ORDER BY name`);
    expect(rows).toEqual(files.map((f) => ({ name: f.name, checksum: f.checksum })));
  });
});

describe('applySqlFunctions', () => {
  const db = useClient();
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sql-functions-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, result: string): void =>
    fs.writeFileSync(
      path.join(dir, `${name}.sql`),
      `-- returns ${result}\nCREATE OR REPLACE FUNCTION ${name}()\nRETURNS text\nLANGUAGE plpgsql\nAS $$\nBEGIN\n  RETURN '${result}';\nEND;\n$$;\n`,
    );
  const call = async (name: string): Promise<string> => (await db().query<{ r: string }>(`SELECT ${name}() AS r`)).rows[0]!.r;

  it('applies a new file, skips it while unchanged, and applies it again once it changes', async () => {
    write('test_answer', 'first');
    expect(await applySqlFunctions(db(), readSqlFunctionFiles(dir))).toEqual(['test_answer']);
    expect(await call('test_answer')).toBe('first');
    expect(await applySqlFunctions(db(), readSqlFunctionFiles(dir))).toEqual([]);

    write('test_answer', 'second');
    expect(await applySqlFunctions(db(), readSqlFunctionFiles(dir))).toEqual(['test_answer']);
    expect(await call('test_answer')).toBe('second');
    const { rows } = await db().query<{ checksum: string }>(`SELECT checksum FROM sql_function WHERE name = 'test_answer'`);
    expect(rows).toEqual([{ checksum: readSqlFunctionFiles(dir)[0]!.checksum }]);
  });

  it('applies an unchanged file again when its function was dropped', async () => {
    write('test_dropped', 'back');
    await applySqlFunctions(db(), readSqlFunctionFiles(dir));
    await db().query('DROP FUNCTION test_dropped()');
    expect(await applySqlFunctions(db(), readSqlFunctionFiles(dir))).toEqual(['test_dropped']);
    expect(await call('test_dropped')).toBe('back');
  });

  it('applies nothing when one file fails, and names that file', async () => {
    write('test_a_good', 'good');
    fs.writeFileSync(path.join(dir, 'test_b_broken.sql'), 'CREATE OR REPLACE FUNCTION test_b_broken()\nRETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN; END $$ nonsense;\n');
    await expect(applySqlFunctions(db(), readSqlFunctionFiles(dir))).rejects.toThrow(/test_b_broken\.sql/);
    const { rows } = await db().query(`SELECT 1 FROM pg_proc WHERE proname = 'test_a_good'`);
    expect(rows).toEqual([]);
    const recorded = await db().query(`SELECT 1 FROM sql_function WHERE name = 'test_a_good'`);
    expect(recorded.rows).toEqual([]);
  });

  it('refuses a file that does not define the function it is named after', () => {
    write('test_named', 'x');
    fs.renameSync(path.join(dir, 'test_named.sql'), path.join(dir, 'test_other.sql'));
    expect(() => readSqlFunctionFiles(dir)).toThrow(/test_other\.sql must define its function .*CREATE OR REPLACE FUNCTION test_other\(/);
  });
});
