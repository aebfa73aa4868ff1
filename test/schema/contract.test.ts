import fs from 'node:fs';
import path from 'node:path';
import { buildSchema, findBreakingChanges, printSchema, type BreakingChange } from 'graphql';
import { buildSluiceSchema } from '../../src/schema';
import { SCHEMA_FILE, SCHEMA_HEADER } from '../../scripts/print-schema';
import { PENDING } from './pendingContract';

/** The repository's copy of the contract (contract/; `npm run contract:check` compares it with ../shared/contract). */
const CONTRACT = path.join(__dirname, '..', '..', 'contract', 'schema.graphql');


describe('the served schema', () => {
  it('has no breaking change against the contract but the pending ones', async () => {
    const contract = buildSchema(fs.readFileSync(CONTRACT, 'utf8'));
    const served = await buildSluiceSchema();
    const breaking: BreakingChange[] = findBreakingChanges(contract, served);
    expect(breaking.map((b) => b.description).sort()).toEqual(PENDING.map((p) => p.description).sort());
  });

  it('is committed as schema.graphql and up to date (npm run schema:print)', async () => {
    const served = await buildSluiceSchema();
    expect(fs.readFileSync(SCHEMA_FILE, 'utf8')).toBe(SCHEMA_HEADER + printSchema(served) + '\n');
  });
});
