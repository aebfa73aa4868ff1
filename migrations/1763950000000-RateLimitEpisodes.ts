import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What auto-recovery needs to read a rate limit's episode: the calls that
 * were already running when a rate limit paused the queue answer 429 too, and
 * how many of them did tells how many calls the API took at once
 * (src/engine/limit/recovery.ts, "headroom").
 *
 *   rate_limit_paused_at  when the last rate limit that started a pause came
 *                         (database clock): a later 429 of a call that had
 *                         started before it belongs to that pause, even when
 *                         it is recorded after the pause ended (rate limits
 *                         are recorded one after another under the row's
 *                         lock, a few ms each, and a first backoff is only
 *                         100–200 ms)
 *   rate_limit_headroom   the level in use at that rate limit minus the 429s
 *                         of its pause: the calls the API took at once
 *
 * Both columns are new and nullable: a process of the previous release
 * ignores them.
 */
export class RateLimitEpisodes1763950000000 implements MigrationInterface {
  name = 'RateLimitEpisodes1763950000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE connection ADD COLUMN rate_limit_paused_at timestamptz, ADD COLUMN rate_limit_headroom int`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE connection DROP COLUMN rate_limit_paused_at, DROP COLUMN rate_limit_headroom`);
  }
}
