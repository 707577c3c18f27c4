/**
 * Debian's chromium, driven by playwright-core, for the browser tests. The tests never download a browser of their
 * own: `.ci/run` installs the `chromium` package when it is missing, and this helper finds its executable.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** Where Debian puts the chromium binary; `CHROMIUM_PATH` overrides. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/lib/chromium/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => typeof p === 'string' && p !== '' && existsSync(p));
}

/** A headless chromium (playwright gives it a fresh temporary profile), and its cleanup. */
export interface TestBrowser {
  browser: Browser;
  /** A new context (own cookies, storage) with the given viewport (px). */
  newContext(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  close(): Promise<void>;
}

/**
 * Launches Debian's chromium headless, with the flags this sandbox needs (no sandbox as root, no GPU, no
 * background networking: the machine's closed network refuses Google's hosts).
 * @throws Error naming the paths tried when no chromium is installed
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) {
    throw new Error('no chromium found (tried $CHROMIUM_PATH, /usr/bin/chromium, /usr/lib/chromium/chromium): apt-get install chromium');
  }
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  return {
    browser,
    newContext: (viewport = { width: 1280, height: 900 }) => browser.newContext({ viewport }),
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}
