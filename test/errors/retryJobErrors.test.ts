/**
 * retryJobErrors against a real local sink that refuses chosen records:
 * every OPEN error's record goes again from the step where it failed, once,
 * with its first Idempotency-Key, and the job's counts follow.
 */
import type { Client } from 'graphql-ws';
import { createExportImportFlow, createFlow, createHttpConnection, runFlow, waitForJob, waitUntil } from '../support/flows';
import { allJobErrors, jobCounts, RefusingSink, retryByFilter, retryByIds, JOB_ERROR_FIELDS, type JobErrorView } from '../support/jobErrors';
import { openSocket, watchJob, within } from '../support/liveClient';
import { holdUnlessAborted, json, orders, startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { codeOf, useTestSluice } from '../support/sluice';

const RECORDS = 100;
const REFUSED = new Set([3, 9, 14, 22, 35, 41, 58, 63, 77, 90]);

/** Record ids of the bodies the sink accepted. */
const idsOf = (api: RecordingApi): number[] => api.imported.map((b) => (b as { id: number }).id);

describe('retryJobErrors', () => {
  const logLines: string[] = [];
  const s = useTestSluice({ engine: true, logLines });
  let api: RecordingApi;
  let sink: RefusingSink;
  let live: Client | undefined;

  beforeEach(async () => {
    sink = new RefusingSink(REFUSED);
    api = await startRecordingApi({ orders: orders(RECORDS), override: sink.override });
  });
  afterEach(async () => {
    await live?.dispose();
    live = undefined;
    await api.close();
  });

  // After every test, whatever it did: the counters equal what they count, and a finished job adds up.
  afterEach(async () => {
    const db = s.sluice.dataSource;
    expect(await db.query(
      `SELECT j.id, j.open_error_count FROM job j
        WHERE j.open_error_count <> (SELECT count(*) FROM job_error e WHERE e.job_id = j.id AND e.state = 'OPEN')`,
    )).toEqual([]);
    expect(await db.query(
      `SELECT f.id FROM flow f LEFT JOIN flow_error_tally t ON t.flow_id = f.id
        WHERE coalesce(t.open_errors, 0) <> (SELECT count(*) FROM job_error e WHERE e.flow_id = f.id AND e.state = 'OPEN')`,
    )).toEqual([]);
    expect(await db.query(
      `SELECT j.id FROM job j
        WHERE j.status = 'COMPLETED' AND j.records_exported <> j.records_succeeded + j.records_failed
           -- Records' errors, OPEN or RESOLVED (a removed step's are records' here: no test removes a source step).
           OR j.records_failed <> (SELECT count(*) FROM job_error e LEFT JOIN step s ON s.id = e.step_id
                                    WHERE e.job_id = j.id AND e.state <> 'RETRIED' AND (s.kind IS NULL OR s.kind IN ('LOOKUP', 'IMPORT')))`,
    )).toEqual([]);
  });

  /** A job of an export → import flow that ran to its end with the refused records failed. */
  async function failedJob(): Promise<{ jobId: string; flowId: string; connectionId: string }> {
    const connectionId = await createHttpConnection(s, api.url, { concurrencyLevel: 5, autoRecoverRateLimitErrors: false });
    const flowId = await createExportImportFlow(s, connectionId);
    const jobId = await runFlow(s, flowId);
    const job = await waitForJob(s, jobId);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: RECORDS, recordsSucceeded: RECORDS - REFUSED.size, recordsFailed: REFUSED.size });
    return { jobId, flowId, connectionId };
  }

  it('keeps each refused record as an OPEN error with its record, code and attempts', async () => {
    const { jobId, flowId } = await failedJob();
    const open = await allJobErrors(s, { jobId, state: 'OPEN' });
    expect(open.map((e) => e.record!.id).sort((a, b) => Number(a) - Number(b))).toEqual([...REFUSED].sort((a, b) => a - b));
    for (const e of open) {
      expect(e).toMatchObject({ state: 'OPEN', code: 'HTTP_400', attempts: 1, closedAt: null, closedBy: null, retryOf: null, job: { id: jobId } });
      expect(e.record).toEqual(orders(RECORDS)[Number(e.record!.id) - 1]);
    }
    expect(await jobCounts(s, jobId)).toMatchObject({ openErrorCount: REFUSED.size, flow: { openErrorCount: REFUSED.size } });
    expect((await jobCounts(s, jobId)).flow.openErrorCount).toBe((await s.ok<{ flow: { openErrorCount: number } }>(
      `query($id: ID!) { flow(id: $id) { openErrorCount } }`, { id: flowId })).flow.openErrorCount);
  });

  it('sends exactly the OPEN errors a filter matches, each once with its first Idempotency-Key; the job runs again and completes', async () => {
    const { jobId, flowId } = await failedJob();
    const firstKeys = new Map([...sink.refusedKeys].map(([id, keys]) => [id, keys[0]]));
    expect(firstKeys.size).toBe(REFUSED.size);
    const acceptedBefore = api.imported.length;
    sink.fixed = true;
    sink.hold();

    const retried = await retryByFilter(s, { jobId, state: 'OPEN' });
    expect(retried).toHaveLength(REFUSED.size);
    for (const e of retried) expect(e).toMatchObject({ state: 'RETRIED', closedBy: 'bootstrap-admin', closedAt: expect.any(String) });

    // Held at the sink: the job is RUNNING again, its retried records out of recordsFailed, and jobUpdated says so.
    expect(await jobCounts(s, jobId)).toMatchObject({
      status: 'RUNNING', recordsFailed: 0, recordsSucceeded: RECORDS - REFUSED.size, openErrorCount: 0, flow: { openErrorCount: 0 },
    });
    live = openSocket(s.url, s.adminSecret).client;
    const watched = watchJob(live, jobId);
    const first = await watched.waitFor(() => true, 5000);
    expect(first.value).toMatchObject({ status: 'RUNNING', finishedAt: null, recordsFailed: 0 });

    sink.letThrough();
    expect(await within(watched.ended, 20000, 'the job to complete')).toEqual({ kind: 'complete' });
    expect(watched.events[watched.events.length - 1]!.value).toMatchObject({
      status: 'COMPLETED', recordsExported: RECORDS, recordsSucceeded: RECORDS, recordsFailed: 0,
    });

    const sentAgain = api.imported.slice(acceptedBefore) as { id: number }[];
    expect(sentAgain.map((b) => b.id).sort((a, b) => a - b)).toEqual([...REFUSED].sort((a, b) => a - b));
    const keysAgain = api.importKeys.slice(acceptedBefore);
    sentAgain.forEach((body, i) => expect(keysAgain[i]).toBe(firstKeys.get(body.id)));
    // Nothing else was sent again: every record arrived exactly once in all.
    expect(idsOf(api).sort((a, b) => a - b)).toEqual(orders(RECORDS).map((o) => o.id));
    expect(await jobCounts(s, jobId)).toMatchObject({ status: 'COMPLETED', openErrorCount: 0, flow: { openErrorCount: 0 } });
    expect(await allJobErrors(s, { flowId, state: 'RETRIED' })).toHaveLength(REFUSED.size);
    expect(await allJobErrors(s, { flowId, state: 'OPEN' })).toEqual([]);
  });

  it('sends an edited record under a new Idempotency-Key', async () => {
    const { jobId } = await failedJob();
    const [target] = await allJobErrors(s, { jobId, state: 'OPEN' });
    const id = Number(target!.record!.id);
    sink.fixed = true;
    const before = api.imported.length;
    const edited = { ...target!.record, total: 1, note: 'fixed by hand' };
    const [retried] = await retryByIds(s, [target!.id], edited);
    expect(retried).toMatchObject({ id: target!.id, state: 'RETRIED' });
    await waitForJob(s, jobId);
    expect(api.imported.slice(before)).toEqual([edited]);
    const key = api.importKeys[before]!;
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(sink.refusedKeys.get(id)).not.toContain(key);
    expect(await jobCounts(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsFailed: REFUSED.size - 1, recordsSucceeded: RECORDS - REFUSED.size + 1 });
  });

  it('makes a record that fails again a new OPEN error whose retryOf is the first', async () => {
    const { jobId } = await failedJob();
    const [target] = await allJobErrors(s, { jobId, state: 'OPEN' });
    await retryByIds(s, [target!.id]);
    const job = await waitForJob(s, jobId);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsFailed: REFUSED.size, recordsExported: RECORDS });
    const again = (await allJobErrors(s, { jobId, state: 'OPEN' })).filter((e) => e.retryOf !== null);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ retryOf: { id: target!.id }, record: target!.record, state: 'OPEN', code: 'HTTP_400' });
    // Sent again with the first attempt's key, refused again.
    const keys = sink.refusedKeys.get(Number(target!.record!.id))!;
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    const first = await s.ok<{ jobErrors: JobErrorView[] }>(
      `query($job: ID!) { jobErrors(filter: { jobId: $job, state: RETRIED }) { ${JOB_ERROR_FIELDS} } }`,
      { job: jobId },
    );
    expect(first.jobErrors.map((e) => e.id)).toEqual([target!.id]);
    expect(await jobCounts(s, jobId)).toMatchObject({ openErrorCount: REFUSED.size });
  });

  it('passes a record that failed at a LOOKUP through the lookup and the import after it', async () => {
    let lookupsFixed = false;
    api.options.override = (req, res) => {
      const url = new URL(req.path, 'http://x');
      if (url.pathname.startsWith('/customers/')) {
        const customer = url.pathname.split('/')[2];
        if (customer === 'c3' && !lookupsFixed) {
          json(res, 404, { error: 'no such customer' });
        } else {
          json(res, 200, { name: `customer ${customer}` });
        }
        return true;
      }
      return false;
    };
    const connectionId = await createHttpConnection(s, api.url, { concurrencyLevel: 5, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId, config: { path: '/orders', recordsPath: 'data', paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 100 } } },
      { kind: 'LOOKUP', connectionId, config: { method: 'GET', path: '/customers/{{record.customerId}}', resultField: 'customer' } },
      { kind: 'IMPORT', connectionId, config: { path: '/import' } },
    ]);
    const jobId = await runFlow(s, flow.id);
    const withC3 = orders(RECORDS).filter((o) => o.customerId === 'c3');
    expect(await waitForJob(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsFailed: withC3.length });
    const open = await allJobErrors(s, { jobId, state: 'OPEN' });
    expect(open.every((e) => e.step?.id === flow.stepIds[1] && e.code === 'HTTP_404')).toBe(true);
    const before = api.imported.length;

    lookupsFixed = true;
    expect(await retryByFilter(s, { jobId, stepId: flow.stepIds[1] })).toHaveLength(withC3.length);
    expect(await waitForJob(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsFailed: 0, recordsSucceeded: RECORDS });
    const imported = api.imported.slice(before) as { id: number; customer: unknown }[];
    expect(imported.map((b) => b.id).sort((a, b) => a - b)).toEqual(withC3.map((o) => o.id));
    for (const body of imported) expect(body.customer).toEqual({ name: 'customer c3' });
  });

  it('retries an export page that failed, and the export carries on from it to its end', async () => {
    let pagesFixed = false;
    const all = orders(250);
    api.options.orders = all;
    api.options.override = (req, res) => {
      const url = new URL(req.path, 'http://x');
      if (url.pathname === '/orders' && url.searchParams.get('page') === '2' && !pagesFixed) {
        json(res, 400, { error: 'page 2 is broken' });
        return true;
      }
      return false;
    };
    const connectionId = await createHttpConnection(s, api.url, { concurrencyLevel: 5, autoRecoverRateLimitErrors: false });
    const flowId = await createExportImportFlow(s, connectionId);
    const jobId = await runFlow(s, flowId);
    expect(await waitForJob(s, jobId)).toMatchObject({ status: 'FAILED', recordsExported: 100, recordsSucceeded: 100, recordsFailed: 0 });
    const [pageError, ...others] = await allJobErrors(s, { jobId, state: 'OPEN' });
    expect(others).toEqual([]);
    expect(pageError).toMatchObject({ code: 'HTTP_400', record: { cursor: expect.anything() } });

    // A record given for a page must say which page: without a cursor it is refused, and nothing is sent.
    const refusedEdit = await s.gql(`mutation($ids: [ID!], $record: JSON) { retryJobErrors(ids: $ids, record: $record) { id } }`, {
      ids: [pageError!.id],
      record: { page: 2 },
    });
    expect(codeOf(refusedEdit)).toBe('BAD_USER_INPUT');
    expect(await jobCounts(s, jobId)).toMatchObject({ status: 'FAILED', openErrorCount: 1 });

    pagesFixed = true;
    await retryByIds(s, [pageError!.id]);
    expect(await waitForJob(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsExported: 250, recordsSucceeded: 250, recordsFailed: 0 });
    expect(idsOf(api).sort((a, b) => a - b)).toEqual(all.map((o) => o.id));
    const pages = api.arrivals.filter((p) => p.startsWith('/orders')).map((p) => new URL(p, 'http://x').searchParams.get('page'));
    // Page 1 once, page 2 refused then retried, page 3 once: the export went on from the retried page.
    expect(pages).toEqual(['1', '2', '2', '3']);
  });

  it('retries a DOWNLOAD that failed: the file is fetched again and its records go on', async () => {
    let fileFixed = false;
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/files/')) return false;
      if (fileFixed) json(res, 200, orders(5));
      else json(res, 403, { error: 'not yours' });
      return true;
    };
    const connectionId = await createHttpConnection(s, api.url, { concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'DOWNLOAD', connectionId, config: { path: '/files/orders.json', format: 'json' } },
      { kind: 'IMPORT', connectionId, config: { path: '/import' } },
    ]);
    const jobId = await runFlow(s, flow.id);
    expect(await waitForJob(s, jobId)).toMatchObject({ status: 'FAILED', recordsExported: 0 });
    const [fileError] = await allJobErrors(s, { jobId, state: 'OPEN' });
    expect(fileError).toMatchObject({ code: 'HTTP_403', record: null, step: { id: flow.stepIds[0] } });
    fileFixed = true;
    await retryByIds(s, [fileError!.id]);
    expect(await waitForJob(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsExported: 5, recordsSucceeded: 5, recordsFailed: 0 });
    expect(idsOf(api).sort((a, b) => a - b)).toEqual(orders(5).map((o) => o.id));
  });

  it('sends a record of a refused batch again alone, under a new Idempotency-Key', async () => {
    let batchesFixed = false;
    const calls: { ids: number[]; key: string }[] = [];
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      const body = JSON.parse(req.body) as { id: number }[];
      calls.push({ ids: body.map((r) => r.id), key: String(req.headers['idempotency-key']) });
      json(res, !batchesFixed && body.some((r) => r.id === 3) ? 400 : 201, {});
      return true;
    };
    api.options.orders = orders(10);
    const connectionId = await createHttpConnection(s, api.url, { concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId, config: { path: '/orders', recordsPath: 'data', paging: { type: 'page', pageParam: 'page', pageSizeParam: 'per_page', pageSize: 100 } } },
      { kind: 'IMPORT', connectionId, config: { path: '/import', batchSize: 5 } },
    ]);
    const jobId = await runFlow(s, flow.id);
    expect(await waitForJob(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 5, recordsFailed: 5 });
    const refusedBatch = calls.find((c) => c.ids.includes(3))!;
    batchesFixed = true;
    expect(await retryByFilter(s, { jobId })).toHaveLength(5);
    expect(await waitForJob(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 10, recordsFailed: 0 });
    const again = calls.slice(2);
    expect(again.map((c) => c.ids).sort((a, b) => a[0]! - b[0]!)).toEqual(refusedBatch.ids.map((id) => [id]));
    expect(new Set(again.map((c) => c.key)).size).toBe(5);
    expect(again.map((c) => c.key)).not.toContain(refusedBatch.key);
  });

  it('enqueues each record once when two retries of the same errors run at once', async () => {
    const { jobId } = await failedJob();
    const ids = (await allJobErrors(s, { jobId, state: 'OPEN' })).map((e) => e.id);
    sink.fixed = true;
    const before = api.imported.length;
    const [byFilterA, byFilterB] = await Promise.all([retryByFilter(s, { jobId }), retryByFilter(s, { jobId })]);
    expect([...byFilterA, ...byFilterB].map((e) => e.id).sort()).toEqual([...ids].sort());
    await waitForJob(s, jobId);
    await waitUntil(async () => (await jobCounts(s, jobId)).status === 'COMPLETED');
    expect(idsOf(api).slice(before).sort((a, b) => a - b)).toEqual([...REFUSED].sort((a, b) => a - b));
    expect(await jobCounts(s, jobId)).toMatchObject({ recordsFailed: 0, recordsSucceeded: RECORDS });
  });

  it('refuses the second of two retries by the same ids with BAD_USER_INPUT, enqueuing them once', async () => {
    const { jobId } = await failedJob();
    const ids = (await allJobErrors(s, { jobId, state: 'OPEN' })).map((e) => e.id);
    sink.fixed = true;
    const before = api.imported.length;
    const query = `mutation($ids: [ID!]) { retryJobErrors(ids: $ids) { id } }`;
    const answers = await Promise.all([s.gql(query, { ids }), s.gql(query, { ids })]);
    expect(answers.map(codeOf).sort()).toEqual(['BAD_USER_INPUT', undefined].sort());
    await waitUntil(async () => (await jobCounts(s, jobId)).status === 'COMPLETED');
    expect(idsOf(api).slice(before).sort((a, b) => a - b)).toEqual([...REFUSED].sort((a, b) => a - b));
  });

  it('refuses what it cannot do, changing nothing', async () => {
    const { jobId, flowId } = await failedJob();
    const [one, two] = await allJobErrors(s, { jobId, state: 'OPEN' });
    const retry = `mutation($ids: [ID!], $filter: JobErrorFilter, $record: JSON) { retryJobErrors(ids: $ids, filter: $filter, record: $record) { id } }`;
    const cases: [unknown, string][] = [
      [{}, 'BAD_USER_INPUT'],
      [{ ids: [one!.id], filter: { jobId } }, 'BAD_USER_INPUT'],
      [{ ids: [one!.id, two!.id], record: { id: 1 } }, 'BAD_USER_INPUT'],
      [{ filter: { jobId }, record: { id: 1 } }, 'BAD_USER_INPUT'],
      [{ filter: { jobId, state: 'RESOLVED' } }, 'BAD_USER_INPUT'],
      [{ ids: [one!.id, '00000000-0000-4000-8000-000000000000'] }, 'NOT_FOUND'],
      [{ ids: ['not-an-id'] }, 'NOT_FOUND'],
      [{ filter: { flowId: '00000000-0000-4000-8000-000000000000' } }, 'NOT_FOUND'],
    ];
    for (const [variables, code] of cases) {
      expect({ variables, code: codeOf(await s.gql(retry, variables as Record<string, unknown>)) }).toEqual({ variables, code });
    }
    await s.ok(`mutation($ids: [ID!]!) { resolveJobErrors(ids: $ids) { id } }`, { ids: [two!.id] });
    expect(codeOf(await s.gql(retry, { ids: [one!.id, two!.id] }))).toBe('BAD_USER_INPUT');
    expect((await allJobErrors(s, { jobId, state: 'OPEN' })).map((e) => e.id)).toContain(one!.id);
    expect(await jobCounts(s, jobId)).toMatchObject({ status: 'COMPLETED', openErrorCount: REFUSED.size - 1, recordsFailed: REFUSED.size });

    // The import step removed (the job is over, so the flow may change): its errors cannot be retried.
    const steps = await s.ok<{ flow: { steps: { id: string }[] } }>(`query($id: ID!) { flow(id: $id) { steps { id } } }`, { id: flowId });
    await s.ok(`mutation($id: ID!) { removeStep(id: $id) }`, { id: steps.flow.steps[1]!.id });
    expect(codeOf(await s.gql(retry, { ids: [one!.id] }))).toBe('CONFLICT');
    expect(codeOf(await s.gql(retry, { filter: { jobId } }))).toBe('CONFLICT');
    expect(await jobCounts(s, jobId)).toMatchObject({ status: 'COMPLETED', openErrorCount: REFUSED.size - 1 });
  });

  it('refuses to retry the errors of a canceled job with CONFLICT', async () => {
    // Record 1 is refused at once; the others are held until the cancel aborts their calls.
    api.options.override = async (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      const { id } = JSON.parse(req.body) as { id: number };
      if (id === 1) {
        json(res, 400, { error: 'invalid' });
      } else if (await holdUnlessAborted(res, 60000)) {
        json(res, 201, {});
      }
      return true;
    };
    const connectionId = await createHttpConnection(s, api.url, { concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const jobId = await runFlow(s, await createExportImportFlow(s, connectionId));
    await waitUntil(async () => (await jobCounts(s, jobId)).openErrorCount === 1, 10000, 'the first record to fail');
    await s.ok(`mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: jobId });
    const [error] = await allJobErrors(s, { jobId, state: 'OPEN' });
    expect(codeOf(await s.gql(`mutation($ids: [ID!]) { retryJobErrors(ids: $ids) { id } }`, { ids: [error!.id] }))).toBe('CONFLICT');
    expect(codeOf(await s.gql(`mutation($job: ID!) { retryJobErrors(filter: { jobId: $job }) { id } }`, { job: jobId }))).toBe('CONFLICT');
    expect(await jobCounts(s, jobId)).toMatchObject({ status: 'CANCELED', openErrorCount: 1 });
    expect(await s.ok(`mutation($ids: [ID!]!) { resolveJobErrors(ids: $ids) { state } }`, { ids: [error!.id] })).toEqual({ resolveJobErrors: [{ state: 'RESOLVED' }] });
  });

  it('is for ADMINISTER and MANAGE: MONITOR is FORBIDDEN and nothing changes; MANAGE is named as closedBy', async () => {
    const { jobId } = await failedJob();
    const monitor = await s.token('MONITOR');
    const manage = await s.token('MANAGE');
    const refused = await s.gql(`mutation($job: ID!) { retryJobErrors(filter: { jobId: $job }) { id } }`, { job: jobId }, monitor);
    expect(codeOf(refused)).toBe('FORBIDDEN');
    expect(await allJobErrors(s, { jobId, state: 'OPEN' })).toHaveLength(REFUSED.size);
    expect(await jobCounts(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsFailed: REFUSED.size });
    sink.fixed = true;
    const retried = await retryByFilter(s, { jobId }, manage);
    const viewer = await s.ok<{ viewer: { tokenName: string } }>(`{ viewer { tokenName } }`, {}, manage);
    expect(new Set(retried.map((e) => e.closedBy))).toEqual(new Set([viewer.viewer.tokenName]));
    const logged = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'job errors retried');
    expect(logged).toContainEqual(expect.objectContaining({ tokenName: viewer.viewer.tokenName, errors: REFUSED.size, by: 'filter' }));
    await waitUntil(async () => (await jobCounts(s, jobId)).status === 'COMPLETED');
  });
});
