/**
 * The playground at `/` of the local endpoint in Debian's chromium (issue 16): the built worker with
 * `--rp_serve_api`, the A1111 simulator at 100 ms per step behind it (a 20-step image takes ~2 s, long enough to see
 * the progress bar between 0 and 100), progress polled every 100 ms. From a fresh load, Run with the defaults gives
 * a 512×512 image; img2img takes an uploaded image; a refused sampler shows the worker's message and marks the
 * field; Cancel ends a running job CANCELLED; "copy as" holds the same request. The first generation's page is
 * saved as docs/playground.png (the README's screenshot).
 */
import path from 'node:path';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startLocalStack, type LocalStack } from '../helpers/local-stack.js';
import { ROOT } from '../helpers/root.js';

/** Deadline of one UI event (a page load, a job of a few seconds on the simulator). */
const UI_MS = 30_000;
const SCREENSHOT = path.join(ROOT, 'docs', 'playground.png');

let stack: LocalStack;
let browser: TestBrowser;

beforeAll(async () => {
  const simArgs = ['--step-ms', '100'];
  const started = await Promise.all([startLocalStack({ simArgs, env: { PROGRESS_INTERVAL_MS: '100', PREVIEW_INTERVAL_MS: '200' } }), launchBrowser()]);
  [stack, browser] = started;
});

afterAll(async () => {
  await browser?.close();
  // The worker gets SIGTERM and 10 s to exit, then SIGKILL: its graceful stop is tested in tests/e2e, not here.
  const kill = setTimeout(() => stack?.worker.child.kill('SIGKILL'), 10_000);
  await stack?.close();
  clearTimeout(kill);
});

/** Resolves once `expression` (JavaScript run in the page) is truthy; the tests' tsconfig has no DOM types. */
async function waitInPage(page: Page, expression: string): Promise<void> {
  await page.waitForFunction(expression, undefined, { timeout: UI_MS });
}

/** Opens `/` in a fresh context and waits until the sampler list has been read from A1111. */
async function openPlayground(): Promise<Page> {
  const page = await (await browser.newContext({ width: 1280, height: 860 })).newPage();
  await page.goto(`${stack.worker.url}/`);
  await waitInPage(page, `document.querySelectorAll('#samplers option').length > 0`);
  return page;
}

/** Waits for the job's state badge to read `status`. */
async function waitForStatus(page: Page, status: string): Promise<void> {
  await waitInPage(page, `document.getElementById('job-status')?.textContent === ${JSON.stringify(status)}`);
}

/** The natural sizes of the result images, once every one has loaded. */
async function resultSizes(page: Page): Promise<{ w: number; h: number }[]> {
  const images = page.locator('img.result-image');
  await images.first().waitFor({ timeout: UI_MS });
  await waitInPage(page, `[...document.querySelectorAll('img.result-image')].every((i) => i.complete && i.naturalWidth > 0)`);
  return images.evaluateAll((els) => (els as unknown as { naturalWidth: number; naturalHeight: number }[]).map((i) => ({ w: i.naturalWidth, h: i.naturalHeight })));
}

/** A solid-colour PNG of `w`×`h`. */
function png(w: number, h: number): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let i = 0; i < p.data.length; i += 4) p.data.set([40, 120, 200, 255], i);
  return PNG.sync.write(p);
}

/** Fills the form fields (`#id` → text) and presses Run. */
async function runWith(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [id, text] of Object.entries(fields)) await page.fill(`#${id}`, text);
  await page.click('#run');
}

/** Picks `route` and uploads a `size`×`size` PNG as its image; waits for the thumbnail. */
async function chooseImage(page: Page, route: 'img2img' | 'interrogate', size: number): Promise<void> {
  await page.click(`label:has(input[name="route"][value="${route}"])`);
  await page.setInputFiles('#image', { name: `${route}.png`, mimeType: 'image/png', buffer: png(size, size) });
  await page.locator('#image-thumb').waitFor({ timeout: UI_MS });
}

describe('the playground in chromium', () => {
  it('generates with the defaults from a fresh load in one click: the progress bar moves, the 512×512 image appears', async () => {
    const page = await openPlayground();
    await page.click('#run');
    // The bar's value strictly between 0 and 100 with its step line: a progress report of the running job reached
    // the page (one reading of both, as the job may end right after).
    await waitInPage(
      page,
      `(() => { const v = Number(document.getElementById('progress').getAttribute('aria-valuenow'));
        return v > 0 && v < 100 && /step \\d+\\/20/.test(document.getElementById('progress-text').textContent); })()`,
    );
    await waitForStatus(page, 'COMPLETED');
    expect(await resultSizes(page)).toEqual([{ w: 512, h: 512 }]);
    // Live previews came through /stream while it ran (one per PREVIEW_INTERVAL_MS = 200 ms of a ~2 s job).
    expect(Number(await page.locator('#gallery').getAttribute('data-previews'))).toBeGreaterThan(0);
    expect(await page.locator('#progress').getAttribute('aria-valuenow')).toBe('100');
    const download = page.locator('a.download');
    expect(await download.getAttribute('download')).toMatch(/\.png$/);
    expect(await page.locator('#infotext').innerText()).toContain('Steps: 20');
    const states = await page.locator('#history-rows tr td:first-child').allInnerTexts();
    expect(states.at(0)).toBe('IN_QUEUE');
    expect(states.at(-1)).toBe('COMPLETED');
    expect(await page.locator('#history-rows tr:last-child td:nth-child(4)').innerText()).toMatch(/^\d+\.\d\d s$/);
    await waitInPage(page, `document.getElementById('health-summary')?.textContent?.startsWith('worker')`);
    expect(await page.locator('#backends li').allInnerTexts()).toEqual([`${stack.sim.url}/`]);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.context().close();
  });

  it('img2img takes an uploaded image and answers at the requested size', async () => {
    const page = await openPlayground();
    await chooseImage(page, 'img2img', 64);
    await runWith(page, { width: '320', height: '256', steps: '3' });
    await waitForStatus(page, 'COMPLETED');
    expect(await resultSizes(page)).toEqual([{ w: 320, h: 256 }]);
    await page.context().close();
  });

  it('interrogate shows the caption of an uploaded image', async () => {
    const page = await openPlayground();
    await chooseImage(page, 'interrogate', 32);
    expect(await page.locator('#prompt').isVisible()).toBe(false);
    await runWith(page, {});
    await waitForStatus(page, 'COMPLETED');
    expect(await page.locator('#infotext').innerText()).toMatch(/^Caption: \S/);
    await page.context().close();
  });

  it('a refused request shows the worker message and marks the field it names', async () => {
    const page = await openPlayground();
    await runWith(page, { sampler_name: 'Eulerr' });
    await waitForStatus(page, 'FAILED');
    const error = await page.locator('#job-error').innerText();
    expect(error).toContain('sampler_name: "Eulerr" is not an A1111 sampler (did you mean "Euler"?)');
    expect(error).toContain('Refused: check Sampler');
    expect(await page.locator('#sampler_name').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('[aria-invalid="true"]').count()).toBe(1);
    // Editing the form clears the mark.
    await page.fill('#sampler_name', 'Euler');
    expect(await page.locator('[aria-invalid="true"]').count()).toBe(0);
    await page.context().close();
  });

  it('Cancel stops a running job: CANCELLED', async () => {
    const page = await openPlayground();
    await runWith(page, { steps: '150' });
    await waitForStatus(page, 'IN_PROGRESS');
    await page.click('#cancel');
    await waitForStatus(page, 'CANCELLED');
    expect(await page.locator('#history-rows tr:last-child td:first-child').innerText()).toBe('CANCELLED');
    expect(await page.locator('img.result-image').count()).toBe(0);
    await waitInPage(page, `!document.getElementById('run').disabled && document.getElementById('cancel').disabled`);
    await page.context().close();
  });

  it('"copy as" holds the same request for curl, runpod-sdk and runpod-python', async () => {
    const page = await openPlayground();
    await page.fill('#prompt', "it's a test");
    await page.fill('#steps', '7');
    const curl = await page.locator('#snippet').innerText();
    expect(curl).toContain(`curl -X POST ${stack.worker.url}/v2/local/runsync`);
    const body = /-d '(.*)'$/s.exec(curl)![1]!.replace(/'\\''/g, "'");
    expect(JSON.parse(body)).toMatchObject({
      input: { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: "it's a test", steps: 7, width: 512 }, preview: true },
    });
    await page.click('[data-snippet="js"]');
    const js = await page.locator('#snippet').innerText();
    expect(js).toContain(`runpodSdk(process.env.RUNPOD_API_KEY ?? 'local', { baseUrl: "${stack.worker.url}/v2" })`);
    expect(js).toContain('"steps": 7');
    await page.click('[data-snippet="python"]');
    const py = await page.locator('#snippet').innerText();
    expect(py).toContain('endpoint = runpod.Endpoint("local")');
    expect(py).toContain('"preview": True');
    await page.context().close();
  });
});
