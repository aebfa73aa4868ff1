import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An enqueue into an idle queue starts the message itself, for a live
 * engine, instead of leaving it to that engine's claim.
 *
 * Why: on an idle queue, a message's way was the enqueuing commit, its
 * NOTIFY, then a claim round trip (0.85 ms at p50 of the 2.6 ms to the
 * request's arrival, `npm run bench -- latency`, traced), then the call.
 * The enqueuing transaction already knows everything the claim would find
 * out (the queue is empty, a slot is free), so it counts the message
 * against the level, leases it to one live engine and says so in the
 * NOTIFY (channel sluice_start, the message in the payload): that engine
 * starts the call as the notification arrives (src/engine/sql/
 * enqueueMessages.ts, src/engine/startOnEnqueue.ts).
 *
 *   engine_instance   one row per running engine (ROLE unset or worker),
 *                     upserted every second over its LISTEN connection.
 *   lease_ms          the engine's MESSAGE_LEASE_MS: the lease the enqueue
 *                     gives a message it starts for that engine.
 *   alive_until       a few seconds ahead of the last upsert: an engine that
 *                     hangs, or whose connection is cut without PostgreSQL
 *                     noticing, stops being chosen once it passes.
 *   listen_pid,       the backend of the engine's LISTEN connection, which
 *   listen_started    is what hears the start: an engine is chosen only
 *                     while that backend exists (pg_stat_get_activity). A killed
 *                     process's socket closes at once and its backend goes
 *                     with it, so a crash stops the starts within
 *                     milliseconds, not seconds: a start for a dead engine
 *                     waits for its lease to expire, as any message of a
 *                     dead process does (the fault suite kills workers and
 *                     runs the next flow at once). The backend's start time
 *                     tells a reused pid from the engine's.
 *
 * sluice_enqueue_messages(messages jsonb) inserts the messages in order, as
 * the plain INSERT did, and when it is given one message (runFlow's first
 * request; a batch is what a claim is for) starts it when, under the same
 * advisory lock as the claim (so the level holds across processes):
 * - some engine is alive (chosen per queue owner by rendezvous hashing, so
 *   that queues spread over engines and each stays with one);
 * - the queue is not paused and has no rateLimit (a start the window did
 *   not count would break it);
 * - nothing of the queue waits to start (ready, or reserved for a hand-off):
 *   a new message never overtakes an older one;
 * - a slot is free (the level, minus what runs; burst mode always has one);
 * - the message fits in a NOTIFY (a payload of up to 6,000 bytes).
 * Messages it does not start are queued and announced on sluice_queue, as
 * before. A process of the previous release keeps its plain INSERT and never
 * registers an engine, so nothing is started for it.
 */
export class StartOnEnqueue1763970000000 implements MigrationInterface {
  name = 'StartOnEnqueue1763970000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE engine_instance (
        id              uuid PRIMARY KEY,
        lease_ms        int NOT NULL,
        alive_until     timestamptz NOT NULL,
        listen_pid      int NOT NULL,
        listen_started  timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE FUNCTION sluice_enqueue_messages(p_messages jsonb) RETURNS TABLE (queue_owner_id uuid)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_owner uuid;
        v_engine uuid;
        v_lease_ms int;
        v_level int;
        v_paused timestamptz;
        v_requests int;
        v_free int := 0;
      BEGIN
        -- One message only (runFlow's first request): a batch is work for a
        -- claim, which takes many at once, and starting its first here would
        -- date its job's start before the transaction that builds the batch
        -- has ended (a bench drain of 20,000 enqueued in one statement).
        IF jsonb_array_length(p_messages) = 1 THEN
          SELECT c.queue_owner_id INTO v_owner
            FROM jsonb_to_recordset(p_messages) AS m(connection_id uuid)
            JOIN connection c ON c.id = m.connection_id;
          SELECT e.id, e.lease_ms INTO v_engine, v_lease_ms
            FROM engine_instance e
           WHERE e.alive_until > clock_timestamp()
             -- pg_stat_get_activity(pid): that backend's row only (the pg_stat_activity view builds every backend's).
             AND EXISTS (SELECT 1 FROM pg_stat_get_activity(e.listen_pid) a WHERE a.backend_start = e.listen_started)
           ORDER BY hashtextextended(e.id::text || v_owner::text, 0)
           LIMIT 1;
          -- Nothing waits to start (ready, or reserved for a hand-off): looked
          -- at once without the lock, so that an enqueue into a busy queue
          -- never waits for its claims, and again under it.
          IF FOUND AND NOT EXISTS (SELECT 1 FROM queue_message q
                                    WHERE q.queue_owner_id = v_owner AND q.state = 'queued'
                                      AND (q.run_after <= now() OR q.lease_id IS NOT NULL)) THEN
            -- The claim's lock (migrations/1763900000000-QueueEngine.ts): no
            -- claim counts the running messages while this start does.
            PERFORM pg_advisory_xact_lock(hashtextextended('sluice.queue:' || v_owner::text, 0));
            SELECT c.concurrency_level, c.paused_until, c.rate_limit_requests INTO v_level, v_paused, v_requests
              FROM connection c WHERE c.id = v_owner;
            IF (v_paused IS NULL OR v_paused <= clock_timestamp()) AND v_requests IS NULL
               AND NOT EXISTS (SELECT 1 FROM queue_message q
                                WHERE q.queue_owner_id = v_owner AND q.state = 'queued'
                                  AND (q.run_after <= now() OR q.lease_id IS NOT NULL)) THEN
              SELECT CASE WHEN v_level IS NULL OR count(*) < v_level THEN 1 ELSE 0 END INTO v_free
                FROM queue_message q WHERE q.queue_owner_id = v_owner AND q.state = 'running';
            END IF;
          END IF;
        END IF;
        RETURN QUERY
        WITH input AS (
          SELECT c.queue_owner_id AS owner, m.connection_id, m.job_id, m.step_id, m.payload, m.n
            FROM ROWS FROM (jsonb_to_recordset(p_messages) AS (connection_id uuid, job_id uuid, step_id uuid, payload jsonb))
                   WITH ORDINALITY AS m(connection_id, job_id, step_id, payload, n)
            JOIN connection c ON c.id = m.connection_id
        ), startable AS (
          -- The message, if it fits in a NOTIFY (8,000 bytes with the rest of the row).
          SELECT CASE WHEN v_free > 0 AND octet_length(min(payload::text)) <= 6000 THEN 1 ELSE 0 END AS n FROM input
        ), inserted AS (
          INSERT INTO queue_message (queue_owner_id, connection_id, job_id, step_id, payload, state, attempts, lease_id, lease_expires_at)
          SELECT i.owner, i.connection_id, i.job_id, i.step_id, i.payload,
                 CASE WHEN i.n <= s.n THEN 'running' ELSE 'queued' END,
                 (i.n <= s.n)::int,
                 CASE WHEN i.n <= s.n THEN gen_random_uuid() END,
                 CASE WHEN i.n <= s.n THEN clock_timestamp() + v_lease_ms * interval '1 millisecond' END
            FROM input i CROSS JOIN startable s
           ORDER BY i.n
          RETURNING queue_message.id, queue_message.queue_owner_id AS owner, queue_message.connection_id, queue_message.job_id,
                    queue_message.step_id, queue_message.payload, queue_message.state, queue_message.attempts,
                    queue_message.lease_id, queue_message.idempotency_key
        ), running AS (
          -- clock_timestamp(): the enqueuing transaction may have begun a while before (runFlow's reads the flow first).
          UPDATE job SET status = 'RUNNING', started_at = clock_timestamp()
           WHERE job.status = 'QUEUED' AND job.id IN (SELECT i.job_id FROM inserted i WHERE i.state = 'running')
        ), started AS (
          SELECT i.owner, pg_notify('sluice_start', json_build_object(
                   'engine', v_engine, 'id', i.id::text, 'queueOwnerId', i.owner, 'connectionId', i.connection_id,
                   'jobId', i.job_id, 'stepId', i.step_id, 'payload', i.payload, 'attempts', i.attempts,
                   'leaseId', i.lease_id, 'idempotencyKey', i.idempotency_key)::text)
            FROM inserted i WHERE i.state = 'running'
        ), queued AS (
          SELECT q.owner, pg_notify('sluice_queue', q.owner::text)
            FROM (SELECT DISTINCT i.owner FROM inserted i WHERE i.state = 'queued') AS q
        )
        SELECT DISTINCT o.owner FROM (SELECT owner FROM started UNION ALL SELECT owner FROM queued) AS o;
      END;
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sluice_enqueue_messages(jsonb)`);
    await q.query(`DROP TABLE engine_instance`);
  }
}
