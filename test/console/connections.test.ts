import { startRecordingApi, type RecordingApi } from '../support/recordingApi';
import { useTestSluice } from '../support/sluice';
import { createExportImportFlow, createHttpConnection, waitForJob } from '../support/flows';
import { cellText, eventually, navigateTo, screenshot, signIn, useConsoleBrowser } from './browser';

/** A gate a request waits at until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const ORDERS = Array.from({ length: 30 }, (_, i) => ({ id: i + 1 }));

describe('the console: connections and flows', () => {
  const s = useTestSluice({ engine: true });
  const browser = useConsoleBrowser();
  let api: RecordingApi;
  let other: RecordingApi;
  // Imports 1–15 wait at the first gate, 16–30 at the second: the queue builds up, then drains in two steps.
  const first = gate();
  const second = gate();
  let imports = 0;

  beforeAll(async () => {
    api = await startRecordingApi({
      orders: ORDERS,
      override: async (req, res) => {
        if (!req.path.startsWith('/import')) return false;
        imports += 1;
        await (imports <= 15 ? first.wait : second.wait);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return true;
      },
    });
    other = await startRecordingApi();
  });
  afterAll(async () => {
    first.open();
    second.open();
    await api?.close();
    await other?.close();
  });

  it('shows the queue size rising and falling live during a run started from the console, and the job counts live', async () => {
    const connectionId = await createHttpConnection(s, api.url, { name: 'orders-api', concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
    const flowId = await createExportImportFlow(s, connectionId);
    await s.ok(`mutation($id: ID!, $name: String) { updateFlow(id: $id, input: { name: $name }) { id } }`, { id: flowId, name: 'orders to erp' });
    const { page, errors } = await browser.open(s.url);
    await signIn(page, s.adminSecret);
    await navigateTo(page, 'Flows');
    await page.getByRole('link', { name: 'orders to erp' }).click();
    await page.getByRole('heading', { name: 'orders to erp', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByRole('row', { name: /^Job / }).first().waitFor();

    await navigateTo(page, 'Connections');
    // 30 imports at level 1: the first is held at the API, the other 29 wait in the queue.
    await eventually(() => cellText(page, 'orders-api', 'Queue size'), (t) => Number(t) === 29, 'the queue to build up to 29');
    expect(await cellText(page, 'orders-api', 'In flight')).toBe('1');
    expect(await cellText(page, 'orders-api', 'Concurrency')).toBe('1');
    await screenshot(page, 'connections');
    // Nothing reloads this page from here on: only the queueSize subscription can change it.
    first.open();
    await eventually(() => cellText(page, 'orders-api', 'Queue size'), (t) => Number(t) === 14, 'the queue to fall to 14 (the 16th import held)');

    await navigateTo(page, 'Flows');
    await page.getByRole('link', { name: 'orders to erp' }).click();
    const job = page.getByRole('row', { name: /^Job / }).first();
    await eventually(async () => (await job.locator('td').allTextContents()).slice(1, 5), (t) => t[0] === 'RUNNING' && t[2] === '15', 'the job RUNNING with 15 succeeded');
    await screenshot(page, 'flow');
    second.open();
    await eventually(async () => (await job.locator('td').allTextContents()).slice(1, 5), (t) => t.join() === 'COMPLETED,30,30,0', 'the job COMPLETED with 30 succeeded');

    await navigateTo(page, 'Connections');
    await eventually(() => cellText(page, 'orders-api', 'Queue size'), (t) => t === '0', 'the queue to drain');
    expect(await cellText(page, 'orders-api', 'In flight')).toBe('0');
    const jobs = await s.ok<{ flow: { jobs: { id: string }[] } }>(`query($id: ID!) { flow(id: $id) { jobs { id } } }`, { id: flowId });
    expect((await waitForJob(s, jobs.flow.jobs[0]!.id)).recordsSucceeded).toBe(30);
    expect(errors).toEqual([]);
  });

  it('cancels a running job from its flow’s page', async () => {
    const held = gate();
    const slow = await startRecordingApi({
      orders: ORDERS,
      override: async (req, res) => {
        if (!req.path.startsWith('/import')) return false;
        await held.wait;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return true;
      },
    });
    try {
      const connectionId = await createHttpConnection(s, slow.url, { name: 'slow-api', concurrencyLevel: 1, autoRecoverRateLimitErrors: false });
      const flowId = await createExportImportFlow(s, connectionId);
      const { page, errors } = await browser.open(s.url);
      await signIn(page, s.adminSecret);
      await page.goto(`${s.url}/#/flows/${flowId}`);
      await page.getByRole('button', { name: 'Run' }).click();
      const job = page.getByRole('row', { name: /^Job / }).first();
      await eventually(async () => (await job.locator('td').nth(1).textContent()) ?? '', (t) => t === 'RUNNING', 'the job RUNNING');
      await job.getByRole('button', { name: 'Cancel' }).click();
      await eventually(async () => (await job.locator('td').nth(1).textContent()) ?? '', (t) => t === 'CANCELED', 'the job CANCELED');
      const jobs = await s.ok<{ flow: { jobs: { status: string }[] } }>(`query($id: ID!) { flow(id: $id) { jobs { status } } }`, { id: flowId });
      expect(jobs.flow.jobs.map((j) => j.status)).toEqual(['CANCELED']);
      expect(await job.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      held.open();
      await slow.close();
    }
  });

  it('sets a level, auto-recovery with a target, and borrowing from the connection page, as the API then reads them', async () => {
    const a = await createHttpConnection(s, other.url, { name: 'crm-a', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const b = await createHttpConnection(s, other.url, { name: 'crm-b', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    await createHttpConnection(s, 'http://127.0.0.2:9', { name: 'elsewhere' });
    const read = async (id: string) =>
      (
        await s.ok<{ connection: { concurrencyLevel: number | null; autoRecoverRateLimitErrors: boolean; targetConcurrencyLevel: number | null; borrowConcurrencyFrom: { id: string } | null } }>(
          `query($id: ID!) { connection(id: $id) { concurrencyLevel autoRecoverRateLimitErrors targetConcurrencyLevel borrowConcurrencyFrom { id } } }`,
          { id },
        )
      ).connection;
    const { page, errors } = await browser.open(s.url);
    await signIn(page, s.adminSecret);
    await page.getByRole('link', { name: 'crm-a' }).click();
    await page.getByRole('heading', { name: 'crm-a', level: 1 }).waitFor();
    const save = async (): Promise<void> => {
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    };

    await page.getByLabel('Concurrency level', { exact: true }).fill('5');
    await save();
    expect(await read(a)).toMatchObject({ concurrencyLevel: 5, autoRecoverRateLimitErrors: false });

    await page.getByLabel('Concurrency level', { exact: true }).fill('');
    await save();
    expect((await read(a)).concurrencyLevel).toBeNull(); // empty: burst mode

    await page.getByLabel('Auto-recover rate-limit errors').check();
    await page.getByLabel('Target concurrency level').fill('7');
    await save();
    expect(await read(a)).toMatchObject({ autoRecoverRateLimitErrors: true, targetConcurrencyLevel: 7 });
    await screenshot(page, 'connection');

    await page.goto(`${s.url}/#/connections/${b}`);
    await page.getByRole('heading', { name: 'crm-b', level: 1 }).waitFor();
    const lenders = await page.getByLabel('Borrow concurrency from').locator('option').allTextContents();
    expect(lenders).toEqual(['Nobody (its own queue)', 'crm-a']); // the same application only
    await page.getByLabel('Borrow concurrency from').selectOption({ label: 'crm-a' });
    await save();
    expect((await read(b)).borrowConcurrencyFrom).toEqual({ id: a });
    await navigateTo(page, 'Connections');
    await page.getByRole('row', { name: /crm-b borrows from crm-a/ }).waitFor();

    // An API error is shown with its message and code: crm-a borrowing from its borrower is a cycle.
    await page.getByRole('link', { name: 'crm-a' }).click();
    await page.getByRole('heading', { name: 'crm-a', level: 1 }).waitFor();
    await page.getByLabel('Borrow concurrency from').selectOption({ label: 'crm-b' });
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    expect(await page.getByRole('alert').filter({ hasText: 'BAD_USER_INPUT' }).textContent()).toMatch(/cycle|borrow/i);
    expect((await read(a)).borrowConcurrencyFrom).toBeNull();
    expect(errors).toEqual([]);
  });

  it('pauses with a reason and resumes a connection from its page, as the API then reads it, and the Connections table shows it live', async () => {
    const id = await createHttpConnection(s, other.url, { name: 'warehouse' });
    const read = async (): Promise<{ state: string; stateReason: string | null }> =>
      (await s.ok<{ connection: { state: string; stateReason: string | null } }>(`query($id: ID!) { connection(id: $id) { state stateReason } }`, { id })).connection;
    // One page watches the table (never reloaded), the other acts.
    const watching = await browser.open(s.url);
    await signIn(watching.page, s.adminSecret);
    expect(await cellText(watching.page, 'warehouse', 'State')).toBe('ONLINE');
    const { page, errors } = await browser.open(s.url);
    await signIn(page, s.adminSecret);
    await page.getByRole('link', { name: 'warehouse' }).click();
    await page.getByRole('heading', { name: 'warehouse', level: 1 }).waitFor();
    expect(await page.getByRole('button', { name: 'Resume', exact: true }).isDisabled()).toBe(true);

    await page.getByLabel('Pause reason (optional)').fill('stock count');
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await eventually(read, (c) => c.state === 'PAUSED', 'the API to say PAUSED');
    expect(await read()).toEqual({ state: 'PAUSED', stateReason: 'stock count' });
    await page.getByText('stock count', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Resume', exact: true }).and(page.locator(':enabled')).waitFor();
    await eventually(() => cellText(watching.page, 'warehouse', 'State'), (t) => t === 'PAUSED', 'the State column to say PAUSED');

    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await eventually(read, (c) => c.state === 'ONLINE', 'the API to say ONLINE');
    expect(await read()).toEqual({ state: 'ONLINE', stateReason: null });
    await page.getByRole('button', { name: 'Resume', exact: true }).and(page.locator(':disabled')).waitFor();
    await eventually(() => cellText(watching.page, 'warehouse', 'State'), (t) => t === 'ONLINE', 'the State column to say ONLINE');
    expect(errors).toEqual([]);
    expect(watching.errors).toEqual([]);
  });

  it('shows a pause and a resume made elsewhere on the connection page live, with the pause’s reason', async () => {
    const id = await createHttpConnection(s, other.url, { name: 'paused elsewhere' });
    const { page, errors } = await browser.open(s.url);
    await signIn(page, s.adminSecret);
    await page.goto(`${s.url}/#/connections/${id}`);
    await page.getByRole('heading', { name: 'paused elsewhere', level: 1 }).waitFor();
    await s.ok(`mutation($id: ID!) { pauseConnection(id: $id, reason: "by the API") { id } }`, { id });
    // The live state, then the reason read again for it.
    await page.getByText('by the API', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Pause', exact: true }).isDisabled()).toBe(true);
    await s.ok(`mutation($id: ID!) { resumeConnection(id: $id) { id } }`, { id });
    await page.getByRole('button', { name: 'Pause', exact: true }).and(page.locator(':enabled')).waitFor();
    expect(await page.getByText('by the API', { exact: true }).count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('replaces a flow’s connection with another of the same application, warning that its jobs are canceled', async () => {
    const erp = await startRecordingApi();
    try {
      await replaceThrough(erp);
    } finally {
      await erp.close();
    }
  });

  async function replaceThrough(erp: RecordingApi): Promise<void> {
    const from = await createHttpConnection(s, erp.url, { name: 'erp-old' });
    const to = await createHttpConnection(s, erp.url, { name: 'erp-new' });
    await createHttpConnection(s, 'http://127.0.0.3:9', { name: 'erp-elsewhere' });
    const flowId = await createExportImportFlow(s, from);
    await s.ok(`mutation($id: ID!) { updateFlow(id: $id, input: { name: "erp sync" }) { id } }`, { id: flowId });
    const { page, errors } = await browser.open(s.url);
    await signIn(page, s.adminSecret);
    await page.goto(`${s.url}/#/flows/${flowId}`);
    await page.getByRole('heading', { name: 'erp sync', level: 1 }).waitFor();
    await page.getByLabel('Connection to replace').selectOption({ label: 'erp-old' });
    expect(await page.getByLabel('New connection').locator('option').allTextContents()).toEqual([
      `Choose a connection of ${new URL(erp.url).origin}`,
      'erp-new',
    ]);
    await page.getByLabel('New connection').selectOption({ label: 'erp-new' });
    const button = page.getByRole('button', { name: 'Replace connection' });
    expect(await page.locator(`#${await button.getAttribute('aria-describedby')}`).textContent()).toMatch(/queued and running job of this flow will be canceled/);
    await button.click();
    await page.getByRole('status').filter({ hasText: 'Replaced 2 step(s); canceled 0 job(s).' }).waitFor();
    const steps = await s.ok<{ flow: { steps: { connection: { id: string } }[] } }>(`query($id: ID!) { flow(id: $id) { steps { connection { id } } } }`, { id: flowId });
    expect(steps.flow.steps.map((st) => st.connection.id)).toEqual([to, to]);
    expect(errors).toEqual([]);
  }

  it('creates a connection from the form the connector’s schemas generate, credentials write-only, and tests it', async () => {
    const { page, errors } = await browser.open(s.url);
    await signIn(page, s.adminSecret);
    await page.getByRole('link', { name: 'New connection' }).click();
    await page.getByRole('heading', { name: 'New connection', level: 1 }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('billing');
    await page.getByLabel('baseUrl').fill(`${other.url}/v1`);
    await page.getByLabel('timeoutMs').fill('5000');
    await page.getByLabel('Credentials type').selectOption('bearer');
    await page.getByLabel('token').fill('tok-secret-123');
    await screenshot(page, 'new-connection');
    await page.getByRole('button', { name: 'Create connection' }).click();
    await page.getByRole('heading', { name: 'billing', level: 1 }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).hash.split('/').pop() ?? '');
    const stored = await s.ok<{ connection: { config: unknown; hasCredentials: boolean } }>(`query($id: ID!) { connection(id: $id) { config hasCredentials } }`, { id });
    expect(stored.connection).toEqual({ config: { baseUrl: `${other.url}/v1`, timeoutMs: 5000 }, hasCredentials: true });
    expect(await page.content()).not.toContain('tok-secret-123');
    expect(await page.getByLabel('token').count()).toBe(0); // the edit form starts with no credentials type chosen

    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByRole('status').filter({ hasText: /^OK/ }).waitFor();
    expect(other.requests.some((r) => r.headers.authorization === 'Bearer tok-secret-123')).toBe(true);
    expect(errors).toEqual([]);
  });
});
