/**
 * The API docs of the local endpoint in Debian's chromium (issue 16): the built worker with `--rp_serve_api` and an
 * API key, the A1111 simulator behind it. `/docs` renders the operations without the key; Authorize with the key,
 * then POST /runsync "Try it out" → Execute with the filled-in example (test_input.json) answers COMPLETED with
 * an `images` array; without the key the same Execute shows the 401. No page requests anything outside the worker's
 * origin (swagger-ui's assets come from its npm package).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startLocalStack, type LocalStack } from '../helpers/local-stack.js';

const KEY = 'docs-browser-key';
/** Deadline of one UI event (rendering, a job on the simulator at 1 ms per step). */
const UI_MS = 30_000;

let stack: LocalStack;
let browser: TestBrowser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startLocalStack({ simArgs: ['--step-ms', '1'], apiKey: KEY }), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** URLs the pages requested outside the worker's origin (data: URLs aside): none, the page works offline. */
const elsewhere: string[] = [];

/** Opens `/docs` in a fresh context and waits for the operations. */
async function openDocs(): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('request', (r) => {
    if (!r.url().startsWith(`${stack.worker.url}/`) && !r.url().startsWith('data:')) elsewhere.push(r.url());
  });
  await page.goto(`${stack.worker.url}/docs`);
  await page.locator('#operations-Jobs-runSync').waitFor({ timeout: UI_MS });
  return page;
}

/** Closes the page's context, after checking that it requested nothing outside the worker. */
async function closePage(page: Page): Promise<void> {
  await page.context().close();
  expect(elsewhere).toEqual([]);
}

/** Expands POST /runsync, "Try it out", Execute (example and defaults as filled in); returns the response cells. */
async function executeRunSync(page: Page): Promise<{ status: string; body: string }> {
  const op = page.locator('#operations-Jobs-runSync');
  await op.locator('.opblock-summary-control').click();
  await op.locator('.try-out__btn').click();
  await op.locator('button.execute').click();
  const row = op.locator('.live-responses-table .response').first();
  await row.waitFor({ timeout: UI_MS });
  const status = (await row.locator('.response-col_status').innerText()).trim();
  const body = await row.locator('.response-col_description').innerText();
  return { status, body };
}

describe('/docs in chromium', () => {
  it('renders every public operation with no API key; /openapi.json needs none either', async () => {
    const page = await openDocs();
    const ids = ['run', 'runSync', 'status', 'statusSync', 'stream', 'cancel', 'retry'].map((id) => `#operations-Jobs-${id}`);
    ids.push('#operations-Endpoint-purgeQueue', '#operations-Endpoint-health');
    for (const id of ids) await expect(page.locator(id).count()).resolves.toBe(1);
    await expect(page.locator('.btn.authorize').count()).resolves.toBe(1);
    const doc = await page.evaluate(async () => (await fetch('/openapi.json')).status);
    expect(doc).toBe(200);
    await closePage(page);
  });

  it('Try it out on POST /runsync without the key shows the 401', async () => {
    const page = await openDocs();
    const { status, body } = await executeRunSync(page);
    expect(status).toBe('401');
    expect(body).toContain('missing API key');
    await closePage(page);
  });

  it('Authorize, then Try it out on POST /runsync with test_input.json → COMPLETED with images', async () => {
    const page = await openDocs();
    await page.locator('.btn.authorize').first().click();
    const modal = page.locator('.modal-ux');
    await modal.locator('input').first().fill(KEY);
    await modal.locator('button.authorize').click();
    await modal.locator('button.btn-done').click();
    const { status, body } = await executeRunSync(page);
    expect(status).toBe('200');
    expect(body).toContain('"status": "COMPLETED"');
    expect(body).toMatch(/"images": \[\s*"iVBORw0KGgo/);
    await closePage(page);
  });
});
