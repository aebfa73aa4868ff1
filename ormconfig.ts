/**
 * The TypeORM DataSource. `synchronize` is off: the schema is what the
 * checked-in migrations make. The TypeORM CLI can use the default export
 * (DATABASE_URL must be set); Sluice itself calls `createDataSource`.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { entities } from './src/database/entities';
import { migrations } from './migrations';

export function createDataSource(url: string, poolSize = 20): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'all',
    logging: false,
    // min = max: an opened connection is never closed for being idle (src/database/openWholePool.ts says why).
    extra: { max: poolSize, min: poolSize, application_name: 'sluice' },
  });
}

export default createDataSource(process.env.DATABASE_URL ?? 'postgres://localhost/sluice');
