import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Connection state (issue #19): a connection is ONLINE, OFFLINE (the engine
 * found its application away, or its credentials refused) or PAUSED (by an
 * operator). Its messages start only while it and its queue owner are
 * ONLINE; the claim reads these columns under the queue's lock, so every
 * process obeys one state.
 *
 * connection, new columns:
 *   state              ONLINE | OFFLINE | PAUSED; existing connections are ONLINE.
 *   state_changed_at   when it last changed.
 *   state_reason       why it is OFFLINE (the last error, never a secret) or
 *                      the operator's reason for the pause; null when ONLINE.
 *   next_probe_at      while OFFLINE: when the next probe may go out (set
 *                      exactly while OFFLINE: connection_probe_check).
 *   probe_backoff_ms   while OFFLINE: the wait after the next failed probe.
 *   probe_failures     probes that failed since it went OFFLINE.
 *   probe_last_message the message the last probe by message sent: after
 *                      a few failed probes the next sends the one after it
 *                      (a head message the application cannot take must not
 *                      be the only one ever probed).
 *   probe_lease_until  a probe in flight until then: one probe at a time
 *                      across processes (a process that dies mid-probe frees
 *                      it when the lease runs out).
 *   failed_calls       calls of this queue owner's queue that failed as an
 *                      application away would (network, timeout, 5xx) since
 *                      its last success: the outage detector
 *                      (sluice_record_call_failure.sql).
 *   failed_call_messages
 *                      the messages whose calls failed in that run (distinct,
 *                      at most 64): one record failing again and again is
 *                      that record's problem; and when the run takes the
 *                      connection OFFLINE, these calls get their attempt back.
 *
 * sluice_outcome gains answered_owner: the queue owner of an outcome whose
 * call its application answered (success, a 4xx, a 429), which ends that
 * queue's run of failed calls in sluice_complete_messages.
 *
 * connection_held_idx: the claim looks up the connections of its queue that
 * are not ONLINE on every call; almost always none, so a partial index keeps
 * that an empty index scan. connection_probe_idx: every engine looks for due
 * probes twice a second.
 */
export class ConnectionState1765600000000 implements MigrationInterface {
  name = 'ConnectionState1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE connection
        ADD COLUMN state text NOT NULL DEFAULT 'ONLINE' CHECK (state IN ('ONLINE', 'OFFLINE', 'PAUSED')),
        ADD COLUMN state_changed_at timestamptz NOT NULL DEFAULT now(),
        ADD COLUMN state_reason text,
        ADD COLUMN next_probe_at timestamptz,
        ADD COLUMN probe_backoff_ms int,
        ADD COLUMN probe_lease_until timestamptz,
        ADD COLUMN probe_last_message bigint,
        ADD COLUMN probe_failures int NOT NULL DEFAULT 0,
        ADD COLUMN failed_calls int NOT NULL DEFAULT 0 CHECK (failed_calls >= 0),
        ADD COLUMN failed_call_messages bigint[] NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE connection ADD CONSTRAINT connection_probe_check CHECK ((state = 'OFFLINE') = (next_probe_at IS NOT NULL))`);
    await q.query(`CREATE INDEX connection_held_idx ON connection (queue_owner_id) WHERE state <> 'ONLINE'`);
    await q.query(`CREATE INDEX connection_probe_idx ON connection (next_probe_at) WHERE state = 'OFFLINE'`);
    await q.query(`ALTER TYPE sluice_outcome ADD ATTRIBUTE answered_owner uuid`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TYPE sluice_outcome DROP ATTRIBUTE answered_owner`);
    await q.query(`DROP INDEX connection_probe_idx`);
    await q.query(`DROP INDEX connection_held_idx`);
    await q.query(`
      ALTER TABLE connection
        DROP CONSTRAINT connection_probe_check,
        DROP COLUMN state, DROP COLUMN state_changed_at, DROP COLUMN state_reason, DROP COLUMN next_probe_at,
        DROP COLUMN probe_backoff_ms, DROP COLUMN probe_lease_until, DROP COLUMN probe_last_message, DROP COLUMN probe_failures, DROP COLUMN failed_calls,
        DROP COLUMN failed_call_messages`);
  }
}
