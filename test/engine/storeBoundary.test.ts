/**
 * The engine's boundaries, read from the sources: the store (src/engine/
 * store.ts and the statements in src/engine/sql/) is the only code that
 * runs engine SQL, and everything outside src/engine reaches the engine
 * through src/engine/index.ts, its deliberate public surface.
 */
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '../../src');
const ENGINE = path.join(SRC, 'engine');
const SQL = path.join(ENGINE, 'sql');
const STORE = path.join(ENGINE, 'store.ts');
const INDEX = path.join(ENGINE, 'index.ts');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

const inside = (file: string, dir: string): boolean => file.startsWith(dir + path.sep);
const rel = (file: string): string => path.relative(SRC, file);

/** The files `file` imports (relative specifiers only), resolved to .ts paths (a folder to its index.ts). */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s+'(\.[^']*)'/g)].map((m) => {
    const target = path.resolve(path.dirname(file), m[1]!);
    if (fs.existsSync(`${target}.ts`)) return `${target}.ts`;
    if (fs.existsSync(path.join(target, 'index.ts'))) return path.join(target, 'index.ts');
    return target;
  });
}

const files = sourceFiles(SRC);

describe('engine boundary', () => {
  it('reads every import (the checks below see what they check)', () => {
    expect(imports(path.join(SRC, 'app.ts'))).toContain(INDEX);
    expect(imports(STORE).filter((f) => inside(f, SQL)).length).toBeGreaterThan(5);
  });

  it('lets code outside src/engine import the engine only through src/engine/index.ts', () => {
    const crossing = files
      .filter((f) => !inside(f, ENGINE))
      .flatMap((f) => imports(f).filter((target) => inside(target, ENGINE) && target !== INDEX).map((target) => `${rel(f)} → ${rel(target)}`));
    expect(crossing).toEqual([]);
  });

  it('lets only the store import the engine statements in src/engine/sql', () => {
    const crossing = files
      .filter((f) => f !== STORE && !inside(f, SQL))
      .flatMap((f) => imports(f).filter((target) => inside(target, SQL)).map((target) => `${rel(f)} → ${rel(target)}`));
    expect(crossing).toEqual([]);
  });

  it('keeps writes to the queue tables and calls of engine functions inside the store', () => {
    const engineSql = /\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:queue_message|queue_tally|engine_instance)\b|\b(?:SELECT|FROM)\s+sluice_\w+\(/g;
    // The pattern finds what it is meant to.
    expect(fs.readFileSync(path.join(SQL, 'cancelJobs.ts'), 'utf8')).toMatch(engineSql);
    const outside = files
      .filter((f) => f !== STORE && !inside(f, SQL))
      .flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(engineSql)].map((m) => `${rel(f)}: ${m[0]}`));
    expect(outside).toEqual([]);
  });
});
