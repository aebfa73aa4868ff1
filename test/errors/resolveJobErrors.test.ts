/**
 * resolveJobErrors: OPEN → RESOLVED with who and when, all or nothing; the
 * records stay counted as failed, the open-error counts drop.
 */
import { createExportImportFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { allJobErrors, jobCounts, JOB_ERROR_FIELDS, RefusingSink, type JobErrorView } from '../support/jobErrors';
import { orders, useRecordingApi } from '../support/recordingApi';
import { codeOf, useTestSluice } from '../support/sluice';

const REFUSED = new Set([2, 4, 6, 8]);
const RESOLVE = `mutation($ids: [ID!]!) { resolveJobErrors(ids: $ids) { ${JOB_ERROR_FIELDS} } }`;

describe('resolveJobErrors', () => {
  const logLines: string[] = [];
  const s = useTestSluice({ engine: true, logLines });
  const api = useRecordingApi({ orders: orders(20) });

  async function failedJob(): Promise<{ jobId: string; flowId: string; errors: JobErrorView[] }> {
    api.options.override = new RefusingSink(REFUSED).override;
    const connectionId = await createHttpConnection(s, api.url, { concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const flowId = await createExportImportFlow(s, connectionId);
    const jobId = await runFlow(s, flowId);
    expect(await waitForJob(s, jobId)).toMatchObject({ status: 'COMPLETED', recordsFailed: REFUSED.size });
    return { jobId, flowId, errors: await allJobErrors(s, { jobId, state: 'OPEN' }) };
  }

  it('closes OPEN errors as RESOLVED with the token name and time; recordsFailed keeps them, openErrorCount drops', async () => {
    const { jobId, errors } = await failedJob();
    const manage = await s.token('MANAGE');
    const { viewer } = await s.ok<{ viewer: { tokenName: string } }>(`{ viewer { tokenName } }`, {}, manage);
    const before = Date.now();
    const data = await s.ok<{ resolveJobErrors: JobErrorView[] }>(RESOLVE, { ids: [errors[0]!.id, errors[1]!.id] }, manage);
    expect(data.resolveJobErrors.map((e) => e.id).sort()).toEqual([errors[0]!.id, errors[1]!.id].sort());
    for (const e of data.resolveJobErrors) {
      expect(e).toMatchObject({ state: 'RESOLVED', closedBy: viewer.tokenName });
      expect(Date.parse(e.closedAt!)).toBeGreaterThanOrEqual(before - 1000);
    }
    expect(await jobCounts(s, jobId)).toMatchObject({
      status: 'COMPLETED', recordsFailed: REFUSED.size, recordsSucceeded: 20 - REFUSED.size, openErrorCount: REFUSED.size - 2,
      flow: { openErrorCount: REFUSED.size - 2 },
    });
    expect(await allJobErrors(s, { jobId, state: 'RESOLVED' })).toHaveLength(2);
    const logged = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'job errors resolved');
    expect(logged).toContainEqual(expect.objectContaining({ tokenName: viewer.tokenName, errors: 2 }));
  });

  it('refuses an error that is not OPEN with BAD_USER_INPUT, an unknown or malformed id with NOT_FOUND, and then changes nothing', async () => {
    const { jobId, errors } = await failedJob();
    await s.ok(RESOLVE, { ids: [errors[0]!.id] });
    const cases: [string[], string][] = [
      [[errors[1]!.id, errors[0]!.id], 'BAD_USER_INPUT'],
      [[errors[1]!.id, '00000000-0000-4000-8000-000000000000'], 'NOT_FOUND'],
      [[errors[1]!.id, 'nope'], 'NOT_FOUND'],
      [[], 'BAD_USER_INPUT'],
    ];
    for (const [ids, code] of cases) expect({ ids, code: codeOf(await s.gql(RESOLVE, { ids })) }).toEqual({ ids, code });
    expect((await allJobErrors(s, { jobId, state: 'OPEN' })).map((e) => e.id).sort()).toEqual(errors.slice(1).map((e) => e.id).sort());
    expect(await jobCounts(s, jobId)).toMatchObject({ openErrorCount: REFUSED.size - 1 });
    // A RESOLVED error cannot be retried either.
    expect(codeOf(await s.gql(`mutation($ids: [ID!]) { retryJobErrors(ids: $ids) { id } }`, { ids: [errors[0]!.id] }))).toBe('BAD_USER_INPUT');
  });

  it('is FORBIDDEN to MONITOR, which changes nothing', async () => {
    const { jobId, errors } = await failedJob();
    const monitor = await s.token('MONITOR');
    expect(codeOf(await s.gql(RESOLVE, { ids: [errors[0]!.id] }, monitor))).toBe('FORBIDDEN');
    expect(await allJobErrors(s, { jobId, state: 'OPEN' })).toHaveLength(REFUSED.size);
    expect(await jobCounts(s, jobId)).toMatchObject({ openErrorCount: REFUSED.size });
  });
});
