/**
 * The playground on an endpoint with an API key (`RUNPOD_API_KEY`), in Debian's chromium: the page itself loads
 * without the key and asks for it; with a wrong key Run shows the endpoint's 401; with the right one the lists are
 * read and a job completes; "copy as" sends the key from `$RUNPOD_API_KEY`.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startLocalStack, type LocalStack } from '../helpers/local-stack.js';

const KEY = 'playground-browser-key';
/** Deadline of one UI event (a page load, a job on the simulator at 1 ms per step). */
const UI_MS = 30_000;

let env: { stack: LocalStack; browser: TestBrowser } | undefined;

beforeAll(async () => {
  const [stack, browser] = await Promise.all([startLocalStack({ simArgs: ['--step-ms', '1'], apiKey: KEY }), launchBrowser()]);
  env = { stack, browser };
});

afterAll(async () => {
  await env?.browser.close();
  // SIGTERM first; SIGKILL if the worker has not exited 10 s later (its graceful stop is not what this file tests).
  const killer = setTimeout(() => env?.stack.worker.child.kill('SIGKILL'), 10_000);
  await env?.stack.close();
  clearTimeout(killer);
});

/** Resolves once `expression` (JavaScript run in the page) is truthy; the tests' tsconfig has no DOM types. */
const waitInPage = (page: Page, expression: string): Promise<unknown> => page.waitForFunction(expression, undefined, { timeout: UI_MS });

/** Types `key` into the key field and leaves it (its `change` event re-reads the lists). */
async function enterKey(page: Page, key: string): Promise<void> {
  await page.fill('#api-key', key);
  await page.press('#api-key', 'Tab');
}

describe('the playground with an API key', () => {
  it('asks for the key, refuses a wrong one with the endpoint 401, and runs a job with the right one', async () => {
    const page = await (await env!.browser.newContext()).newPage();
    await page.goto(`${env!.stack.worker.url}/`);
    await page.locator('#api-key').waitFor({ timeout: UI_MS });
    await waitInPage(page, `document.getElementById('lists-status')?.textContent?.includes('enter the API key')`);
    expect(await page.locator('#snippet').innerText()).toContain('-H "Authorization: Bearer $RUNPOD_API_KEY"');

    await enterKey(page, 'wrong');
    await page.fill('#steps', '3');
    await page.click('#run');
    await page.locator('#job-error').waitFor({ timeout: UI_MS });
    expect(await page.locator('#job-error').innerText()).toContain('401: invalid API key');

    await enterKey(page, KEY);
    await waitInPage(page, `document.querySelectorAll('#samplers option').length > 0`);
    await page.click('#run');
    await waitInPage(page, `document.getElementById('job-status')?.textContent === 'COMPLETED'`);
    expect(await page.locator('img.result-image').count()).toBe(1);
    await waitInPage(page, `document.getElementById('health-summary')?.textContent?.startsWith('worker')`);
    await page.context().close();
  });
});
