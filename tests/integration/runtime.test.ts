/**
 * The worker runtime (handler/runpod/) against a loopback server speaking RunPod's worker protocol.
 * Handlers here are plain functions: the runtime knows nothing of A1111.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, type Log } from '../../handler/log.js';
import { Heartbeat } from '../../handler/runpod/heartbeat.js';
import { createPlatformClient } from '../../handler/runpod/http.js';
import type { Handler } from '../../handler/runpod/types.js';
import { resolveUrls } from '../../handler/runpod/urls.js';
import { WorkerRuntime } from '../../handler/runpod/worker.js';
import { startPlatform, type Platform } from '../helpers/platform.js';
import { startPingRecorder } from '../helpers/ping-recorder.js';
import { until } from '../helpers/wait.js';
import { Writable } from 'node:stream';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A logger whose lines are kept for assertions. */
function memoryLog(): { log: Log; lines: Array<{ level: string; requestId: string | null; message: string }> } {
  const lines: Array<{ level: string; requestId: string | null; message: string }> = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: createLogger({ level: 'DEBUG', json: true, out }), lines };
}

interface Setup {
  platform: Platform;
  runtime: WorkerRuntime;
  done: Promise<void>;
  lines: Array<{ level: string; requestId: string | null; message: string }>;
  heartbeat: Heartbeat | null;
}

async function setup(handler: Handler, opts: { heartbeatMs?: number; retries?: number; holdMs?: number; pingUrl?: string } = {}): Promise<Setup> {
  const platform = await startPlatform({ holdMs: opts.holdMs ?? 200 });
  const env = platform.env('w42');
  const urls = resolveUrls(
    { getJob: env.RUNPOD_WEBHOOK_GET_JOB, postOutput: env.RUNPOD_WEBHOOK_POST_OUTPUT, postStream: env.RUNPOD_WEBHOOK_POST_STREAM, ping: env.RUNPOD_WEBHOOK_PING },
    'w42',
  );
  const { log, lines } = memoryLog();
  const heartbeat = opts.heartbeatMs
    ? Heartbeat.start({ pingUrl: opts.pingUrl ?? urls.ping, apiKey: 'test-key', podId: 'w42', intervalMs: opts.heartbeatMs, version: '0.1.0', userAgent: 'test' }, log)
    : null;
  const runtime = new WorkerRuntime({
    urls,
    client: createPlatformClient('test-key', 'test-agent'),
    handler,
    retry: { retries: opts.retries ?? 6, minDelayMs: 20, maxDelayMs: 100, timeoutMs: 5000 },
    log,
    identity: { hostname: 'host1', workerId: 'w42', version: '0.1.0' },
    heartbeat,
    throttlePauseMs: 300,
  });
  const done = runtime.run();
  cleanups.push(async () => {
    runtime.stop('test over');
    await done.catch(() => undefined);
    await heartbeat?.stop();
    await platform.close();
  });
  return { platform, runtime, done, lines, heartbeat };
}

describe('job-take → handler → job-done', () => {
  it('posts the result with RunPod headers and URL flags', async () => {
    const { platform, lines } = await setup(async (job) => ({ echo: job.input, id: job.id }));
    platform.enqueue({ id: 'j1-u1', input: { prompt: 'hi' } });
    const rec = await platform.waitForResult('j1-u1');
    expect(rec.body).toEqual({ output: { echo: { prompt: 'hi' }, id: 'j1-u1' } });
    expect(rec.query).toEqual({ gpu: 'NVIDIA H200', isStream: 'false' });
    expect(rec.headers.authorization).toBe('test-key');
    expect(rec.headers['x-request-id']).toBe('j1-u1');
    expect(rec.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(rec.headers.charset).toBe('utf-8');
    const take = platform.records.find((r) => r.kind === 'take' && r.jobId === 'j1-u1')!;
    expect(take.query).toEqual({ gpu: 'NVIDIA H200', job_in_progress: '0' });
    expect(take.headers.authorization).toBe('test-key');
    expect(lines.some((l) => l.message === 'Started.' && l.requestId === 'j1-u1')).toBe(true);
    await until(() => lines.some((l) => l.message === 'Finished.'), 'the "Finished." log line');
    expect(lines.some((l) => l.message === 'Finished.' && l.requestId === 'j1-u1' && l.level === 'INFO')).toBe(true);
  });

  it('turns error / refresh_worker outputs and exceptions into FAILED bodies', async () => {
    const { platform } = await setup(async (job) => {
      if (job.id === 'a') return { error: 'bad input', refresh_worker: true };
      throw new RangeError('kaboom');
    });
    platform.enqueue({ id: 'a', input: {} });
    platform.enqueue({ id: 'b', input: {} });
    expect((await platform.waitForResult('a')).body).toEqual({ error: 'bad input', stopPod: true });
    const b = (await platform.waitForResult('b')).body as { error: string };
    const inner = JSON.parse(b.error);
    expect(inner).toMatchObject({ error_type: "<class 'RangeError'>", error_message: 'kaboom', hostname: 'host1', worker_id: 'w42', runpod_version: '0.1.0' });
  });

  it('runs one job at a time and never takes while a job runs (concurrency 1)', async () => {
    let running = 0;
    let maxRunning = 0;
    const { platform } = await setup(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 150));
      running--;
      return { ok: true };
    });
    for (const id of ['c1', 'c2', 'c3']) platform.enqueue({ id, input: {} });
    await platform.waitForResult('c3');
    expect(maxRunning).toBe(1);
    // Between a job's take and its result, no other take was made.
    for (const id of ['c1', 'c2']) {
      const takeAt = platform.records.find((r) => r.kind === 'take' && r.jobId === id)!.at;
      const doneAt = (await platform.waitForResult(id)).at;
      expect(platform.records.filter((r) => r.kind === 'take' && r.at > takeAt && r.at < doneAt)).toHaveLength(0);
    }
  });
});

describe('job-take answers (protocol spec §4.2)', () => {
  it('survives 204, 400, 429, 5xx, garbage, non-JSON content type and jobs without id/input', async () => {
    const { platform, runtime } = await setup(async (job) => ({ got: job.id }));
    platform.enqueueRaw({ status: 400, body: '' });
    platform.enqueueRaw({ status: 429, body: '' });
    platform.enqueueRaw({ status: 503, body: 'upstream down' });
    platform.enqueueRaw({ status: 200, body: '{not json', contentType: 'application/json' });
    platform.enqueueRaw({ status: 200, body: '{"id":"x","input":{}}', contentType: 'text/plain' });
    platform.enqueueRaw({ status: 200, body: '{"input":{}}' });
    platform.enqueueRaw({ status: 200, body: '{"id":"no-input"}' });
    platform.enqueueRaw({ status: 200, body: 'null' });
    platform.enqueue({ id: 'good', input: { a: 1 } });
    expect((await platform.waitForResult('good')).body).toEqual({ output: { got: 'good' } });
    expect(runtime.stats.takeErrors).toBe(4); // 503, bad JSON, missing id, missing input
    expect(platform.results().map((r) => r.jobId)).toEqual(['good']);
  });

  it('backs off on repeated errors instead of hot-looping (capped at 5 s)', async () => {
    const { platform } = await setup(async () => 'x', { holdMs: 50 });
    platform.fault({ on: 'take', kind: 'status', status: 500, count: 6 });
    const failedTakes = (): number => platform.records.filter((r) => r.kind === 'take' && r.status === 500).length;
    await until(() => failedTakes() >= 5, { what: 'five failed job-takes', state: failedTakes });
    const takes = platform.records.filter((r) => r.kind === 'take');
    // 100, 200, 400, 800 ms of backoff between them, not a hot loop (a slow machine only makes the gaps longer).
    const gaps = takes.slice(1, 5).map((t, i) => t.at - takes[i]!.at);
    gaps.forEach((gap, i) => expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(0.9 * 100 * 2 ** i));
  });

  it('recovers from a reset connection on job-take', async () => {
    const { platform } = await setup(async () => 'ok');
    platform.fault({ on: 'take', kind: 'reset', count: 2 });
    platform.enqueue({ id: 'after-reset', input: {} });
    expect((await platform.waitForResult('after-reset')).body).toEqual({ output: 'ok' });
  });
});

describe('result posts (job-done) are retried and never dropped silently', () => {
  it('retries 5xx, 429 and resets, and the result arrives exactly once', async () => {
    const { platform, runtime } = await setup(async () => ({ v: 1 }));
    platform.fault({ on: 'done', kind: 'status', status: 502, count: 2 });
    platform.fault({ on: 'done', kind: 'status', status: 429, count: 1 });
    platform.fault({ on: 'done', kind: 'reset', count: 1 });
    platform.enqueue({ id: 'r1', input: {} });
    await platform.waitForResult('r1');
    const posts = platform.records.filter((r) => r.kind === 'done' && r.jobId === 'r1');
    expect(posts.map((p) => p.status)).toEqual([502, 502, 429, 0, 200]);
    expect(platform.results().filter((r) => r.jobId === 'r1')).toHaveLength(1);
    await until(() => runtime.stats.completed === 1, 'the job to count as completed');
  });

  it('does not retry a 4xx but posts one FAILED fallback; a give-up is logged with the job id and counted', async () => {
    const { platform, runtime, lines } = await setup(async () => ({ v: 1 }), { retries: 2 });
    platform.fault({ on: 'done', kind: 'status', status: 400, count: 1 });
    platform.enqueue({ id: 'refused-4xx', input: {} });
    expect((await platform.waitForResult('refused-4xx')).body).toMatchObject({ error: expect.stringMatching(/HTTP 400/) });
    platform.fault({ on: 'done', kind: 'status', status: 500, count: 3 });
    platform.enqueue({ id: 'lost-5xx', input: {} });
    platform.enqueue({ id: 'kept', input: {} });
    await platform.waitForResult('kept');
    await until(() => runtime.stats.completed === 1, 'the job to count as completed');
    expect(platform.records.filter((r) => r.kind === 'done' && r.jobId === 'refused-4xx')).toHaveLength(2);
    expect(platform.records.filter((r) => r.kind === 'done' && r.jobId === 'lost-5xx')).toHaveLength(3);
    expect(runtime.stats).toMatchObject({ resultsLost: 1, resultsRefused: 1, failed: 1 });
    const losses = lines.filter((l) => l.level === 'ERROR' && /is lost/.test(l.message));
    expect(losses.map((l) => l.requestId)).toEqual(['lost-5xx']);
  });
});

describe('progress updates (protocol spec §7)', () => {
  it('are posted in order to job-done with status IN_PROGRESS and never after the final result', async () => {
    const { platform } = await setup(async (_job, ctx) => {
      for (let i = 1; i <= 5; i++) ctx.progress({ step: i });
      await new Promise((r) => setTimeout(r, 50));
      ctx.progress({ step: 6 });
      return { final: true };
    });
    platform.fault({ on: 'done', kind: 'status', status: 503, count: 1 }); // the first progress post is slow (retried)
    platform.enqueue({ id: 'p1', input: {} });
    const result = await platform.waitForResult('p1');
    // The worker is back in job-take: nothing of job p1 can come after this.
    await until(() => platform.records.some((r) => r.kind === 'take' && r.at > result.at), 'a job-take after the result');
    const posts = platform.records.filter((r) => r.kind === 'done' && r.jobId === 'p1' && r.status === 200);
    const bodies = posts.map((p) => p.body as { status?: string; output: unknown });
    expect(bodies.at(-1)).toEqual({ output: { final: true } });
    const steps = bodies.filter((b) => b.status === 'IN_PROGRESS').map((b) => (b.output as { step: number }).step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(posts.every((p) => p.query.isStream === 'false')).toBe(true);
  });
});

describe('per-job stop channel (protocol spec §8)', () => {
  it('aborts the running job named on job-stop and posts nothing for it; the next job runs', async () => {
    let aborted: unknown;
    let listening!: () => void;
    const listeningP = new Promise<void>((r) => (listening = r));
    const { platform, runtime, lines } = await setup(async (job, ctx) => {
      if (job.id !== 'cancel-me') return 'next ok';
      const abortedP = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      listening();
      await abortedP;
      aborted = ctx.signal.reason;
      return { late: 'must not be posted' };
    });
    platform.enqueue({ id: 'cancel-me', input: {} });
    await listeningP; // the handler runs and listens for the abort
    platform.stopJob('cancel-me');
    await until(() => runtime.stats.stopped === 1, 'the job to be stopped');
    expect(String(aborted)).toMatch(/stopped by the platform/);
    platform.enqueue({ id: 'next', input: {} });
    expect((await platform.waitForResult('next')).body).toEqual({ output: 'next ok' });
    expect(platform.records.filter((r) => r.kind === 'done' && r.jobId === 'cancel-me')).toEqual([]);
    const stopPoll = platform.records.find((r) => r.kind === 'stop')!;
    expect(stopPoll.url).toBe('/v2/ep1/job-stop/w42?gpu=NVIDIA+H200');
    expect(lines.some((l) => l.message === 'Job stopped.' && l.requestId === 'cancel-me')).toBe(true);
  });
});

describe('stop (SIGTERM/SIGINT drain, protocol spec §11)', () => {
  it('while idle: aborts the in-flight job-take and returns at once', async () => {
    const { platform, runtime, done } = await setup(async () => 'x', { holdMs: 30_000 });
    await until(() => platform.takesInFlight() === 1, 'a job-take held in the long-poll');
    const t0 = performance.now();
    runtime.stop('SIGTERM');
    await done;
    expect(performance.now() - t0).toBeLessThan(5000); // not after the 30 s long-poll
  });

  it('during a job: the job finishes, its result is posted, no further take', async () => {
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const { platform, runtime, done } = await setup(async () => {
      started();
      await new Promise((r) => setTimeout(r, 500));
      return { finished: true };
    });
    platform.enqueue({ id: 's1', input: {} });
    await startedP;
    runtime.stop('SIGTERM');
    await done;
    expect((await platform.waitForResult('s1', 100)).body).toEqual({ output: { finished: true } });
    const resultAt = (await platform.waitForResult('s1')).at;
    expect(platform.records.filter((r) => r.kind === 'take' && r.at > resultAt)).toHaveLength(0);
  });
});

describe('heartbeat (protocol spec §9) from a worker_thread', () => {
  it('pings at once, then every interval, with job_id while a job is held — even while the main thread is blocked', async () => {
    // The ping server runs in its own thread: this test's main thread (worker runtime + handler) is blocked below.
    const rec = await startPingRecorder();
    cleanups.push(() => rec.close());
    let blockedFrom = 0;
    let blockedTo = 0;
    const { platform } = await setup(
      async () => {
        await new Promise((r) => setTimeout(r, 100)); // let the thread learn the job id
        blockedFrom = performance.timeOrigin + performance.now();
        // A CPU-bound handler: the main thread's event loop is blocked until the recorder's thread has seen three
        // more pings (about 3 s), or 15 s at most (then the count below fails).
        const from = rec.count();
        const deadline = Date.now() + 15_000;
        while (rec.count() < from + 3 && Date.now() < deadline) {
          /* blocked */
        }
        blockedTo = performance.timeOrigin + performance.now();
        return 'done';
      },
      { heartbeatMs: 1000, pingUrl: `${rec.url}/v2/ep1/ping/w42?gpu=NVIDIA+H200` },
    );
    await until(() => rec.hits.length > 0, 'the first ping');
    expect(rec.hits[0]!.url).toBe('/v2/ep1/ping/w42?gpu=NVIDIA+H200&runpod_version=0.1.0');
    expect(rec.hits[0]!.authorization).toBe('test-key');
    platform.enqueue({ id: 'busy-1', input: {} });
    const result = await platform.waitForResult('busy-1');
    await until(() => rec.hits.some((h) => h.at > blockedTo), 'a ping after the blocked window');
    const during = rec.hits.filter((h) => h.at >= blockedFrom && h.at <= blockedTo);
    expect(during.length).toBeGreaterThanOrEqual(3);
    for (const p of during) expect(p.url).toContain('&job_id=busy-1&runpod_version=0.1.0');
    for (let i = 1; i < during.length; i++) {
      const gap = during[i]!.at - during[i - 1]!.at;
      expect(gap).toBeGreaterThan(900);
      expect(gap).toBeLessThan(2000);
    }
    await until(() => rec.hits.some((h) => h.at > result.at + 50), 'a ping after the result');
    const after = rec.hits.filter((h) => h.at > result.at + 50);
    expect(after.every((p) => !p.url.includes('job_id'))).toBe(true);
  });

  it('keeps going when the ping endpoint fails', async () => {
    const { platform } = await setup(async () => 'ok', { heartbeatMs: 1000 });
    platform.fault({ on: 'ping', kind: 'status', status: 500, count: 2 });
    platform.enqueue({ id: 'while-ping-down', input: {} });
    expect((await platform.waitForResult('while-ping-down')).body).toEqual({ output: 'ok' });
    await until(() => platform.records.some((r) => r.kind === 'ping' && r.status === 200), 'a ping answered 200 after the two 500s');
    expect(platform.records.filter((r) => r.kind === 'ping').map((r) => r.status).slice(0, 3)).toEqual([500, 500, 200]);
  });
});
