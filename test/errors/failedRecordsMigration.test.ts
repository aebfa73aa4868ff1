/**
 * Migration FailedRecords on a database that already holds errors: they
 * become OPEN, keep their order, learn their flow and connection, and the
 * open-error counters start exact.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../ormconfig';
import { migrations } from '../../migrations';
import { FailedRecords1765500000000 } from '../../migrations/1765500000000-FailedRecords';

/** Where FailedRecords stands among the migrations (others may come after it). */
const AT = migrations.indexOf(FailedRecords1765500000000);

async function emptyDatabase(): Promise<string> {
  const admin = new Client({ connectionString: process.env.SLUICE_TEST_ADMIN_URL });
  await admin.connect();
  const name = `m_${randomBytes(6).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(process.env.SLUICE_TEST_ADMIN_URL!);
  url.pathname = `/${name}`;
  return url.toString();
}

function dataSource(url: string, upTo: number): DataSource {
  return new DataSource({ ...createDataSource(url, 2).options, migrations: migrations.slice(0, upTo) } as never);
}

describe('migration FailedRecords', () => {
  it('makes the errors already kept OPEN, in their order, with their flow and connection, and counts them', async () => {
    const url = await emptyDatabase();
    const before = dataSource(url, AT);
    await before.initialize();
    const [connection, flow, step, jobA, jobB] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const errors = Array.from({ length: 5 }, () => randomUUID());
    try {
      await before.runMigrations();
      await before.query(
        `INSERT INTO connection (id, name, connector_type, application, queue_owner_id, auto_recover) VALUES ($1, 'c', 'http', 'http://x', $1, false)`,
        [connection],
      );
      await before.query(`INSERT INTO flow (id, name) VALUES ($1, 'f')`, [flow]);
      await before.query(`INSERT INTO step (id, flow_id, name, kind, position, connection_id) VALUES ($1, $2, 'import', 'IMPORT', 0, $3)`, [step, flow, connection]);
      await before.query(`INSERT INTO job (id, flow_id, status, records_failed) VALUES ($1, $3, 'COMPLETED', 3), ($2, $3, 'COMPLETED', 2)`, [jobA, jobB, flow]);
      for (const [i, id] of errors.entries()) {
        await before.query(
          `INSERT INTO job_error (id, job_id, step_id, code, message, record, occurred_at) VALUES ($1, $2, $3, 'HTTP_400', 'no', $4, now() + $5 * interval '1 second')`,
          [id, i < 3 ? jobA : jobB, step, JSON.stringify({ id: i }), i],
        );
      }
    } finally {
      await before.destroy();
    }

    const after = dataSource(url, AT + 1);
    await after.initialize();
    try {
      await after.runMigrations();
      const rows = (await after.query(
        `SELECT id, state, attempts, flow_id, connection_id, closed_at FROM job_error ORDER BY seq`,
      )) as { id: string; state: string; attempts: number; flow_id: string; connection_id: string; closed_at: Date | null }[];
      expect(rows.map((r) => r.id)).toEqual(errors);
      for (const r of rows) expect(r).toMatchObject({ state: 'OPEN', attempts: 1, flow_id: flow, connection_id: connection, closed_at: null });
      expect(await after.query(`SELECT id, open_error_count FROM job ORDER BY open_error_count DESC`)).toEqual([
        { id: jobA, open_error_count: 3 },
        { id: jobB, open_error_count: 2 },
      ]);
      expect(await after.query(`SELECT flow_id, open_errors FROM flow_error_tally`)).toEqual([{ flow_id: flow, open_errors: 5 }]);
    } finally {
      await after.destroy();
    }
  });
});
