/** Writes the served schema to schema.graphql at the root, for clients that generate code from it. */
import fs from 'node:fs';
import path from 'node:path';
import { printSchema } from 'graphql';
import { buildSluiceSchema } from '../src/schema';

export const SCHEMA_FILE = path.join(__dirname, '..', 'schema.graphql');
export const SCHEMA_HEADER = '# The schema Sluice serves, printed by `npm run schema:print`. Do not edit by hand.\n\n';

async function main(): Promise<void> {
  const schema = await buildSluiceSchema();
  fs.writeFileSync(SCHEMA_FILE, SCHEMA_HEADER + printSchema(schema) + '\n');
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}

if (require.main === module) void main();
