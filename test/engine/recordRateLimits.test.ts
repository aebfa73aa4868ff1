/**
 * recordRateLimits against a real connection row: which rate limits start a
 * pause, and what the ones that come during it (or after it, from calls that
 * started before it) say about the API's concurrency (limit/recovery.ts,
 * "headroom").
 */
import { recordRateLimits, type RateLimitSample } from '../../src/engine/sql/recordRateLimits';
import { createHttpConnection } from '../support/flows';
import { useDatabase } from '../support/database';
import { useTestSluice } from '../support/sluice';

const s = useTestSluice(); // the API only: nothing but this test records rate limits
const db = useDatabase(s);

async function record(owner: string, sample: RateLimitSample) {
  await db.query('BEGIN');
  try {
    const recorded = await recordRateLimits(db, owner, sample);
    await db.query('COMMIT');
    return recorded;
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  }
}

/** A rate limit drawn by a call that started `startedMsAgo` ms ago. */
function rateLimited(startedMsAgo: number, retryAfterMs: number | null = null): RateLimitSample {
  return { rateLimited: [{ retryAfterMs, callStartedAt: performance.now() - startedMsAgo }], successes: 0 };
}

async function stored(owner: string) {
  const { rows } = await db.query<{ level: number; ceiling: number | null; paused_until: Date | null }>(
    `SELECT concurrency_level AS level, known_good_level AS ceiling, paused_until FROM connection WHERE id = $1`,
    [owner],
  );
  return rows[0]!;
}

it('takes the level to what the API took at once: at level 25, 21 rate limits in one pause leave level and ceiling at 4, with one pause', async () => {
  const owner = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: 25, autoRecoverRateLimitErrors: true });
  const first = await record(owner, rateLimited(5, 5000));
  expect(first.change).toMatchObject({ from: 25, to: 12, pauseMs: 5000, reason: 'rate-limited' });
  const { paused_until: pausedUntil } = await stored(owner);
  for (let i = 0; i < 20; i++) {
    const later = await record(owner, rateLimited(6));
    expect(later.change?.pauseMs ?? null).toBeNull(); // no pause of its own
  }
  expect(await stored(owner)).toEqual({ level: 4, ceiling: 4, paused_until: pausedUntil });
});

it('reads the same from rate limits recorded together in one batch: one pause, level and ceiling at L − R', async () => {
  const owner = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: 25, autoRecoverRateLimitErrors: true });
  const calls = Array.from({ length: 21 }, () => ({ retryAfterMs: 5000, callStartedAt: performance.now() - 5 }));
  const recorded = await record(owner, { rateLimited: calls, successes: 0 });
  expect(recorded.change).toMatchObject({ from: 25, to: 4, pauseMs: 5000, reason: 'rate-limited' });
  expect(await stored(owner)).toMatchObject({ level: 4, ceiling: 4 });
});

it("counts a rate limit recorded after the pause ended to that pause when its call had started before it; one that started after is a new rate limit", async () => {
  const owner = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: 20, autoRecoverRateLimitErrors: true });
  await record(owner, rateLimited(5, 30)); // level 10, ceiling 19, paused for 30 ms
  await new Promise((r) => setTimeout(r, 80));
  // Started 200 ms ago, before the pause: one call too many of the first, no new pause.
  const late = await record(owner, rateLimited(200));
  expect(late.change).toBeNull();
  expect(await stored(owner)).toMatchObject({ level: 10, ceiling: 18 });
  // Started just now, after the pause: a rate limit of its own halves the level.
  const fresh = await record(owner, rateLimited(0));
  expect(fresh.change).toMatchObject({ from: 10, to: 5, reason: 'rate-limited' });
});

it('reads nothing into the rate limits that come during a pause the application asked for', async () => {
  const owner = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: 10, autoRecoverRateLimitErrors: true });
  await record(owner, rateLimited(5, 10)); // level 5, ceiling 9
  await new Promise((r) => setTimeout(r, 30));
  await record(owner, { slowDownMs: 5000, successes: 0 }); // RateLimit-Remaining: 0
  const during = await record(owner, rateLimited(1));
  expect(during.change).toBeNull();
  expect(await stored(owner)).toMatchObject({ level: 5, ceiling: 9 });
});

it('says how many successes it takes to move the level, and nothing once the queue is at its target', async () => {
  const owner = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: 8, autoRecoverRateLimitErrors: true });
  const limited = await record(owner, rateLimited(5, 10)); // level 4, ceiling 7
  expect(limited.successesBeforeChange).toBe(1); // the first success ends the run of rate limits
  expect(await record(owner, { successes: 1 })).toEqual({ change: null, successesBeforeChange: 3 }); // then a round at 4 doubles it (to the ceiling)
  const fewer = await record(owner, { successes: 2 });
  expect(fewer).toEqual({ change: null, successesBeforeChange: 1 });
  const moved = await record(owner, { successes: 1 });
  expect(moved.change).toMatchObject({ from: 4, to: 7, reason: 'recovering' });
  const fixed = await createHttpConnection(s, 'http://127.0.0.1:9', { concurrencyLevel: 8, autoRecoverRateLimitErrors: false });
  expect(await record(fixed, rateLimited(5))).toEqual({ change: null, successesBeforeChange: null });
});
