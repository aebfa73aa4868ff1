import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Failed records an operator can act on (issue #20): every JobError is OPEN,
 * RETRIED or RESOLVED, and keeps what a retry needs.
 *
 * job_error, new columns:
 *   seq              the order errors were kept in: paging (newest first) and
 *                    Job.errors (occurrence order) read it; the uuid id is
 *                    random, so it cannot be paged by.
 *   state            OPEN | RETRIED | RESOLVED; existing errors are OPEN.
 *   attempts         calls made for the record at its step, the failing one included.
 *   closed_at,       when and by which token (its name) it was retried or
 *   closed_by        resolved; null while OPEN.
 *   retry_of         the error whose retry this one is.
 *   flow_id          the job's flow, so that a flow's errors are one index range.
 *   connection_id    the connection the failing call went through.
 *   idempotency_key  the key the failed call carried, when a retry may carry it
 *                    again: a call of one record or one page. A record of a
 *                    batch is retried alone, a body the key was never sent
 *                    with, so it gets a new key (null here).
 *
 * Each JobErrorFilter field has an index that ends in seq, so a filtered page
 * newest first is one backward index range scan, whichever field leads.
 *
 * Open-error counters, exact in the transaction that changes them, so that
 * reading them costs one row: job.open_error_count on the job row (which every
 * completion already locks), and flow_error_tally per flow: a row of its own,
 * not the flow row, because runFlow, step edits and replaceConnection lock
 * the flow row before job rows, while a completion holds job rows first; a
 * completion taking the flow row would invert that order. Every writer takes
 * flow_error_tally rows last, in flow id order.
 *
 * sluice_complete_messages fills the new columns and the counters with each
 * error it inserts: src/engine/sql/functions/sluice_complete_messages.sql,
 * applied after the migrations (src/database/sqlFunctions.ts); this
 * migration holds the schema change only.
 */
export class FailedRecords1765500000000 implements MigrationInterface {
  name = 'FailedRecords1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE job_error
        ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY,
        ADD COLUMN state text NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'RETRIED', 'RESOLVED')),
        ADD COLUMN attempts int NOT NULL DEFAULT 1 CHECK (attempts >= 1),
        ADD COLUMN closed_at timestamptz,
        ADD COLUMN closed_by text,
        ADD COLUMN retry_of uuid REFERENCES job_error (id) ON DELETE SET NULL,
        ADD COLUMN flow_id uuid REFERENCES flow (id) ON DELETE CASCADE,
        ADD COLUMN connection_id uuid REFERENCES connection (id) ON DELETE SET NULL,
        ADD COLUMN idempotency_key uuid`);
    await q.query(`UPDATE job_error e SET flow_id = j.flow_id FROM job j WHERE j.id = e.job_id`);
    await q.query(`UPDATE job_error e SET connection_id = s.connection_id FROM step s WHERE s.id = e.step_id`);
    await q.query(`ALTER TABLE job_error ALTER COLUMN flow_id SET NOT NULL`);
    await q.query(`ALTER TABLE job_error ADD CONSTRAINT job_error_closed_check CHECK ((state = 'OPEN') = (closed_at IS NULL))`);
    await q.query(`ALTER TABLE job_error ADD CONSTRAINT job_error_seq_unique UNIQUE (seq)`);

    await q.query(`DROP INDEX job_error_job_idx`);
    for (const column of ['job_id', 'flow_id', 'step_id', 'connection_id', 'state', 'code']) {
      await q.query(`CREATE INDEX job_error_${column}_seq_idx ON job_error (${column}, seq)`);
    }
    // Retention reads the oldest closed errors; OPEN ones are never in it.
    await q.query(`CREATE INDEX job_error_closed_idx ON job_error (closed_at) WHERE state <> 'OPEN'`);
    await q.query(`CREATE INDEX job_error_retry_of_idx ON job_error (retry_of) WHERE retry_of IS NOT NULL`);

    await q.query(`ALTER TABLE job ADD COLUMN open_error_count int NOT NULL DEFAULT 0 CHECK (open_error_count >= 0)`);
    await q.query(`
      UPDATE job j SET open_error_count = e.n
        FROM (SELECT job_id, count(*)::int AS n FROM job_error WHERE state = 'OPEN' GROUP BY job_id) e
       WHERE j.id = e.job_id`);
    await q.query(`
      CREATE TABLE flow_error_tally (
        flow_id      uuid PRIMARY KEY REFERENCES flow (id) ON DELETE CASCADE,
        open_errors  int NOT NULL DEFAULT 0 CHECK (open_errors >= 0)
      )`);
    await q.query(`
      INSERT INTO flow_error_tally (flow_id, open_errors)
      SELECT flow_id, count(*)::int FROM job_error WHERE state = 'OPEN' GROUP BY flow_id`);

  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE flow_error_tally`);
    await q.query(`ALTER TABLE job DROP COLUMN open_error_count`);
    await q.query(`DROP INDEX job_error_closed_idx`);
    await q.query(`DROP INDEX job_error_retry_of_idx`);
    for (const column of ['job_id', 'flow_id', 'step_id', 'connection_id', 'state', 'code']) {
      await q.query(`DROP INDEX job_error_${column}_seq_idx`);
    }
    await q.query(`CREATE INDEX job_error_job_idx ON job_error (job_id, occurred_at)`);
    await q.query(`
      ALTER TABLE job_error
        DROP CONSTRAINT job_error_closed_check, DROP CONSTRAINT job_error_seq_unique,
        DROP COLUMN seq, DROP COLUMN state, DROP COLUMN attempts, DROP COLUMN closed_at, DROP COLUMN closed_by,
        DROP COLUMN retry_of, DROP COLUMN flow_id, DROP COLUMN connection_id, DROP COLUMN idempotency_key`);
    // sluice_complete_messages.sql names the dropped columns: after a down below
    // this one, jobs run again only with the function of the release migrated down to.
  }
}

