/**
 * An unreliable application: connections dropped mid-request (before or after
 * the application took the request in) and requests never answered. Both are
 * transient: the request is retried with backoff under the same
 * Idempotency-Key until it succeeds, or, after five attempts, its record is
 * kept as a JobError that says what happened. Meanwhile the level holds: a
 * request that hangs keeps its slot until its timeout ends it. Each test ends
 * on the fault suite's invariants (./invariants.ts).
 */
import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob, type JobView } from '../support/flows';
import { orders, startRecordingApi, type EndpointFault, type RecordingApi } from '../support/recordingApi';
import type { ReceivedRequest } from '../support/fakeApi';
import { expectFaultInvariants } from './invariants';

const PAGING = { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 5 };
const idsOf = (n: number): number[] => orders(n).map((o) => o.id as number);

describe('endpoint faults', () => {
  const s = useTestSluice({ engine: true });
  let api: RecordingApi;
  afterEach(() => api.close());

  async function exportImport(records: number, level: number, config: Record<string, unknown> = {}): Promise<JobView> {
    api.options.orders = orders(records);
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: level, autoRecoverRateLimitErrors: false, config });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data', paging: PAGING } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    return waitForJob(s, await runFlow(s, flow.id), 45000);
  }

  const isImport = (req: ReceivedRequest): boolean => req.path === '/import';
  const recordOf = (req: ReceivedRequest): number => (JSON.parse(req.body) as { id: number }).id;
  /** Which attempt at this request this is (1: the first): the requests so far with its path and body. */
  const attemptOf = (req: ReceivedRequest): number => api.requests.filter((r) => r.path === req.path && r.body === req.body).length;
  const importsOf = (id: number): ReceivedRequest[] => api.requests.filter((r) => isImport(r) && recordOf(r) === id);

  it('retries requests whose connection drops, taken in or not, under one Idempotency-Key; gives up on a record after five attempts with a NETWORK JobError', async () => {
    api = await startRecordingApi({ latencyMs: 20 });
    api.options.fault = (req): EndpointFault | undefined => {
      if (req.path.startsWith('/orders?page=2&')) return attemptOf(req) === 1 ? 'drop' : undefined;
      if (!isImport(req)) return undefined;
      const id = recordOf(req);
      if (id === 7) return 'drop'; // every time
      if (attemptOf(req) > 1) return undefined;
      if (id % 3 === 0) return 'drop';
      if (id % 3 === 1) return 'answerLost';
      return undefined;
    };
    const job = await exportImport(20, 4);

    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 20, recordsSucceeded: 19, recordsFailed: 1 });
    expect(job.errors).toEqual([
      expect.objectContaining({ code: 'NETWORK', record: expect.objectContaining({ id: 7 }), message: expect.stringMatching(/gave up after 5 attempts/) }),
    ]);
    const { importedTwice, failed } = expectFaultInvariants({ api, job, recordIds: idsOf(20), level: 4 });
    expect(failed).toEqual([7]);
    // The application took these in before their connection dropped; the
    // retry brought them again, under the key they had.
    expect(importedTwice).toEqual([1, 4, 10, 13, 16, 19]);
    expect(importsOf(7)).toHaveLength(5);
    // The dropped export page was asked for again, and its records went on (the invariants: all 20 exported).
    expect(api.faults.filter((f) => f.request.path.startsWith('/orders')).map((f) => f.fault)).toEqual(['drop']);
    expect(api.requests.filter((r) => r.path.startsWith('/orders?page=2&'))).toHaveLength(2);
  }, 60000);

  it('retries requests that get no answer within the connection’s timeoutMs; a record that never gets one is a TIMEOUT JobError, and the level holds throughout', async () => {
    api = await startRecordingApi({ latencyMs: 20 });
    api.options.fault = (req): EndpointFault | undefined => {
      if (req.path.startsWith('/orders?page=1&')) return attemptOf(req) === 1 ? 'hang' : undefined;
      if (!isImport(req)) return undefined;
      const id = recordOf(req);
      if (id === 5) return 'hang'; // every time
      return id % 4 === 0 && attemptOf(req) === 1 ? 'hang' : undefined;
    };
    const job = await exportImport(12, 3, { timeoutMs: 400 });

    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 12, recordsSucceeded: 11, recordsFailed: 1 });
    expect(job.errors).toEqual([
      expect.objectContaining({
        code: 'TIMEOUT',
        record: expect.objectContaining({ id: 5 }),
        message: expect.stringMatching(/within 400 ms.*gave up after 5 attempts/),
      }),
    ]);
    const { importedTwice, failed } = expectFaultInvariants({ api, job, recordIds: idsOf(12), level: 3 });
    expect(failed).toEqual([5]);
    // Nothing unanswered was taken in, so nothing was taken in twice.
    expect(importedTwice).toEqual([]);
    expect(importsOf(5)).toHaveLength(5);
    for (const id of [4, 8, 12]) expect(importsOf(id)).toHaveLength(2);
    // Every hung request ended because Sluice gave up on it: 1 export page, 3 first tries, 5 tries of record 5.
    const hung = api.faults.filter((f) => f.fault === 'hang');
    expect(hung).toHaveLength(9);
    expect(api.aborted).toHaveLength(9);
  }, 60000);
});
