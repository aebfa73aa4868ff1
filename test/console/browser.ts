/**
 * A real headless Chromium for a test file (from the npm registry:
 * @sparticuz/chromium, driven by playwright-core): launched once before the
 * file's tests, closed after them. Each test opens a page in a fresh browser
 * context (its own sessionStorage); everything a page logs as an error, and
 * every uncaught exception, is collected so a test can say there was none.
 */
import { chromium as playwright, type Browser, type BrowserContext, type Page } from 'playwright-core';

export interface ConsolePage {
  page: Page;
  /** console.error messages and uncaught exceptions, in order. */
  errors: string[];
}

export interface ConsoleBrowser {
  /** A page at `url` in a new context; `viewport` defaults to 1280×800. */
  open(url: string, viewport?: { width: number; height: number }): Promise<ConsolePage>;
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function useConsoleBrowser(): ConsoleBrowser {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    // Its args are tuned for serverless hosts; --single-process would end the
    // whole browser with the first context a test closes.
    // An ES module: loaded with import(), which TypeScript allows from CommonJS.
    const { default: chromium } = await import('@sparticuz/chromium');
    const args = chromium.args.filter((a) => a !== '--single-process');
    browser = await playwright.launch({ executablePath: await chromium.executablePath(), args, headless: true });
  }, 60000);
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    async open(url, viewport = DESKTOP) {
      if (!browser) throw new Error('useConsoleBrowser: used before its beforeAll launched the browser');
      const context = await browser.newContext({ viewport });
      contexts.push(context);
      context.setDefaultTimeout(15000);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
      await page.goto(url);
      return { page, errors };
    },
  };
}

/** Signs in through the form and waits for the first page. */
export async function signIn(page: Page, secret: string): Promise<void> {
  await page.getByLabel('API token').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
}

/** Goes to a page of the console through its navigation, as a user would. */
export async function navigateTo(page: Page, link: 'Connections' | 'Flows' | 'Errors' | 'Tokens'): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).click();
  await page.getByRole('heading', { name: link, level: 1 }).waitFor();
}

/** The text of the cell under column `column` in the row whose name contains `row` (the first table on the page). */
export async function cellText(page: Page, row: string, column: string): Promise<string> {
  const headers = await page.getByRole('columnheader').allTextContents();
  const index = headers.indexOf(column);
  if (index < 0) throw new Error(`no column "${column}" among ${headers.join(', ')}`);
  return (await page.getByRole('row', { name: row }).first().locator('th, td').nth(index).textContent()) ?? '';
}

/** Waits until `read` returns a value `accept` accepts; returns it (the condition, not a sleep). */
export async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 15000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (accept(last)) return last;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Screenshots for the README (docs/console-*.png), taken when CONSOLE_SCREENSHOTS=1; `npm test` leaves docs/ alone. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.CONSOLE_SCREENSHOTS !== '1') return;
  await page.screenshot({ path: `docs/console-${name}.png`, fullPage: true });
}
