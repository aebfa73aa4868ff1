/**
 * The API's share (ROLE=all): while the process's GraphQL requests are slow
 * the engine runs fewer calls at once across its queues, never fewer than the
 * floor, and once the API is quiet it runs at full speed again.
 * src/engine/limit/apiShare.ts is the algorithm (test/engine/limit/apiShare.test.ts);
 * this is its enforcement, the slow requests played by telling the engine of them.
 */
import { DEFAULT_API_SHARE } from '../../src/engine/limit/apiShare';
import type { QueueEngine } from '../../src/engine/engine';
import { createExportImportFlow, createHttpConnection, runFlow, waitUntil } from '../support/flows';
import { orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { useTestSluice } from '../support/sluice';

const inFlight = (engine: QueueEngine): number => [...engine.inFlight().values()].reduce((a, b) => a + b, 0);

/** The budget as /metrics shows it (not a GraphQL request: no sample). */
async function budgetGauge(url: string): Promise<string | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return /^sluice_engine_api_share_budget (\S+)$/m.exec(text)?.[1];
}

describe('API share', () => {
  const s = useTestSluice({ engine: true });
  let api: RecordingApi;
  afterAll(async () => {
    await api.close();
  });

  it('holds the engine to the floor while API requests are slow, and lets it run at full speed once the API is quiet', async () => {
    api = await startRecordingApi({ orders: orders(3000), latencyMs: 40 });
    const engine = s.sluice.engine as QueueEngine;
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: null, autoRecoverRateLimitErrors: false });
    await runFlow(s, await createExportImportFlow(s, conn));
    // From here on no GraphQL request: each would be a sample (a fast one).
    await waitUntil(() => inFlight(engine) >= 50, 20000, 'a burst in flight');
    expect(engine.apiShareBudget()).toBeNull();
    expect(await budgetGauge(s.url)).toBe('+Inf');

    // Slow API requests, 20 a window, until the budget is at the floor.
    const slow = setInterval(() => {
      for (let i = 0; i < 4; i++) engine.apiRequestServed(500);
    }, 20);
    try {
      await waitUntil(() => engine.apiShareBudget() === DEFAULT_API_SHARE.floor, 10000, 'the budget at the floor');
      expect(await budgetGauge(s.url)).toBe(String(DEFAULT_API_SHARE.floor));
      // The calls started before drain to the floor, and no more start.
      await waitUntil(() => inFlight(engine) <= DEFAULT_API_SHARE.floor, 10000, 'in flight down to the floor');
      let peak = 0;
      let calls = 0;
      const imported = api.imported.length;
      const started = Date.now();
      while (Date.now() - started < 1000) {
        peak = Math.max(peak, inFlight(engine));
        calls++;
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(calls).toBeGreaterThan(50);
      expect(peak).toBeLessThanOrEqual(DEFAULT_API_SHARE.floor);
      // The engine never stops.
      expect(api.imported.length).toBeGreaterThan(imported);
    } finally {
      clearInterval(slow);
    }

    // Quiet: the budget goes, and the engine is back to a burst.
    await waitUntil(() => engine.apiShareBudget() === null, DEFAULT_API_SHARE.quietMs + 2000, 'the budget gone');
    await waitUntil(() => inFlight(engine) >= 50, 10000, 'a burst in flight again');
    expect(await budgetGauge(s.url)).toBe('+Inf');
  }, 60000);
});
