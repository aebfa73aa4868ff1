import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The foundation schema: tokens, connections (with their concurrency policy
 * and borrow graph), flows, steps, jobs, job errors, and the queue message
 * table the engine fills. Append-only: later changes are new migrations.
 */
export class Foundation1763890000000 implements MigrationInterface {
  name = 'Foundation1763890000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_token (
        id            uuid PRIMARY KEY,
        name          text NOT NULL,
        role          text NOT NULL CHECK (role IN ('ADMINISTER', 'MANAGE', 'MONITOR')),
        secret_hash   bytea NOT NULL UNIQUE,
        created_at    timestamptz NOT NULL DEFAULT now(),
        last_used_at  timestamptz,
        revoked_at    timestamptz
      )`);

    // queue_owner_id is derived from borrow_from_id (the end of the chain) and
    // stored so that the engine and queue reads never walk the chain.
    await q.query(`
      CREATE TABLE connection (
        id                        uuid PRIMARY KEY,
        name                      text NOT NULL,
        connector_type            text NOT NULL,
        application               text NOT NULL,
        config                    jsonb NOT NULL DEFAULT '{}',
        credentials               bytea,
        borrow_from_id            uuid REFERENCES connection (id),
        queue_owner_id            uuid NOT NULL REFERENCES connection (id) DEFERRABLE INITIALLY DEFERRED,
        auto_recover              boolean NOT NULL,
        concurrency_level         int CHECK (concurrency_level > 0),
        target_concurrency_level  int CHECK (target_concurrency_level > 0),
        rate_limit_requests       int CHECK (rate_limit_requests > 0),
        rate_limit_per_ms         int CHECK (rate_limit_per_ms > 0),
        created_at                timestamptz NOT NULL DEFAULT now(),
        updated_at                timestamptz NOT NULL DEFAULT now(),
        CHECK (borrow_from_id IS DISTINCT FROM id),
        CHECK ((borrow_from_id IS NULL) = (queue_owner_id = id)),
        CHECK ((rate_limit_requests IS NULL) = (rate_limit_per_ms IS NULL)),
        -- auto-recovery needs a target and a level in use; a fixed level has no target
        CHECK (CASE WHEN auto_recover
                    THEN target_concurrency_level IS NOT NULL AND concurrency_level IS NOT NULL
                    ELSE target_concurrency_level IS NULL END)
      )`);
    await q.query(`CREATE INDEX connection_borrow_from_idx ON connection (borrow_from_id) WHERE borrow_from_id IS NOT NULL`);
    await q.query(`CREATE INDEX connection_queue_owner_idx ON connection (queue_owner_id)`);

    await q.query(`
      CREATE TABLE flow (
        id          uuid PRIMARY KEY,
        name        text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);

    // Positions are rewritten in place when steps are inserted or removed, so
    // their uniqueness is checked at commit, not per row.
    await q.query(`
      CREATE TABLE step (
        id             uuid PRIMARY KEY,
        flow_id        uuid NOT NULL REFERENCES flow (id) ON DELETE CASCADE,
        name           text NOT NULL,
        kind           text NOT NULL CHECK (kind IN ('EXPORT', 'DOWNLOAD', 'LOOKUP', 'IMPORT')),
        position       int NOT NULL CHECK (position >= 0),
        connection_id  uuid NOT NULL REFERENCES connection (id),
        config         jsonb NOT NULL DEFAULT '{}',
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT step_position_unique UNIQUE (flow_id, position) DEFERRABLE INITIALLY DEFERRED
      )`);
    await q.query(`CREATE INDEX step_connection_idx ON step (connection_id)`);

    await q.query(`
      CREATE TABLE job (
        id                 uuid PRIMARY KEY,
        flow_id            uuid NOT NULL REFERENCES flow (id) ON DELETE CASCADE,
        status             text NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED')),
        created_at         timestamptz NOT NULL DEFAULT now(),
        started_at         timestamptz,
        finished_at        timestamptz,
        records_exported   int NOT NULL DEFAULT 0,
        records_succeeded  int NOT NULL DEFAULT 0,
        records_failed     int NOT NULL DEFAULT 0
      )`);
    await q.query(`CREATE INDEX job_flow_created_idx ON job (flow_id, created_at DESC)`);
    await q.query(`CREATE INDEX job_created_idx ON job (created_at DESC)`);
    await q.query(`CREATE INDEX job_active_idx ON job (flow_id) WHERE status IN ('QUEUED', 'RUNNING')`);

    await q.query(`
      CREATE TABLE job_error (
        id           uuid PRIMARY KEY,
        job_id       uuid NOT NULL REFERENCES job (id) ON DELETE CASCADE,
        step_id      uuid REFERENCES step (id) ON DELETE SET NULL,
        message      text NOT NULL,
        code         text NOT NULL,
        record       jsonb,
        occurred_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX job_error_job_idx ON job_error (job_id, occurred_at)`);

    // One row per request waiting or running in a connection's queue. FIFO is
    // the order of id within a queue owner. Finished messages are deleted, so
    // the table holds only live work and the partial indexes stay small.
    await q.query(`
      CREATE TABLE queue_message (
        id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        queue_owner_id    uuid NOT NULL REFERENCES connection (id),
        connection_id     uuid NOT NULL REFERENCES connection (id),
        job_id            uuid NOT NULL REFERENCES job (id) ON DELETE CASCADE,
        step_id           uuid NOT NULL REFERENCES step (id) ON DELETE CASCADE,
        state             text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running')),
        payload           jsonb NOT NULL,
        attempts          int NOT NULL DEFAULT 0,
        run_after         timestamptz NOT NULL DEFAULT now(),
        lease_expires_at  timestamptz,
        idempotency_key   uuid NOT NULL DEFAULT gen_random_uuid(),
        enqueued_at       timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX queue_message_waiting_idx ON queue_message (queue_owner_id, id) WHERE state = 'queued'`);
    await q.query(`CREATE INDEX queue_message_running_idx ON queue_message (queue_owner_id) WHERE state = 'running'`);
    await q.query(`CREATE INDEX queue_message_job_idx ON queue_message (job_id)`);
    await q.query(`CREATE INDEX queue_message_connection_idx ON queue_message (connection_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['queue_message', 'job_error', 'job', 'step', 'flow', 'connection', 'api_token']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
