/**
 * Query.jobErrors (newest first, paged by `after`, each filter field),
 * Job.errors(state) in occurrence order, and the open-error counts.
 */
import { createFlow, createHttpConnection, runFlow, waitForJob, ORDERS_PAGING } from '../support/flows';
import { allJobErrors, JOB_ERROR_FIELDS, type JobErrorView } from '../support/jobErrors';
import { json, orders, useRecordingApi } from '../support/recordingApi';
import { codeOf, useTestSluice } from '../support/sluice';

const RECORDS = 40;

describe('Query.jobErrors', () => {
  const s = useTestSluice({ engine: true });
  const api = useRecordingApi({ orders: orders(RECORDS) });

  /**
   * Two flows over two connections; in each, odd records fail at the import
   * (HTTP 400, even ones of those with 422): 20 errors per job.
   */
  async function twoFailedJobs() {
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      const { id } = JSON.parse(req.body) as { id: number };
      if (id % 2 === 0) return false;
      json(res, id % 4 === 1 ? 400 : 422, { error: 'no' });
      return true;
    };
    const jobs = [];
    for (const name of ['a', 'b']) {
      const connectionId = await createHttpConnection(s, api.url, { name, concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
      const flow = await createFlow(s, [
        { kind: 'EXPORT', connectionId, config: { path: '/orders', recordsPath: 'data', paging: ORDERS_PAGING } },
        { kind: 'IMPORT', connectionId, config: { path: '/import' } },
      ], name);
      const jobId = await runFlow(s, flow.id);
      expect(await waitForJob(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsFailed: RECORDS / 2 });
      jobs.push({ jobId, flowId: flow.id, connectionId, importStepId: flow.stepIds[1]! });
    }
    return jobs;
  }

  it('pages newest first: each page follows the last id of the one before, and the pages add up to every error once', async () => {
    const [a, b] = await twoFailedJobs();
    const everything = await allJobErrors(s, {}, 500);
    expect(everything).toHaveLength(RECORDS);
    const paged = await allJobErrors(s, {}, 7);
    expect(paged.map((e) => e.id)).toEqual(everything.map((e) => e.id));
    // Newest first: job b's errors (the later job) before job a's, and within a job the reverse of occurrence order.
    expect(everything.slice(0, RECORDS / 2).every((e) => e.job.id === b!.jobId)).toBe(true);
    const inOrder = await s.ok<{ job: { errors: JobErrorView[] } }>(
      `query($id: ID!) { job(id: $id) { errors(first: 500) { ${JOB_ERROR_FIELDS} } } }`, { id: a!.jobId },
    );
    expect(inOrder.job.errors.map((e) => e.id)).toEqual(everything.filter((e) => e.job.id === a!.jobId).map((e) => e.id).reverse());
  });

  it('narrows by flow, job, step, connection, state and code', async () => {
    const [a, b] = await twoFailedJobs();
    const byFlow = await allJobErrors(s, { flowId: a!.flowId });
    expect(byFlow).toHaveLength(RECORDS / 2);
    expect(byFlow.every((e) => e.job.id === a!.jobId)).toBe(true);
    expect((await allJobErrors(s, { jobId: b!.jobId })).every((e) => e.job.id === b!.jobId)).toBe(true);
    expect((await allJobErrors(s, { stepId: b!.importStepId })).map((e) => e.id)).toEqual((await allJobErrors(s, { jobId: b!.jobId })).map((e) => e.id));
    expect((await allJobErrors(s, { connectionId: a!.connectionId })).map((e) => e.id)).toEqual(byFlow.map((e) => e.id));
    const http400 = await allJobErrors(s, { flowId: a!.flowId, code: 'HTTP_400' });
    expect(http400.map((e) => Number(e.record!.id) % 4)).toEqual(new Array(RECORDS / 4).fill(1));
    const [first] = http400;
    await s.ok(`mutation($ids: [ID!]!) { resolveJobErrors(ids: $ids) { id } }`, { ids: [first!.id] });
    expect((await allJobErrors(s, { state: 'RESOLVED' })).map((e) => e.id)).toEqual([first!.id]);
    expect(await allJobErrors(s, { flowId: a!.flowId, state: 'OPEN' })).toHaveLength(RECORDS / 2 - 1);
    const job = await s.ok<{ job: { openErrorCount: number; errors: { id: string }[]; flow: { openErrorCount: number } } }>(
      `query($id: ID!) { job(id: $id) { openErrorCount errors(state: RESOLVED) { id } flow { openErrorCount } } }`, { id: a!.jobId },
    );
    expect(job.job).toEqual({ openErrorCount: RECORDS / 2 - 1, errors: [{ id: first!.id }], flow: { openErrorCount: RECORDS / 2 - 1 } });
  });

  it('refuses first above its bound with BAD_USER_INPUT, and an after or filter id that names nothing with NOT_FOUND', async () => {
    const q = `query($filter: JobErrorFilter, $first: Int, $after: ID) { jobErrors(filter: $filter, first: $first, after: $after) { id } }`;
    expect(codeOf(await s.gql(q, { first: 501 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await s.gql(q, { first: -1 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await s.gql(q, { after: 'nope' }))).toBe('NOT_FOUND');
    expect(codeOf(await s.gql(q, { after: '00000000-0000-4000-8000-000000000000' }))).toBe('NOT_FOUND');
    expect(codeOf(await s.gql(q, { filter: { jobId: 'nope' } }))).toBe('NOT_FOUND');
    expect(codeOf(await s.gql(q, { filter: { stepId: '00000000-0000-4000-8000-000000000000' } }))).toBe('NOT_FOUND');
    const page = await s.gql<{ jobErrors: unknown[] }>(q, { first: 500 });
    expect(page.errors).toBeUndefined();
    expect(Array.isArray(page.data!.jobErrors)).toBe(true);
  });
});
