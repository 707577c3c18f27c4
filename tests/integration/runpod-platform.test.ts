/**
 * The wire alone: `createHttpPlatform` (handler/runpod/) against a loopback server that answers as scripted and
 * records each request — job-take (batch), job-done / job-stream posts with their retries, job-stop, the heartbeat
 * thread. The loop that uses it is tested on an in-memory platform (runtime.test.ts).
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLog, type Log } from '../../handler/log.js';
import { createHttpPlatform, type Platform } from '../../handler/runpod/index.js';
import { memoryLog } from '../helpers/memory-platform.js';
import { startPingRecorder } from '../helpers/ping-recorder.js';
import { until } from '../helpers/wait.js';

type Kind = 'take' | 'done' | 'stream' | 'stop' | 'ping';
/** A scripted answer: a status with body, or a reset connection. */
type Answer = { status: number; body?: string; contentType?: string } | 'reset';
interface Hit {
  kind: Kind;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
  at: number;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A loopback server for RunPod's worker routes; unscripted requests get 204 (polls) or 200 (posts, pings). */
async function startWire(): Promise<{ url: string; hits: Hit[]; script(kind: Kind, ...answers: Answer[]): void }> {
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  const hits: Hit[] = [];
  const scripts = new Map<Kind, Answer[]>();
  const route = (kind: Kind) => async (req: FastifyRequest, reply: FastifyReply) => {
    const next = scripts.get(kind)?.shift();
    const hit = { kind, url: req.url, headers: req.headers, body: typeof req.body === 'string' ? req.body : '', at: performance.now() };
    if (next === 'reset') {
      hits.push({ ...hit, status: 0 });
      req.raw.socket.destroy();
      return reply;
    }
    const status = next?.status ?? (kind === 'take' || kind === 'stop' ? 204 : 200);
    hits.push({ ...hit, status });
    return reply.code(status).type(next?.contentType ?? 'application/json').send(next?.body ?? '');
  };
  app.get('/v2/ep1/job-take/:wid', route('take'));
  app.get('/v2/ep1/job-take-batch/:wid', route('take'));
  app.post('/v2/ep1/job-done/:wid/:jobId', route('done'));
  app.post('/v2/ep1/job-stream/:wid/:jobId', route('stream'));
  app.get('/v2/ep1/job-stop/:wid', route('stop'));
  app.get('/v2/ep1/ping/:wid', route('ping'));
  await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => app.close());
  const addr = app.server.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    hits,
    script: (kind, ...answers) => scripts.set(kind, [...(scripts.get(kind) ?? []), ...answers]),
  };
}

function platformFor(url: string, opts: { pingUrl?: string; pingIntervalMs?: number; log?: Log } = {}): Platform {
  return createHttpPlatform({
    templates: {
      getJob: `${url}/v2/ep1/job-take/$ID?gpu=NVIDIA+H200`,
      postOutput: `${url}/v2/ep1/job-done/$RUNPOD_POD_ID/$ID?gpu=NVIDIA+H200`,
      postStream: `${url}/v2/ep1/job-stream/$RUNPOD_POD_ID/$ID?gpu=NVIDIA+H200`,
      ping: opts.pingUrl ?? `${url}/v2/ep1/ping/$RUNPOD_POD_ID?gpu=NVIDIA+H200`,
    },
    workerId: 'w42',
    apiKey: 'test-key',
    podId: 'w42',
    userAgent: 'test-agent',
    retry: { retries: 6, minDelayMs: 20, maxDelayMs: 100, timeoutMs: 5000 },
    pingIntervalMs: opts.pingIntervalMs ?? 1000,
    log: opts.log ?? silentLog,
    takeTimeoutMs: 2000,
  });
}

const never = new AbortController().signal;

describe('job-take', () => {
  it('sends the raw key and User-Agent; one job on job-take, several on job-take-batch', async () => {
    const wire = await startWire();
    const p = platformFor(wire.url);
    wire.script('take', { status: 200, body: '{"id":"j1","input":{"a":1}}' }, { status: 200, body: '[{"id":"j2","input":{}},{"id":"j3","input":{}}]' });
    expect(await p.take(1, false, never)).toEqual({ kind: 'jobs', jobs: [{ id: 'j1', input: { a: 1 } }], malformed: [] });
    expect(await p.take(3, true, never)).toMatchObject({ kind: 'jobs', jobs: [{ id: 'j2' }, { id: 'j3' }] });
    expect(wire.hits.map((h) => h.url)).toEqual(['/v2/ep1/job-take/w42?gpu=NVIDIA+H200&job_in_progress=0', '/v2/ep1/job-take-batch/w42?gpu=NVIDIA+H200&batch_size=3&job_in_progress=1']);
    expect(wire.hits[0]!.headers).toMatchObject({ authorization: 'test-key', 'user-agent': 'test-agent' });
  });

  it('reads 204, 400, 429, 5xx, garbage, non-JSON content type, missing id/input and resets', async () => {
    const wire = await startWire();
    const p = platformFor(wire.url);
    wire.script(
      'take',
      { status: 204 },
      { status: 400 },
      { status: 429 },
      { status: 503, body: 'upstream down', contentType: 'text/plain' },
      { status: 200, body: '{not json' },
      { status: 200, body: '{"id":"x","input":{}}', contentType: 'text/plain' },
      { status: 200, body: '{"input":{}}' },
      { status: 200, body: 'null' },
      'reset',
    );
    const kinds: string[] = [];
    for (let i = 0; i < 9; i++) {
      const o = await p.take(1, false, never);
      kinds.push(o.kind === 'error' ? `error: ${o.message.slice(0, 25)}` : o.kind);
    }
    expect(kinds).toEqual([
      'empty',
      'empty',
      'throttled',
      'error: job-take answered HTTP 50',
      'error: job-take answered with a ',
      'empty',
      'error: Job has missing field(s):',
      'empty',
      expect.stringMatching(/^error: (ECONNRESET|ERR_|Error)/),
    ]);
  });

  it('an aborted long-poll is no job', async () => {
    const wire = await startWire();
    const p = platformFor(wire.url);
    const ac = new AbortController();
    ac.abort();
    expect(await p.take(1, false, ac.signal)).toEqual({ kind: 'empty' });
  });
});

describe('job-done and job-stream posts', () => {
  it('RunPod headers and URL flags; 5xx, 429 and resets retried; the result arrives once', async () => {
    const wire = await startWire();
    const { log, lines } = memoryLog();
    const p = platformFor(wire.url, { log });
    wire.script('done', { status: 502 }, { status: 502 }, { status: 429 }, 'reset');
    const out = await p.done('r1', [Buffer.from('{"output":'), Buffer.from('{"v":1}}')], false);
    expect(out).toEqual({ ok: true, attempts: 5 });
    // Numbered across the first attempt (made without p-retry) and the retries, as one sequence.
    expect(lines.filter((l) => l.level === 'WARN').map((l) => /attempt \d+, \d+ retries left/.exec(l.message)?.[0])).toEqual([
      'attempt 1, 6 retries left',
      'attempt 2, 5 retries left',
      'attempt 3, 4 retries left',
      'attempt 4, 3 retries left',
    ]);
    expect(wire.hits.map((h) => h.status)).toEqual([502, 502, 429, 0, 200]);
    const last = wire.hits.at(-1)!;
    expect(last.url).toBe('/v2/ep1/job-done/w42/r1?gpu=NVIDIA+H200&isStream=false');
    expect(last.body).toBe('{"output":{"v":1}}');
    expect(last.headers).toMatchObject({ authorization: 'test-key', 'x-request-id': 'r1', 'content-type': 'application/x-www-form-urlencoded', charset: 'utf-8' });
  });

  it('a 4xx is not retried; its status comes back for the fallback', async () => {
    const wire = await startWire();
    const p = platformFor(wire.url);
    wire.script('done', { status: 400 });
    expect(await p.done('big', [Buffer.from('{}')], true)).toMatchObject({ ok: false, attempts: 1, status: 400 });
    expect(wire.hits[0]!.url).toBe('/v2/ep1/job-done/w42/big?gpu=NVIDIA+H200&isStream=true');
  });

  it('progress goes to job-done, stream chunks to job-stream (isStream=false)', async () => {
    const wire = await startWire();
    const p = platformFor(wire.url);
    await p.progress('p1', Buffer.from('{"status":"IN_PROGRESS","output":1}'));
    await p.stream('p1', Buffer.from('{"output":2}'));
    expect(wire.hits.map((h) => [h.kind, h.url, h.body])).toEqual([
      ['done', '/v2/ep1/job-done/w42/p1?gpu=NVIDIA+H200&isStream=false', '{"status":"IN_PROGRESS","output":1}'],
      ['stream', '/v2/ep1/job-stream/w42/p1?gpu=NVIDIA+H200&isStream=false', '{"output":2}'],
    ]);
  });
});

describe('job-stop', () => {
  it('polls the job-stop URL derived from job-take and reads jobsToStop', async () => {
    const wire = await startWire();
    const p = platformFor(wire.url);
    expect(p.hasStopChannel).toBe(true);
    wire.script('stop', { status: 200, body: '{"jobsToStop":["a",7,"b"]}' }, { status: 429 }, { status: 500 });
    expect(await p.stopSignals(never)).toEqual({ kind: 'ids', ids: ['a', 'b'] });
    expect(await p.stopSignals(never)).toEqual({ kind: 'throttled' });
    expect(await p.stopSignals(never)).toEqual({ kind: 'error', message: 'job-stop answered HTTP 500' });
    expect(await p.stopSignals(never)).toEqual({ kind: 'empty' });
    expect(wire.hits[0]!.url).toBe('/v2/ep1/job-stop/w42?gpu=NVIDIA+H200');
  });
});

describe('heartbeat from a worker_thread', () => {
  it('pings at once, then every interval, with job_id while a job is held — even while the main thread is blocked', async () => {
    // The ping server runs in its own thread: this test's main thread is blocked below.
    const rec = await startPingRecorder();
    cleanups.push(() => rec.close());
    const hb = platformFor('http://127.0.0.1:1', { pingUrl: `${rec.url}/v2/ep1/ping/$RUNPOD_POD_ID?gpu=NVIDIA+H200` }).startHeartbeat()!;
    cleanups.push(() => hb.stop());
    await until(() => rec.hits.length > 0, 'the first ping');
    expect(rec.hits[0]!.url).toBe('/v2/ep1/ping/w42?gpu=NVIDIA+H200&runpod_version=1.12.0');
    expect(rec.hits[0]!.authorization).toBe('test-key');
    hb.setJobs(['busy-1']);
    await until(() => rec.hits.some((h) => h.url.includes('job_id=busy-1')), 'a ping with the held job');
    // CPU-bound: the main thread's event loop is blocked until the recorder's thread has seen three more pings.
    const blockedFrom = performance.timeOrigin + performance.now();
    const from = rec.count();
    const deadline = Date.now() + 15_000;
    while (rec.count() < from + 3 && Date.now() < deadline) {
      /* blocked */
    }
    const blockedTo = performance.timeOrigin + performance.now();
    hb.setJobs([]);
    await until(() => rec.hits.some((h) => h.at > blockedTo && !h.url.includes('job_id')), 'a ping without a job after the blocked window');
    const during = rec.hits.filter((h) => h.at >= blockedFrom && h.at <= blockedTo);
    expect(during.length).toBeGreaterThanOrEqual(3);
    for (const h of during) expect(h.url).toContain('&job_id=busy-1&runpod_version=1.12.0');
    for (let i = 1; i < during.length; i++) {
      const gap = during[i]!.at - during[i - 1]!.at;
      expect(gap).toBeGreaterThan(900);
      expect(gap).toBeLessThan(2000);
    }
  });

  it('keeps going when the ping endpoint fails', async () => {
    const wire = await startWire();
    wire.script('ping', { status: 500 }, { status: 500 });
    const hb = platformFor(wire.url).startHeartbeat()!;
    cleanups.push(() => hb.stop());
    await until(() => wire.hits.some((h) => h.kind === 'ping' && h.status === 200), 'a ping answered 200 after the two 500s');
    expect(wire.hits.filter((h) => h.kind === 'ping').map((h) => h.status).slice(0, 3)).toEqual([500, 500, 200]);
  });
});
