/**
 * Fail fast when A1111 exits (issue 7 item 1): with `A1111_PID` known, the readiness wait stops as soon as that
 * process is gone — also when it lingers as a zombie, as it does under `start.sh` (A1111 is a child of the exec'd
 * worker, which never reaps it) — instead of waiting out `A1111_READY_TIMEOUT_S`; a call that finds A1111
 * unreachable says that the process exited.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Error, A1111ExitedError } from '../../handler/errors/index.js';
import { isProcessAlive } from '../../handler/a1111/process.js';
import { loadConfig } from '../../handler/config.js';
import { createLogger, type Log } from '../../handler/log.js';

function quietLog(): { log: Log; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { log: createLogger({ level: 'DEBUG', json: false, out }), text: () => text };
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs a process that exits at once, waits until it is reaped, and returns its (now free) PID. */
async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'process.exit(0)'], { stdio: 'ignore' });
  await new Promise((r) => child.on('exit', r));
  await new Promise((r) => setImmediate(r));
  return child.pid!;
}

function client(port: number, env: Record<string, string>): { a1111: A1111Client; text: () => string } {
  const cfg = loadConfig([], { A1111_URL: `http://127.0.0.1:${port}`, A1111_READY_INTERVAL_MS: '50', ...env });
  const { log, text } = quietLog();
  return { a1111: new A1111Client(cfg.a1111, log), text };
}

describe('isProcessAlive', () => {
  it('is true for a running process, false for an exited one and for ids that cannot be processes', async () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(await exitedPid())).toBe(false);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(isProcessAlive(bad)).toBe(false);
  });

  it.skipIf(!existsSync('/proc/self/stat'))('is false for a zombie (exited, never reaped by its parent)', async () => {
    // bash starts `sleep 0.05` in the background, prints its PID, then becomes `sleep 5`, which never waits for it:
    // the short sleep exits and stays a zombie child, as A1111 does under the worker that start.sh execs.
    const parent = spawn('bash', ['-c', 'sleep 0.05 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((r) => parent.stdout.once('data', (d: Buffer) => r(d.toString().trim()))));
      const deadline = Date.now() + 5000;
      while (isProcessAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(isProcessAlive(pid)).toBe(false);
      expect(() => process.kill(pid, 0)).not.toThrow(); // still there as a zombie: kill(pid, 0) alone would call it alive
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('A1111Client with A1111_PID', () => {
  let port: number;
  beforeAll(async () => {
    port = await closedPort();
  });

  it('waitReady stops at once when the A1111 process has exited, instead of waiting out A1111_READY_TIMEOUT_S', async () => {
    const pid = await exitedPid();
    const { a1111 } = client(port, { A1111_PID: String(pid), A1111_READY_TIMEOUT_S: '60' });
    const t0 = performance.now();
    const err = await a1111.waitReady().catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(5000); // at once, not after A1111_READY_TIMEOUT_S=60
    expect(err).toBeInstanceOf(A1111ExitedError);
    expect(err).toBeInstanceOf(A1111Error);
    expect((err as A1111ExitedError).pid).toBe(pid);
    expect((err as Error).message).toMatch(new RegExp(`^A1111 process ${pid} exited; `));
    expect((err as A1111Error).kind).toBe('unreachable');
  });

  it('waitReady notices an exit that happens while it waits', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 700)'], { stdio: 'ignore' });
    const { a1111 } = client(port, { A1111_PID: String(child.pid), A1111_READY_TIMEOUT_S: '60' });
    const t0 = performance.now();
    const err = await a1111.waitReady().catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(A1111ExitedError);
    expect(ms).toBeGreaterThan(500); // it waited while the process ran…
    expect(ms).toBeLessThan(5000); // …and stopped soon after it exited (not after A1111_READY_TIMEOUT_S=60)
  });

  it('while the process runs, the usual deadline applies; without A1111_PID nothing changes', async () => {
    const live = client(port, { A1111_PID: String(process.pid), A1111_READY_TIMEOUT_S: '1' });
    await expect(live.a1111.waitReady()).rejects.toThrow(/not ready after 1 s \(A1111_READY_TIMEOUT_S\)/);
    const none = client(port, { A1111_READY_TIMEOUT_S: '1' });
    expect(none.a1111.config.pid).toBeUndefined();
    expect(none.a1111.exitedPid()).toBeNull();
    await expect(none.a1111.waitReady()).rejects.toThrow(/not ready after 1 s/);
  });

  it('waitReady still succeeds when A1111 answers, the process being alive', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/sdapi/v1/sd-models' ? 200 : 404, { 'Content-Type': 'application/json' });
      res.end('[]');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { a1111 } = client((server.address() as AddressInfo).port, { A1111_PID: String(process.pid) });
      expect(await a1111.waitReady()).toBeGreaterThanOrEqual(0);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('a call that finds A1111 unreachable names the exited process', async () => {
    const pid = await exitedPid();
    const { a1111 } = client(port, { A1111_PID: String(pid) });
    const err = await a1111.call('GET', '/sdapi/v1/sd-models').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(A1111Error);
    expect((err as A1111Error).kind).toBe('unreachable');
    expect((err as Error).message).toMatch(new RegExp(`^A1111 unreachable on GET /sdapi/v1/sd-models: ECONNREFUSED: .*; A1111 process ${pid} exited$`));
    expect(a1111.needsReadyCheck).toBe(true);
    // The next job-take waits for readiness first (main.ts beforeTake), and that wait fails fast.
    await expect(a1111.waitReady()).rejects.toBeInstanceOf(A1111ExitedError);
  });

});
