import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * queue_tally: exact queue sizes and in-flight counts per queue owner,
 * cheap to read at any queue length.
 *
 * Before this, queueSize and inFlight were count(*) over queue_message's
 * partial indexes: exact, but O(queue) per read, so 100,000 waiting messages
 * made every `connection { queueSize }` and every live-update read scan them.
 *
 * Why delta rows and not one counter row per owner: every enqueue, claim and
 * completion would update that one row, and its row lock would put claims
 * behind completions and completions behind each other across processes —
 * the very queueing the engine's batching removed. Instead, statement-level
 * triggers on queue_message *insert* one row per owner and statement with
 * the change (never update one), so writers never wait for each other. A
 * read sums an owner's rows; sluice_roll_up_queue_tally() folds them back to
 * one row per owner from time to time (every engine process runs it about
 * once a second; concurrent runs skip, see there), so a read sums a handful
 * of rows whatever the queue length.
 *
 * Exact: the delta commits or rolls back with the change that made it, and a
 * reader's snapshot sees both or neither.
 *
 * Counted: queued = state 'queued' (waiting, including retries waiting out
 * their backoff); running = state 'running' (a call in flight). 'done' (the
 * call ended, its outcome not yet committed) is in neither, as before.
 */
export class QueueTally1763920000000 implements MigrationInterface {
  name = 'QueueTally1763920000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE queue_tally (
        queue_owner_id uuid NOT NULL,     -- no foreign key: a check per delta row, and a deleted owner's rows sum to 0
        queued         bigint NOT NULL,   -- change in waiting messages
        running        bigint NOT NULL    -- change in messages whose call is in flight
      )`);
    await q.query(`CREATE INDEX queue_tally_owner_idx ON queue_tally (queue_owner_id)`);
    await q.query(`
      INSERT INTO queue_tally (queue_owner_id, queued, running)
      SELECT queue_owner_id, count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'running')
        FROM queue_message GROUP BY queue_owner_id`);

    // One function for the three triggers: each passes the transition tables
    // it has (PostgreSQL allows transition tables on single-event triggers only).
    // TG_OP says which exist; a statement that changed no count adds no row
    // (the lease heartbeat's UPDATEs, for one).
    await q.query(`
      CREATE FUNCTION sluice_tally_queue_messages() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO queue_tally (queue_owner_id, queued, running)
          SELECT queue_owner_id, count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'running')
            FROM new_messages GROUP BY queue_owner_id;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO queue_tally (queue_owner_id, queued, running)
          SELECT queue_owner_id, -count(*) FILTER (WHERE state = 'queued'), -count(*) FILTER (WHERE state = 'running')
            FROM old_messages GROUP BY queue_owner_id
          HAVING count(*) FILTER (WHERE state IN ('queued', 'running')) > 0;
        ELSE
          INSERT INTO queue_tally (queue_owner_id, queued, running)
          SELECT owner, sum(queued), sum(running)
            FROM (SELECT queue_owner_id AS owner, (state = 'queued')::int AS queued, (state = 'running')::int AS running FROM new_messages
                  UNION ALL
                  SELECT queue_owner_id, -(state = 'queued')::int, -(state = 'running')::int FROM old_messages) AS d
           GROUP BY owner
          HAVING sum(queued) <> 0 OR sum(running) <> 0;
        END IF;
        RETURN NULL;
      END;
      $$`);
    await q.query(`
      CREATE TRIGGER queue_message_tally_insert AFTER INSERT ON queue_message
        REFERENCING NEW TABLE AS new_messages
        FOR EACH STATEMENT EXECUTE FUNCTION sluice_tally_queue_messages()`);
    await q.query(`
      CREATE TRIGGER queue_message_tally_update AFTER UPDATE ON queue_message
        REFERENCING OLD TABLE AS old_messages NEW TABLE AS new_messages
        FOR EACH STATEMENT EXECUTE FUNCTION sluice_tally_queue_messages()`);
    await q.query(`
      CREATE TRIGGER queue_message_tally_delete AFTER DELETE ON queue_message
        REFERENCING OLD TABLE AS old_messages
        FOR EACH STATEMENT EXECUTE FUNCTION sluice_tally_queue_messages()`);

    // Folds every owner's delta rows into one row (none when it sums to zero),
    // in one statement: the DELETE takes exactly the rows of its snapshot and
    // the INSERT writes their sums, so a concurrent reader sees the rows
    // before or after, both summing to the same numbers, and deltas inserted
    // meanwhile are left for the next run. Only one process folds at a time:
    // a second would wait on the first's deleted rows for nothing.
    await q.query(`
      CREATE FUNCTION sluice_roll_up_queue_tally() RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT pg_try_advisory_xact_lock(hashtextextended('sluice.queue_tally', 0)) THEN
          RETURN;
        END IF;
        WITH folded AS (DELETE FROM queue_tally RETURNING queue_owner_id, queued, running)
        INSERT INTO queue_tally (queue_owner_id, queued, running)
        SELECT queue_owner_id, sum(queued), sum(running)
          FROM folded GROUP BY queue_owner_id
        HAVING sum(queued) <> 0 OR sum(running) <> 0;
      END;
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sluice_roll_up_queue_tally()`);
    await q.query(`DROP TRIGGER queue_message_tally_delete ON queue_message`);
    await q.query(`DROP TRIGGER queue_message_tally_update ON queue_message`);
    await q.query(`DROP TRIGGER queue_message_tally_insert ON queue_message`);
    await q.query(`DROP FUNCTION sluice_tally_queue_messages()`);
    await q.query(`DROP TABLE queue_tally`);
  }
}
