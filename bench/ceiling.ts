/**
 * The machine's own ceiling for the engine cases: the same endpoint process
 * driven by a bare undici client, with no Sluice and no database in the way.
 * What Sluice reaches is best read against these, not only against the
 * theoretical limits: on a 2-core box the endpoint, PostgreSQL and Sluice
 * share the cores, and the endpoint's 20 ms timer is not exactly 20 ms.
 */
import { Agent, type Dispatcher } from 'undici';

/** Runs `total` POST /import requests, `concurrency` at a time, each sent as soon as one ends; returns requests/s. */
async function closedLoop(origin: string, path: string, total: number, concurrency: number): Promise<number> {
  const agent = new Agent({ connections: concurrency, pipelining: 1 });
  let sent = 0;
  let done = 0;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const sendOne = (): void => {
      if (sent >= total) return;
      sent++;
      const handler: Dispatcher.DispatchHandlers = {
        onConnect: () => undefined,
        onHeaders: () => true,
        onData: () => true,
        onComplete: () => {
          if (++done === total) resolve();
          else sendOne();
        },
        onError: reject,
      };
      agent.dispatch(
        { origin, path, method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `k${sent}` }, body: `{"id":${sent}}` },
        handler,
      );
    };
    for (let i = 0; i < concurrency; i++) sendOne();
  });
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  return Math.round(total / seconds);
}

export async function ceiling(endpointUrl: string): Promise<Record<string, unknown>> {
  const burst = await closedLoop(endpointUrl, '/import', 20000, 100);
  const level = await closedLoop(endpointUrl, '/import?latency=20', 5000, 25);
  // The hidden-limit case's ideal: exactly 4 in flight against the same 20 ms endpoint.
  const four = await closedLoop(endpointUrl, '/import?latency=20', 1000, 4);
  return {
    case: 'ceiling: the bench endpoint driven by a bare HTTP client (no Sluice, no database)',
    zeroLatencyRequestsPerSecond: burst,
    level25At20msRequestsPerSecond: level,
    level25At20msOfLittlesLaw: +(level / 1250).toFixed(3),
    level4At20msRequestsPerSecond: four,
    level4At20msOfLittlesLaw: +(four / 200).toFixed(3),
  };
}
