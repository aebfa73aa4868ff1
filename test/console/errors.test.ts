import { startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { useTestSluice } from '../support/sluice';
import { createExportImportFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { navigateTo, screenshot, signIn, useConsoleBrowser } from './browser';

/**
 * The Errors page speaks the contract's failed-records API (issue #20:
 * jobErrors, retryJobErrors, resolveJobErrors). Against a server that
 * serves it, errors are listed, resolved, retried by filter and retried with
 * an edited record; against one that does not, the page says so and offers
 * no action. Which one this server is, its schema says (as the console's own
 * sign-in finds out).
 */
describe('the console: the Errors page', () => {
  const s = useTestSluice({ engine: true });
  const browser = useConsoleBrowser();
  let api: RecordingApi;
  /** Records the destination refuses (HTTP 422) until the test fixes them. */
  const refused = new Set([2, 3, 4]);

  beforeAll(async () => {
    api = await startRecordingApi({
      orders: [1, 2, 3, 4].map((id) => ({ id, sku: `sku-${id}` })),
      override: (req, res) => {
        if (!req.path.startsWith('/import')) return false;
        const record = JSON.parse(req.body) as { id: number; sku: string };
        const ok = !refused.has(record.id) || record.sku === 'sku-fixed';
        res.writeHead(ok ? 200 : 422, { 'content-type': 'application/json' });
        res.end(ok ? '{}' : '{"error":"unknown sku"}');
        return true;
      },
    });
  });
  afterAll(() => api?.close());

  async function served(): Promise<boolean> {
    const data = await s.ok<{ __type: { fields: { name: string }[] } }>('{ __type(name: "Query") { fields { name } } }');
    return data.__type.fields.some((f) => f.name === 'jobErrors');
  }

  it('lists failed records, resolves the selected one, retries by filter and with an edited record, where the server serves them', async () => {
    const connectionId = await createHttpConnection(s, api.url, { name: 'erp' });
    const flowId = await createExportImportFlow(s, connectionId);
    const jobId = await runFlow(s, flowId);
    expect((await waitForJob(s, jobId)).recordsFailed).toBe(3);
    const { page, errors } = await browser.open(s.url);
    await signIn(page, s.adminSecret);
    await navigateTo(page, 'Errors');

    if (!(await served())) {
      await page.getByText('This server does not serve failed records (jobErrors) yet').waitFor();
      expect(await page.getByRole('button', { name: /Retry|Resolve/ }).count()).toBe(0);
      expect(errors).toEqual([]);
      return;
    }

    const list = page.getByRole('listitem', { name: /^Error / });
    await page.getByText('3 error(s) match; 3 open.').waitFor();
    expect(await list.count()).toBe(3);
    expect(await list.first().textContent()).toContain('HTTP_422');
    await screenshot(page, 'errors');

    // Resolve the error of record 2 (handled outside).
    const two = list.filter({ hasText: '"sku": "sku-2"' });
    await two.getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Resolve', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Resolved 1 error(s).' }).waitFor();
    await page.getByText('2 error(s) match; 2 open.').waitFor();

    // Record 4 is fixed by editing it: only that record is sent again.
    const four = list.filter({ hasText: '"sku": "sku-4"' });
    await four.getByRole('button', { name: 'Edit record and retry' }).click();
    await four.getByLabel('Record to send').fill(JSON.stringify({ id: 4, sku: 'sku-fixed' }));
    await four.getByRole('button', { name: 'Retry with this record' }).click();
    await page.getByRole('status').filter({ hasText: 'Retried 1 error(s).' }).waitFor();
    await page.getByText('1 error(s) match; 1 open.').waitFor();

    // The destination now takes record 3: retry everything the filter matches, its count shown first.
    refused.delete(3);
    await page.getByRole('button', { name: 'Retry all 1 matching' }).click();
    await page.getByRole('status').filter({ hasText: 'Retried 1 error(s).' }).waitFor();
    await page.getByText('0 error(s) match; 0 open.').waitFor();

    const job = await waitForJob(s, jobId);
    expect({ succeeded: job.recordsSucceeded, failed: job.recordsFailed }).toEqual({ succeeded: 3, failed: 1 });
    const imported = api.requests.filter((r) => r.path.startsWith('/import')).map((r) => JSON.parse(r.body) as { id: number; sku: string });
    expect(imported.filter((r) => r.id === 4).map((r) => r.sku)).toEqual(['sku-4', 'sku-fixed']);
    expect(imported.filter((r) => r.id === 2)).toHaveLength(1); // resolved: never sent again
    expect(errors).toEqual([]);
  });
});
