/**
 * The unhealthy report (`handler/runpod/platform/unhealthy.ts`) against real loopback servers: what one report sends
 * (runpod-python `rp_fitness._report_unhealthy`: one GET, `status`, `check`, `reason[:256]`, `runpod_version`, raw
 * `Authorization`), that it is bounded by 2 s against a server that never answers, and that it never throws.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Log } from '../../handler/log.js';
import { reportUnhealthy, UNHEALTHY_REPORT_TIMEOUT_MS } from '../../handler/runpod/platform/unhealthy.js';
import { closedPort } from '../helpers/fixtures.js';

interface Hit {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A loopback server that records requests and answers `status`, or never answers when `hang`. */
async function server(opts: { status?: number; hang?: boolean } = {}): Promise<{ url: string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = [];
  const srv = http.createServer((req, res) => {
    hits.push({ method: req.method!, url: req.url!, headers: req.headers });
    if (opts.hang) return; // keep the socket open, answer nothing
    res.statusCode = opts.status ?? 200;
    res.end('');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

/** A Log that keeps its lines. */
function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('reportUnhealthy', () => {
  it('sends one GET to the ping URL with status, check, reason and runpod_version (in that order) and the raw key', async () => {
    const s = await server();
    closers.push(s.close);
    const log = recordingLog();
    const out = await reportUnhealthy(
      { pingUrl: `${s.url}/v2/ep1/ping/w42?gpu=NVIDIA+H200`, apiKey: 'KEY-1', version: '1.12.0', userAgent: 'ua/1' },
      'disk',
      'StartupCheckError: /tmp has 0.50 GiB free, MIN_FREE_DISK_GB=1 GiB required',
      log,
    );
    expect(out).toEqual({ sent: true, status: 200 });
    expect(s.hits).toHaveLength(1);
    expect(s.hits[0]!.method).toBe('GET');
    expect(s.hits[0]!.url).toBe(
      '/v2/ep1/ping/w42?gpu=NVIDIA+H200&status=unhealthy&check=disk&reason=StartupCheckError%3A+%2Ftmp+has+0.50+GiB+free%2C+MIN_FREE_DISK_GB%3D1+GiB+required&runpod_version=1.12.0',
    );
    expect(s.hits[0]!.headers.authorization).toBe('KEY-1');
    expect(s.hits[0]!.headers['user-agent']).toBe('ua/1');
    expect(log.lines).toContain('DEBUG Unhealthy report sent (check=disk) | Status: 200');
  });

  it('cuts the reason to 256 characters (code points, as Python slices) and never retries a 5xx', async () => {
    const s = await server({ status: 503 });
    closers.push(s.close);
    const reason = `${'é'.repeat(250)}${'😀'.repeat(10)}`;
    const out = await reportUnhealthy({ pingUrl: `${s.url}/ping/w`, apiKey: 'k', version: '1.12.0', userAgent: 'ua' }, 'a1111_ready', reason, recordingLog());
    expect(out).toEqual({ sent: true, status: 503 });
    expect(s.hits).toHaveLength(1);
    const sent = new URL(s.hits[0]!.url, 'http://x').searchParams.get('reason')!;
    expect(Array.from(sent)).toHaveLength(256);
    expect(sent).toBe(`${'é'.repeat(250)}${'😀'.repeat(6)}`);
  });

  it('a server that never answers: abandoned after 2 s, resolves (no throw), logged as a warning', async () => {
    const s = await server({ hang: true });
    closers.push(s.close);
    const log = recordingLog();
    const t0 = performance.now();
    const out = await reportUnhealthy({ pingUrl: `${s.url}/ping/w`, apiKey: 'k', version: '1.12.0', userAgent: 'ua' }, 'a1111_exited', 'x', log);
    const ms = performance.now() - t0;
    expect(out).toEqual({ sent: false, why: `no answer within ${UNHEALTHY_REPORT_TIMEOUT_MS} ms` });
    expect(s.hits).toHaveLength(1);
    expect(ms).toBeGreaterThanOrEqual(UNHEALTHY_REPORT_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(UNHEALTHY_REPORT_TIMEOUT_MS + 1000);
    expect(log.lines).toContain(`WARN Unhealthy report (check=a1111_exited) failed: no answer within ${UNHEALTHY_REPORT_TIMEOUT_MS} ms`);
  });

  it('connection refused: resolves with the cause, no throw', async () => {
    const port = await closedPort();
    const out = await reportUnhealthy({ pingUrl: `http://127.0.0.1:${port}/ping/w`, apiKey: 'k', version: '1.12.0', userAgent: 'ua' }, 'gpu', 'x', recordingLog());
    expect(out).toEqual({ sent: false, why: 'fetch failed (ECONNREFUSED)' });
  });

  it('sends nothing without a ping URL (or the SDK placeholder PING_NOT_SET) or without an API key, as runpod-python', async () => {
    const s = await server();
    closers.push(s.close);
    const base = { version: '1.12.0', userAgent: 'ua' };
    expect(await reportUnhealthy({ ...base, pingUrl: null, apiKey: 'k' }, 'disk', 'x', recordingLog())).toEqual({ sent: false, why: 'RUNPOD_WEBHOOK_PING is not set' });
    expect(await reportUnhealthy({ ...base, pingUrl: 'PING_NOT_SET', apiKey: 'k' }, 'disk', 'x', recordingLog())).toEqual({ sent: false, why: 'RUNPOD_WEBHOOK_PING is not set' });
    expect(await reportUnhealthy({ ...base, pingUrl: `${s.url}/ping/w`, apiKey: undefined }, 'disk', 'x', recordingLog())).toEqual({ sent: false, why: 'RUNPOD_AI_API_KEY is not set' });
    expect(await reportUnhealthy({ ...base, pingUrl: `${s.url}/ping/w`, apiKey: '' }, 'disk', 'x', recordingLog())).toEqual({ sent: false, why: 'RUNPOD_AI_API_KEY is not set' });
    expect(s.hits).toEqual([]);
  });
});
