import { Client } from 'pg';
import { retryOnDeadlock } from '../../src/database/retryOnDeadlock';
import { createTestDatabase } from '../support/database';

describe('retryOnDeadlock', () => {
  it('runs a transaction again when PostgreSQL aborted it to break a deadlock', async () => {
    const url = await createTestDatabase();
    const a = new Client({ connectionString: url });
    const b = new Client({ connectionString: url });
    await a.connect();
    await b.connect();
    try {
      await a.query(`CREATE TABLE deadlocked (id int PRIMARY KEY, n int NOT NULL); INSERT INTO deadlocked VALUES (1, 0), (2, 0)`);
      // B looks for deadlocks after 1 s (the default), A only after 10: B is the one PostgreSQL aborts.
      await a.query(`SET deadlock_timeout = '10s'`);
      // A locks row 1; B's transaction locks row 2, then waits for row 1; A then asks for row 2: a deadlock.
      await a.query(`BEGIN; UPDATE deadlocked SET n = n + 1 WHERE id = 1`);
      let attempts = 0;
      let bHolds: () => void = () => undefined;
      const bHolding = new Promise<void>((resolve) => (bHolds = resolve));
      const bDone = retryOnDeadlock(async () => {
        attempts++;
        await b.query('BEGIN');
        try {
          await b.query(`UPDATE deadlocked SET n = n + 10 WHERE id = 2`);
          bHolds();
          await b.query(`UPDATE deadlocked SET n = n + 10 WHERE id = 1`);
          await b.query('COMMIT');
        } catch (error) {
          await b.query('ROLLBACK');
          throw error;
        }
      });
      await bHolding;
      // A waits for row 2; B, waiting for row 1, finds the cycle and is aborted; A gets row 2 and commits; B runs again and commits.
      await a.query(`UPDATE deadlocked SET n = n + 1 WHERE id = 2`);
      await a.query('COMMIT');
      await bDone;
      const { rows } = await a.query<{ id: number; n: number }>(`SELECT id, n FROM deadlocked ORDER BY id`);
      expect(rows).toEqual([{ id: 1, n: 11 }, { id: 2, n: 11 }]);
      expect(attempts).toBe(2);
    } finally {
      await a.end();
      await b.end();
    }
  }, 20000);

  it('does not run again a transaction that failed for any other reason', async () => {
    let attempts = 0;
    const failing = retryOnDeadlock(async () => {
      attempts++;
      throw Object.assign(new Error('duplicate key'), { code: '23505' });
    });
    await expect(failing).rejects.toThrow('duplicate key');
    expect(attempts).toBe(1);
  });
});
