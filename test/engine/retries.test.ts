/**
 * What becomes of failed calls: transient errors (5xx) are retried a bounded
 * number of times with the same Idempotency-Key, permanent ones (other 4xx)
 * fail the record at once, rate limits (429) are retried without using up
 * attempts under auto-recovery and a bounded number of times without it, a
 * source that fails for good fails the job. Nothing is dropped silently: the
 * counts always add up and every failed record is a JobError.
 */
import type { ServerResponse } from 'node:http';
import { useTestSluice } from '../support/sluice';
import { createFlow, createHttpConnection, runFlow, waitForJob, type ConnectionOptions, type JobView } from '../support/flows';
import { json, orders, useRecordingApi } from '../support/recordingApi';
import type { ReceivedRequest } from '../support/fakeApi';

const PAGING = { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 10 };

describe('retries and failures', () => {
  const s = useTestSluice({ engine: true });
  const api = useRecordingApi();

  async function exportImport(
    records: number,
    options: ConnectionOptions = { concurrencyLevel: 5, autoRecoverRateLimitErrors: false },
  ): Promise<{ job: JobView; stepIds: string[] }> {
    api.options.orders = orders(records);
    const conn = await createHttpConnection(s, api.url, options);
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: { path: '/orders', recordsPath: 'data', paging: PAGING } },
      { kind: 'IMPORT', connectionId: conn, config: { path: '/import' } },
    ]);
    const job = await waitForJob(s, await runFlow(s, flow.id), 25000);
    if (job.status === 'COMPLETED') expect(job.recordsExported).toBe(job.recordsSucceeded + job.recordsFailed);
    return { job, stepIds: flow.stepIds };
  }

  /** Import requests for record `id`, every attempt, in arrival order. */
  const attemptsOf = (id: number): ReceivedRequest[] =>
    api.requests.filter((r) => r.path === '/import' && (JSON.parse(r.body) as { id: number }).id === id);
  const keysOf = (id: number): string[] => attemptsOf(id).map((r) => String(r.headers['idempotency-key']));

  /** Answers imports of record `id` with `answer` while it returns true. */
  function failImportsOf(id: number, answer: (res: ServerResponse, attempt: number) => boolean): void {
    let attempt = 0;
    api.options.override = (req, res) => {
      if (req.path !== '/import' || (JSON.parse(req.body) as { id: number }).id !== id) return false;
      attempt++;
      return answer(res, attempt);
    };
  }

  it('retries a 503 and succeeds on the third try with the same Idempotency-Key, leaving no JobError', async () => {
    failImportsOf(3, (res, attempt) => attempt <= 2 && (json(res, 503, { error: 'busy' }), true));
    const { job } = await exportImport(5);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 5, recordsSucceeded: 5, recordsFailed: 0, errors: [] });
    const keys = keysOf(3);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/\S/);
    // Unique to the message: no other record's import carries it.
    expect(api.importKeys.filter((k) => k === keys[0])).toHaveLength(1);
    expect(new Set(api.importKeys).size).toBe(5);
  });

  it('retries a call that gets no answer within the connection’s timeoutMs, and succeeds', async () => {
    failImportsOf(2, (_res, attempt) => attempt === 1); // the first try is never answered
    const { job } = await exportImport(3, { concurrencyLevel: 3, autoRecoverRateLimitErrors: false, config: { timeoutMs: 300 } });
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 3, recordsSucceeded: 3, recordsFailed: 0, errors: [] });
    const keys = keysOf(2);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(1);
  });

  it('fails records answered 422 or 404 at once, keeping a JobError with the code, record and step, and completes the job', async () => {
    api.options.override = (req, res) => {
      if (req.path !== '/import') return false;
      const { id } = JSON.parse(req.body) as { id: number };
      if (id === 2 || id === 5) return (json(res, 422, { error: 'invalid total' }), true);
      if (id === 7) return (json(res, 404, { error: 'no such customer' }), true);
      return false;
    };
    const { job, stepIds } = await exportImport(10);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 10, recordsSucceeded: 7, recordsFailed: 3 });
    const byId = (a: { record: unknown }, b: { record: unknown }): number => (a.record as { id: number }).id - (b.record as { id: number }).id;
    const all = orders(10);
    expect([...job.errors].sort(byId)).toEqual([
      { code: 'HTTP_422', message: expect.stringContaining('422'), record: all[1], step: { id: stepIds[1] } },
      { code: 'HTTP_422', message: expect.stringContaining('invalid total'), record: all[4], step: { id: stepIds[1] } },
      { code: 'HTTP_404', message: expect.stringContaining('404'), record: all[6], step: { id: stepIds[1] } },
    ]);
    // Permanent: never tried again.
    for (const id of [2, 5, 7]) expect(attemptsOf(id)).toHaveLength(1);
  });

  it('gives up on a 503 that never ends after a bounded number of tries, with a JobError HTTP_503', async () => {
    failImportsOf(4, (res) => (json(res, 503, { error: 'down' }), true));
    const { job, stepIds } = await exportImport(5);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 5, recordsSucceeded: 4, recordsFailed: 1 });
    expect(job.errors).toEqual([{ code: 'HTTP_503', message: expect.stringContaining('503'), record: orders(5)[3], step: { id: stepIds[1] } }]);
    const keys = keysOf(4);
    expect(keys.length).toBeGreaterThan(1);
    expect(keys.length).toBeLessThanOrEqual(10);
    expect(new Set(keys).size).toBe(1);
  });

  it('fails the job when its source fails for good, with a JobError on the export step', async () => {
    api.options.override = (req, res) => req.path.startsWith('/orders') && (json(res, 403, { error: 'forbidden' }), true);
    const { job, stepIds } = await exportImport(10);
    expect(job).toMatchObject({ status: 'FAILED', recordsExported: 0, recordsSucceeded: 0, recordsFailed: 0 });
    expect(job.errors).toEqual([expect.objectContaining({ code: 'HTTP_403', step: { id: stepIds[0] } })]);
    expect(api.requests.filter((r) => r.path.startsWith('/orders'))).toHaveLength(1);
    expect(api.requests.filter((r) => r.path.startsWith('/import'))).toHaveLength(0);
  });

  it('fails the job when a later page fails for good, after importing the pages before it', async () => {
    api.options.override = (req, res) => req.path.startsWith('/orders?page=2') && (json(res, 404, { error: 'gone' }), true);
    const { job, stepIds } = await exportImport(25);
    expect(job).toMatchObject({ status: 'FAILED', recordsExported: 10, recordsSucceeded: 10, recordsFailed: 0 });
    expect(job.errors).toEqual([expect.objectContaining({ code: 'HTTP_404', step: { id: stepIds[0] } })]);
    expect(api.arrivals.filter((p) => p.startsWith('/orders'))).toEqual(['/orders?page=1&per_page=10', '/orders?page=2&per_page=10']);
    expect((api.imported as { id: number }[]).map((r) => r.id).sort((a, b) => a - b)).toEqual(orders(10).map((o) => o.id));
  });

  it('without auto-recovery, retries a 429 a bounded number of times, then fails the record with RATE_LIMITED', async () => {
    failImportsOf(2, (res) => (json(res, 429, { error: 'slow down' }, { 'retry-after': '0' }), true));
    const { job, stepIds } = await exportImport(4);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 4, recordsSucceeded: 3, recordsFailed: 1 });
    expect(job.errors).toEqual([{ code: 'RATE_LIMITED', message: expect.any(String), record: orders(4)[1], step: { id: stepIds[1] } }]);
    const keys = keysOf(2);
    expect(keys.length).toBeGreaterThan(1);
    expect(keys.length).toBeLessThanOrEqual(10);
    expect(new Set(keys).size).toBe(1);
  });

  it('with auto-recovery (the default), never fails a record for 429s, however many, and keeps its Idempotency-Key', async () => {
    // More 429s than a transient error gets attempts: a rate limit must not use them up.
    failImportsOf(2, (res, attempt) => attempt <= 8 && (json(res, 429, { error: 'slow down' }, { 'retry-after': '0' }), true));
    const { job } = await exportImport(6, { concurrencyLevel: 3 });
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 6, recordsSucceeded: 6, recordsFailed: 0, errors: [] });
    const keys = keysOf(2);
    expect(keys).toHaveLength(9);
    expect(new Set(keys).size).toBe(1);
    expect((api.imported as { id: number }[]).map((r) => r.id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
