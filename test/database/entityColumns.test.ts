import { createDataSource } from '../../ormconfig';
import { ApiTokenRow, ConnectionRow, FlowRow, JobErrorRow, JobRow, StepRow } from '../../src/database/entities';
import {
  apiTokenColumns,
  connectionColumns,
  flowColumns,
  jobColumns,
  jobErrorColumns,
  stepColumns,
} from '../../src/database/entityColumns';
import { poolOf } from '../../src/database/pool';
import { createTestDatabase } from '../support/database';

describe('entityColumns', () => {
  it('names every column of each entity, as the entity names its property', async () => {
    const db = createDataSource(await createTestDatabase(), 1);
    await db.initialize();
    try {
      const lists = [
        [ConnectionRow, connectionColumns],
        [FlowRow, flowColumns],
        [StepRow, stepColumns],
        [JobRow, jobColumns],
        [JobErrorRow, jobErrorColumns],
        [ApiTokenRow, apiTokenColumns],
      ] as const;
      for (const [entity, columns] of lists) {
        const metadata = db.getMetadata(entity);
        const { fields } = await poolOf(db).query(`SELECT ${columns('t')} FROM ${metadata.tableName} t LIMIT 0`);
        const selected = (fields as { name: string }[]).map((f) => f.name).sort();
        expect({ table: metadata.tableName, properties: selected }).toEqual({
          table: metadata.tableName,
          properties: metadata.columns.map((c) => c.propertyName).sort(),
        });
      }
    } finally {
      await db.destroy();
    }
  });
});
