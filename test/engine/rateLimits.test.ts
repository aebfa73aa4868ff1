/**
 * Auto-recovery and rateLimit against an API that enforces limits of its own
 * (issue #5): no record is lost to a rate limit while auto-recovery is on,
 * the queue waits out Retry-After, and rateLimit keeps the request rate under
 * its window across any level.
 */
import { createExportImportFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { json, orders, useRecordingApi } from '../support/recordingApi';
import { useTestSluice } from '../support/sluice';

describe('rate limits', () => {
  const s = useTestSluice({ engine: true });
  const api = useRecordingApi();

  async function importFlow(conn: string, records: number): Promise<string> {
    api.options.orders = orders(records);
    return createExportImportFlow(s, conn);
  }

  it('loses no record to a hidden limit of 4 in flight (429 without Retry-After, target 25)', async () => {
    let importing = 0;
    let rejected = 0;
    // The limit is judged at arrival: a 5th concurrent import is refused at once.
    api.options.override = async (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      importing++;
      try {
        if (importing > 4) {
          rejected++;
          json(res, 429, { error: 'too many requests' });
          return true;
        }
        await new Promise((r) => setTimeout(r, 20));
        return false;
      } finally {
        importing--;
      }
    };
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 25 });
    const job = await waitForJob(s, await runFlow(s, await importFlow(conn, 60)), 60000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 60, recordsSucceeded: 60, recordsFailed: 0 });
    expect(rejected).toBeGreaterThan(0); // the limit was really hit
    expect(new Set((api.imported as { id: number }[]).map((r) => r.id)).size).toBe(60);
    const after = await s.ok<{ connection: { concurrencyLevel: number; targetConcurrencyLevel: number } }>(
      `query($id: ID!) { connection(id: $id) { concurrencyLevel targetConcurrencyLevel } }`,
      { id: conn },
    );
    expect(after.connection.targetConcurrencyLevel).toBe(25);
    expect(after.connection.concurrencyLevel).toBeLessThan(25); // the level in use dropped
  }, 90000);

  it.each([
    ['seconds', () => '1'],
    ['an HTTP date', () => new Date(Date.now() + 2000).toUTCString()],
  ])('pauses the whole queue for a Retry-After in %s', async (_form, retryAfter) => {
    let limitedAt = 0;
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import') || limitedAt > 0) return false;
      limitedAt = Date.now();
      json(res, 429, { error: 'slow down' }, { 'retry-after': retryAfter() });
      return true;
    };
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 1 });
    const job = await waitForJob(s, await runFlow(s, await importFlow(conn, 3)), 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 3, recordsFailed: 0 });
    // Every import after the 429 started once the pause was over (the date form has 1 s resolution).
    const arrivals = api.arrivalTimes.filter((a) => a.path.startsWith('/import') && a.at > limitedAt);
    expect(arrivals).toHaveLength(3);
    for (const a of arrivals) expect(a.at - limitedAt).toBeGreaterThanOrEqual(950);
  }, 30000);

  it.each([
    ['RateLimit-Remaining / RateLimit-Reset', () => ({ 'ratelimit-remaining': '0', 'ratelimit-reset': '1' })],
    ['X-RateLimit-Remaining / X-RateLimit-Reset (Unix time)', () => ({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 2) })],
  ])('waits for the reset when a success says the limit is used up (%s), drawing no 429', async (_form, headers) => {
    let exhaustedAt = 0;
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import') || exhaustedAt > 0) return false;
      exhaustedAt = Date.now();
      json(res, 201, { ok: true }, headers() as Record<string, string>);
      return true;
    };
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    const job = await waitForJob(s, await runFlow(s, await importFlow(conn, 3)), 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 3, recordsFailed: 0 });
    const later = api.arrivalTimes.filter((a) => a.path.startsWith('/import') && a.at > exhaustedAt);
    expect(later).toHaveLength(2);
    for (const a of later) expect(a.at - exhaustedAt).toBeGreaterThanOrEqual(950);
  }, 30000);

  it('keeps rateLimit alone (no 429s) under its window with level 10', async () => {
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 10, autoRecoverRateLimitErrors: false });
    await s.ok(`mutation($id: ID!) { setConcurrency(input: { connectionId: $id, level: 10, autoRecoverRateLimitErrors: false, rateLimit: { requests: 5, perMilliseconds: 200 } }) { id } }`, { id: conn });
    const job = await waitForJob(s, await runFlow(s, await importFlow(conn, 30)), 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 30 });
    // Every request counts (the export's page too): no 200 ms window holds more than 5 starts, with 50 ms for
    // scheduling and the network between a start and its arrival here.
    const times = api.arrivalTimes.map((a) => a.at).sort((a, b) => a - b);
    expect(times.length).toBe(31);
    for (let i = 0; i + 5 < times.length; i++) expect(times[i + 5]! - times[i]!).toBeGreaterThanOrEqual(150);
  }, 30000);
});
