import { useTestSluice } from '../support/sluice';
import { createHttpConnection, createFlow } from '../support/flows';
// page.evaluate is given expressions as strings: they run in the browser, whose globals this file's types do not have.
import { DESKTOP, PHONE, navigateTo, screenshot, signIn, useConsoleBrowser } from './browser';

/** What a refused token costs in the browser's console: the 401 of its sign-in request, nothing else. */
const refusedRequest = /status of 401/;

describe('the console: signing in and roles', () => {
  const s = useTestSluice();
  const browser = useConsoleBrowser();
  let connectionId = '';
  let flowId = '';

  beforeAll(async () => {
    connectionId = await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'orders-api' });
    flowId = (
      await createFlow(s, [
        { kind: 'EXPORT', connectionId, config: { path: '/orders' } },
        { kind: 'IMPORT', connectionId, config: { path: '/import' } },
      ], 'orders to erp')
    ).id;
  });

  it('signs in with a good token, keeps it in sessionStorage only, and lands on Connections', async () => {
    const { page, errors } = await browser.open(s.url);
    await screenshot(page, 'sign-in');
    await signIn(page, s.adminSecret);
    expect(await page.getByRole('columnheader').allTextContents()).toEqual(['Name', 'Application', 'State', 'Queue size', 'In flight', 'Concurrency']);
    await page.getByRole('row', { name: /orders-api/ }).waitFor();
    expect(await page.evaluate('sessionStorage.getItem("sluice.apiToken")')).toBe(s.adminSecret);
    expect(await page.evaluate('JSON.stringify(localStorage)')).not.toContain(s.adminSecret);
    expect(await page.evaluate('document.cookie')).toBe('');
    // A reload keeps the tab signed in; signing out forgets the token.
    await page.reload();
    await page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate('sessionStorage.getItem("sluice.apiToken")')).toBeNull();
    expect(errors).toEqual([]);
  });

  it('says so when the token is wrong, and stays on the sign-in form', async () => {
    const { page, errors } = await browser.open(s.url);
    await page.getByLabel('API token').fill('not-a-token-of-this-server');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/This API token was refused: .*\(UNAUTHENTICATED\)/);
    expect(await page.getByRole('heading', { name: 'Connections' }).count()).toBe(0);
    expect(await page.evaluate('sessionStorage.getItem("sluice.apiToken")')).toBeNull();
    expect(errors.filter((e) => !refusedRequest.test(e))).toEqual([]);
  });

  it('shows a MONITOR every page with no enabled action and no Tokens', async () => {
    const monitor = await s.token('MONITOR');
    const { page, errors } = await browser.open(s.url);
    await signIn(page, monitor);
    const enabledActions = async (): Promise<string[]> => {
      const names: string[] = [];
      for (const button of await page.getByRole('button').all()) {
        if (await button.isEnabled()) names.push((await button.textContent()) ?? '');
      }
      // Signing out is leaving, not acting on Sluice.
      return names.filter((n) => n !== 'Sign out');
    };
    await page.getByRole('row', { name: /orders-api/ }).waitFor();
    expect(await enabledActions()).toEqual([]);
    expect(await page.getByRole('link', { name: 'Tokens' }).count()).toBe(0);

    await page.getByRole('link', { name: 'orders-api' }).click();
    await page.getByRole('heading', { name: 'orders-api', level: 1 }).waitFor();
    expect(await page.getByRole('button', { name: 'Save', exact: true }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Test connection' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Pause', exact: true }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Resume', exact: true }).isDisabled()).toBe(true);
    expect(await page.getByLabel('Pause reason (optional)').isDisabled()).toBe(true);
    expect(await page.getByLabel('Concurrency level', { exact: true }).isDisabled()).toBe(true);
    expect(await enabledActions()).toEqual([]);

    await navigateTo(page, 'Flows');
    await page.getByRole('link', { name: 'orders to erp' }).click();
    await page.getByRole('heading', { name: 'orders to erp', level: 1 }).waitFor();
    expect(await page.getByRole('button', { name: 'Run' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Replace connection' }).isDisabled()).toBe(true);
    expect(await enabledActions()).toEqual([]);

    await navigateTo(page, 'Errors');
    expect(await enabledActions()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('shows Tokens to ADMINISTER only: the secret once, and revoke', async () => {
    const manage = await s.token('MANAGE');
    const asManager = await browser.open(s.url);
    await signIn(asManager.page, manage);
    expect(await asManager.page.getByRole('link', { name: 'Tokens' }).count()).toBe(0);
    expect(await asManager.page.getByRole('link', { name: 'New connection' }).count()).toBe(1);

    const { page, errors } = await browser.open(s.url);
    await signIn(page, s.adminSecret);
    await navigateTo(page, 'Tokens');
    await page.getByLabel('Token name').fill('dashboard');
    await page.getByLabel('Role').selectOption('MONITOR');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByLabel('New token secret').textContent()) ?? '';
    const viewer = await s.ok<{ viewer: { tokenName: string; role: string } }>('{ viewer { tokenName role } }', {}, secret);
    expect(viewer.viewer).toEqual({ tokenName: 'dashboard', role: 'MONITOR' });
    await screenshot(page, 'tokens');

    await page.getByRole('button', { name: 'Revoke dashboard' }).click();
    await page.getByRole('button', { name: 'Revoke dashboard' }).waitFor({ state: 'detached' });
    expect((await s.gql('{ viewer { role } }', {}, secret)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(errors).toEqual([]);
  });

  it('fits a phone: the connections table scrolls inside its box, the page does not', async () => {
    const { page, errors } = await browser.open(s.url, PHONE);
    await signIn(page, s.adminSecret);
    await page.getByRole('row', { name: /orders-api/ }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'phone');
    expect(errors).toEqual([]);
  });

  it('reaches every control by keyboard: Tab from the sign-in field to the button, Enter signs in', async () => {
    const { page, errors } = await browser.open(s.url, DESKTOP);
    await page.keyboard.type(s.adminSecret); // the token field has focus on load
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Sign in');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    // Tab walks the navigation in order.
    const focused: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      focused.push(await page.evaluate<string>("document.activeElement?.textContent ?? ''"));
    }
    expect(focused).toEqual(['Connections', 'Flows', 'Errors', 'Tokens', 'API explorer', 'Sign out']);
    expect(errors).toEqual([]);
  });

  it('serves the API explorer at /graphql with the console token: it loads the schema, runs a query and a subscription', async () => {
    const { page, errors } = await browser.open(s.url);
    await signIn(page, s.adminSecret);
    await page.getByRole('link', { name: 'API explorer' }).click();
    await page.waitForURL(/\/graphql$/);
    await page.getByRole('button', { name: /Execute query/ }).click();
    await page.locator('.result-window').getByText('orders-api').first().waitFor();
    await page.getByRole('button', { name: /Show Documentation Explorer/ }).click();
    // The docs list the root types once the introspection answered.
    await page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().waitFor();
    await page.locator('.graphiql-doc-explorer').getByText('Subscription', { exact: true }).first().waitFor();
    await screenshot(page, 'explorer');

    // A subscription runs over graphql-ws with the same token: the first queueSize event shows.
    await page.evaluate(
      `document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(${JSON.stringify(
        `subscription { queueSize(connectionIds: ["${connectionId}"]) { connectionId queueSize inFlight } }`,
      )})`,
    );
    await page.getByRole('button', { name: /Execute query/ }).click();
    await page.locator('.result-window').getByText(`"connectionId": "${connectionId}"`).waitFor();
    expect(errors).toEqual([]);
    expect(flowId).not.toBe('');
  });
});
