/**
 * Rate limits across processes and windows (issue #5): two worker processes
 * obey one pause, and an API's per-second window with Retry-After is kept.
 */
import { createExportImportFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { json, orders, useRecordingApi } from '../support/recordingApi';
import { startTestSluice, type TestSluice } from '../support/sluice';
import { startSluiceProcess, stopSluiceProcesses } from '../support/sluiceProcess';

describe('shared rate limits', () => {
  let s: TestSluice;
  const api = useRecordingApi();

  beforeAll(async () => {
    s = await startTestSluice({ engine: false });
  });
  afterAll(async () => {
    await stopSluiceProcesses();
    await s?.close();
  });

  async function importFlow(conn: string, records: number): Promise<string> {
    api.options.orders = orders(records);
    return createExportImportFlow(s, conn);
  }

  it('pauses the queue in every process: after a 429 with Retry-After, no worker sends anything until it is over', async () => {
    await Promise.all([startSluiceProcess(s), startSluiceProcess(s)]);
    let limitedAt = 0;
    api.options.latencyMs = 30;
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import') || limitedAt > 0) return false;
      limitedAt = Date.now();
      json(res, 429, { error: 'slow down' }, { 'retry-after': '1' });
      return true;
    };
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 4 });
    const job = await waitForJob(s, await runFlow(s, await importFlow(conn, 40)), 60000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 40, recordsFailed: 0 });
    // Calls that started before the pause was recorded (it takes one database
    // transaction after the 429's response) may still arrive; after that, none
    // may start until the pause is over. 250 ms covers that transaction on a
    // loaded 2-core machine.
    const startedDuringPause = api.arrivalTimes.filter((a) => a.path.startsWith('/import') && a.at > limitedAt + 250 && a.at < limitedAt + 950);
    expect(startedDuringPause).toEqual([]);
    expect(api.arrivalTimes.filter((a) => a.at >= limitedAt + 950).length).toBeGreaterThan(0);
  }, 90000);

  it("keeps an API's per-second window with Retry-After: every record arrives, never more than the window allows", async () => {
    await startSluiceProcess(s);
    const perSecond = 20;
    let windowStart = 0;
    let inWindow = 0;
    const accepted: number[] = [];
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        inWindow = 0;
      }
      if (inWindow >= perSecond) {
        json(res, 429, { error: 'window full' }, { 'retry-after': ((windowStart + 1000 - now) / 1000).toFixed(3) });
        return true;
      }
      inWindow++;
      accepted.push(now);
      return false;
    };
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 10 });
    const job = await waitForJob(s, await runFlow(s, await importFlow(conn, 60)), 60000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 60, recordsFailed: 0 });
    expect(accepted).toHaveLength(60);
    // The API's own windows were never exceeded (it refused the excess), and the
    // run took about as many windows as the records need: ≥ 2 s for 60 at 20/s.
    expect(accepted[accepted.length - 1]! - accepted[0]!).toBeGreaterThanOrEqual(1900);
  }, 90000);
});
