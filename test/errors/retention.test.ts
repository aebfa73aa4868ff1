/**
 * Retention: RETRIED and RESOLVED errors closed longer ago than
 * JOB_ERROR_RETENTION_DAYS are deleted in batches by whichever process holds
 * the lock; OPEN errors, and closed ones still within the period, stay.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig, ConfigError } from '../../src/config';
import { pgPoolOf } from '../../src/database/pool';
import { DELETE_BATCH, keepJobErrorsFor, sweepClosedJobErrors } from '../../src/retention/jobErrorRetention';
import { createLogger } from '../../src/logger';
import { createExportImportFlow, createHttpConnection, runFlow, waitUntil } from '../support/flows';
import { useTestSluice } from '../support/sluice';

describe('job error retention', () => {
  const s = useTestSluice();

  /** Errors of one job as the engine and the operators left them, `age` days after they occurred and were closed. */
  async function errors(jobId: string, flowId: string, rows: { state: string; ageDays: number; n?: number }[]): Promise<Map<string, string[]>> {
    const byLabel = new Map<string, string[]>();
    for (const row of rows) {
      const ids = Array.from({ length: row.n ?? 1 }, () => randomUUID());
      await s.sluice.dataSource.query(
        `INSERT INTO job_error (id, job_id, flow_id, code, message, record, occurred_at, state, closed_at, closed_by)
         SELECT id, $2, $3, 'HTTP_400', 'refused', '{}', now() - $4::int * interval '1 day', $5,
                CASE WHEN $5 = 'OPEN' THEN NULL ELSE now() - $4::int * interval '1 day' END,
                CASE WHEN $5 = 'OPEN' THEN NULL ELSE 'operator' END
           FROM unnest($1::uuid[]) AS id`,
        [ids, jobId, flowId, row.ageDays, row.state],
      );
      byLabel.set(`${row.state}/${row.ageDays}`, ids);
    }
    return byLabel;
  }

  async function remaining(ids: string[]): Promise<number> {
    const rows = (await s.sluice.dataSource.query(`SELECT count(*)::int AS n FROM job_error WHERE id = ANY($1::uuid[])`, [ids])) as { n: number }[];
    return rows[0]!.n;
  }

  it('deletes only RETRIED and RESOLVED errors closed before the retention period, in batches; never OPEN ones', async () => {
    const connectionId = await createHttpConnection(s, 'http://127.0.0.1:9');
    const flowId = await createExportImportFlow(s, connectionId);
    const jobId = await runFlow(s, flowId);
    const made = await errors(jobId, flowId, [
      { state: 'OPEN', ageDays: 400 },
      { state: 'RETRIED', ageDays: 31, n: DELETE_BATCH + 5 },
      { state: 'RESOLVED', ageDays: 45 },
      { state: 'RETRIED', ageDays: 29 },
      { state: 'RESOLVED', ageDays: 1 },
    ]);
    const pool = pgPoolOf(s.sluice.dataSource);
    expect(await sweepClosedJobErrors(pool, 30)).toBe(DELETE_BATCH + 6);
    expect(await remaining(made.get('RETRIED/31')!)).toBe(0);
    expect(await remaining(made.get('RESOLVED/45')!)).toBe(0);
    expect(await remaining(made.get('OPEN/400')!)).toBe(1);
    expect(await remaining(made.get('RETRIED/29')!)).toBe(1);
    expect(await remaining(made.get('RESOLVED/1')!)).toBe(1);
    expect(await sweepClosedJobErrors(pool, 30)).toBe(0);
  });

  it('leaves the sweep to the process that holds the lock', async () => {
    const connectionId = await createHttpConnection(s, 'http://127.0.0.1:9');
    const flowId = await createExportImportFlow(s, connectionId);
    const jobId = await runFlow(s, flowId);
    const made = await errors(jobId, flowId, [{ state: 'RESOLVED', ageDays: 60 }]);
    const pool = pgPoolOf(s.sluice.dataSource);
    const holder = await pool.connect();
    try {
      await holder.query(`BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('sluice.job_error_retention', 0))`);
      expect(await sweepClosedJobErrors(pool, 30)).toBe(0);
      expect(await remaining(made.get('RESOLVED/60')!)).toBe(1);
      await holder.query('ROLLBACK');
    } finally {
      holder.release();
    }
    expect(await sweepClosedJobErrors(pool, 30)).toBe(1);
  });

  it('sweeps by itself, periodically, in every process that runs it', async () => {
    const connectionId = await createHttpConnection(s, 'http://127.0.0.1:9');
    const flowId = await createExportImportFlow(s, connectionId);
    const jobId = await runFlow(s, flowId);
    const made = await errors(jobId, flowId, [{ state: 'RETRIED', ageDays: 90 }, { state: 'OPEN', ageDays: 90 }]);
    const stop = keepJobErrorsFor(pgPoolOf(s.sluice.dataSource), 30, createLogger('silent'), 20, 0);
    try {
      await waitUntil(async () => (await remaining(made.get('RETRIED/90')!)) === 0, 10000, 'the sweep');
    } finally {
      await stop();
    }
    expect(await remaining(made.get('OPEN/90')!)).toBe(1);
  });

  it('keeps closed errors at least 30 days: JOB_ERROR_RETENTION_DAYS below that is refused at start', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y', CREDENTIALS_KEY: Buffer.alloc(32).toString('base64') }).jobErrorRetentionDays).toBe(30);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x/y', CREDENTIALS_KEY: Buffer.alloc(32).toString('base64'), JOB_ERROR_RETENTION_DAYS: '7' }))
      .toThrow(ConfigError);
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y', CREDENTIALS_KEY: Buffer.alloc(32).toString('base64'), JOB_ERROR_RETENTION_DAYS: '90' }).jobErrorRetentionDays).toBe(90);
  });
});
