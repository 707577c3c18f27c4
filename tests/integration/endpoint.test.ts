/**
 * The local RunPod endpoint emulator (handler/endpoint/) over real loopback HTTP: the public API driven with plain
 * fetch and with `runpod-sdk` unchanged, the worker side played by hand exactly as the worker runtime speaks the
 * worker protocol (raw-key Authorization, job-done bodies as raw JSON labelled form-urlencoded; docs/runpod-protocol.md,
 * "HTTP client conventions (all worker→platform traffic)").
 *
 * Every test starts its own endpoint on an ephemeral port and runs concurrently with the others, so the slow
 * policy tests (ttl ≥ 10 s, executionTimeout ≥ 5 s, as the platform's minimums require) overlap the rest.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type ExpectStatic } from 'vitest';
import runpodSdk from 'runpod-sdk';
import { startEndpoint, type EndpointOptions, type LocalEndpoint } from '../../handler/endpoint/index.js';
import { sleep, until } from '../helpers/wait.js';

type Json = Record<string, unknown>;

interface Answer {
  status: number;
  json: Json;
  text: string;
  contentType: string | null;
}

/** Starts an endpoint with test-friendly holds; closed when the test finishes. */
async function start(onFinished: (fn: () => Promise<void>) => void, opts: EndpointOptions = {}): Promise<LocalEndpoint> {
  const ep = await startEndpoint({ port: 0, takeHoldMs: 300, streamHoldMs: 300, ...opts });
  onFinished(() => ep.close());
  return ep;
}

async function toAnswer(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: Json = {};
  try {
    json = text ? (JSON.parse(text) as Json) : {};
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text, contentType: res.headers.get('content-type') };
}

/** A public-API call with plain fetch, as curl would make it. */
async function api(ep: LocalEndpoint, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { 'Content-Type': 'application/json', ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return toAnswer(await fetch(`${ep.url}${path.startsWith('/') ? path : `/v2/local/${path}`}`, init));
}

/**
 * Plays a worker: the URLs come from `workerEnv()` and are filled in the way the runtime fills them
 * (docs/runpod-protocol.md, "Process entry and mode selection").
 */
class FakeWorker {
  private readonly env: ReturnType<LocalEndpoint['workerEnv']>;
  constructor(
    ep: LocalEndpoint,
    readonly id: string,
  ) {
    this.env = ep.workerEnv();
  }
  private get takeUrl(): string {
    return this.env.RUNPOD_WEBHOOK_GET_JOB.split('$ID').join(this.id);
  }
  private doneUrl(template: string, jobId: string, isStream: boolean): string {
    return `${template.split('$RUNPOD_POD_ID').join(this.id).split('$ID').join(jobId)}&isStream=${isStream}`;
  }
  private async get(url: string, signal?: AbortSignal): Promise<Answer> {
    return toAnswer(await fetch(url, { headers: { Authorization: 'worker-key', 'Content-Type': 'application/json' }, ...(signal ? { signal } : {}) }));
  }
  /** GET job-take (`job_in_progress=0`). */
  take(signal?: AbortSignal): Promise<Answer> {
    return this.get(`${this.takeUrl}&job_in_progress=0`, signal);
  }
  /** GET job-take-batch with `batch_size` first (runpod-python `rp_job.py` `_job_get_url`). */
  takeBatch(n: number): Promise<Answer> {
    return this.get(`${this.takeUrl.replace('/job-take/', '/job-take-batch/')}&batch_size=${n}&job_in_progress=0`);
  }
  /** GET job-stop: the job-take URL with `/job-stop/` and no extra query (runpod-python `rp_job.py` `get_stop_signals`). */
  stop(): Promise<Answer> {
    return this.get(this.takeUrl.replace('/job-take/', '/job-stop/'));
  }
  ping(): Promise<Answer> {
    return this.get(`${this.env.RUNPOD_WEBHOOK_PING.split('$RUNPOD_POD_ID').join(this.id)}&runpod_version=1.12.0`);
  }
  /** POST job-done with a raw JSON body labelled form-urlencoded (runpod-python `rp_http.py` `_transmit`). */
  async done(jobId: string, raw: string | Json, isStream = false): Promise<Answer> {
    return this.post(this.doneUrl(this.env.RUNPOD_WEBHOOK_POST_OUTPUT, jobId, isStream), jobId, raw);
  }
  /** POST job-stream `{"output": chunk}` with `isStream=false` (docs/runpod-protocol.md, "Streaming (generator handlers)"). */
  async stream(jobId: string, chunk: unknown): Promise<Answer> {
    return this.post(this.doneUrl(this.env.RUNPOD_WEBHOOK_POST_STREAM, jobId, false), jobId, { output: chunk });
  }
  private async post(url: string, jobId: string, raw: string | Json): Promise<Answer> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { Authorization: 'worker-key', 'Content-Type': 'application/x-www-form-urlencoded', charset: 'utf-8', 'X-Request-ID': jobId },
      body: typeof raw === 'string' ? raw : JSON.stringify(raw),
    });
    return toAnswer(res);
  }
}

/** Takes jobs in a loop and answers each with `handle` until the test finishes. */
function autoWorker(
  ep: LocalEndpoint,
  id: string,
  onFinished: (fn: () => Promise<void>) => void,
  handle: (w: FakeWorker, job: { id: string; input: Json }) => Promise<void>,
): FakeWorker {
  const w = new FakeWorker(ep, id);
  const ac = new AbortController();
  const loop = (async () => {
    while (!ac.signal.aborted) {
      const r = await w.take(ac.signal).catch(() => null);
      if (r?.status === 200) await handle(w, r.json as { id: string; input: Json });
    }
  })();
  onFinished(async () => {
    ac.abort();
    await loop;
  });
  return w;
}

const sdkEndpoint = (ep: LocalEndpoint, key = 'key') => runpodSdk(key, { baseUrl: `${ep.url}/v2` }).endpoint('local')!;

describe.concurrent('local RunPod endpoint emulator', () => {
  it('ttl: a queued and a running job are deleted when it runs out (404); the running one goes to job-stop', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const w = new FakeWorker(ep, 'w-ttl');
    const t0 = Date.now(); // both ttls start after this
    const running = await api(ep, 'POST', 'run', { input: { n: 1 }, policy: { ttl: 10_000 } });
    const queued = await api(ep, 'POST', 'run', { input: { n: 2 }, policy: { ttl: 10_000, executionTimeout: 60_000 } });
    expect((await w.take()).json.id).toBe(running.json.id);
    await sleep(8_000); // (pacing: well before the ttl; a slow machine only shortens the 2 s margin)
    expect((await api(ep, 'GET', `status/${running.json.id}`)).json.status).toBe('IN_PROGRESS');
    expect((await api(ep, 'GET', `status/${queued.json.id}`)).json.status).toBe('IN_QUEUE');
    await until(async () => (await api(ep, 'GET', `status/${queued.json.id}`)).status === 404, { everyMs: 50, what: 'the queued job to expire' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(10_000);
    expect(await api(ep, 'GET', `status/${running.json.id}`)).toMatchObject({ status: 404, json: { error: `job ${running.json.id} not found` } });
    expect(await w.stop()).toMatchObject({ status: 200, json: { jobsToStop: [running.json.id] } });
    // The worker's late result is acknowledged and ignored.
    expect((await w.done(running.json.id as string, { output: 'late' })).status).toBe(200);
    expect((await w.take()).status).toBe(204);
  });

  it('executionTimeout: TIMED_OUT, the id is sent on job-stop once, a late job-done is ignored, retry re-queues', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const w = new FakeWorker(ep, 'w-slow');
    const { json } = await api(ep, 'POST', 'run', { input: { slow: true }, policy: { executionTimeout: 5_000 } });
    const id = json.id as string;
    const t0 = Date.now();
    expect((await w.take()).json.id).toBe(id);
    const s = await api(ep, 'GET', `status-sync/${id}?wait=8000`);
    const took = Date.now() - t0;
    expect(s.json).toMatchObject({ id, status: 'TIMED_OUT', workerId: 'w-slow' });
    expect(took).toBeGreaterThanOrEqual(4_900);
    expect(took).toBeLessThan(7_500); // (the status-sync wait of 8 s would answer IN_PROGRESS)
    expect(s.json.executionTime as number).toBeGreaterThanOrEqual(5_000);
    expect(await w.stop()).toMatchObject({ status: 200, json: { jobsToStop: [id] } });
    expect((await w.stop()).status).toBe(204); // delivered once
    expect(await w.done(id, { output: 'too late' })).toMatchObject({ status: 200 });
    expect((await api(ep, 'GET', `status/${id}`)).json).not.toHaveProperty('output');
    expect(await api(ep, 'POST', `retry/${id}`)).toMatchObject({ status: 200, json: { id, status: 'IN_QUEUE' } });
    expect((await w.take()).json).toEqual({ id, input: { slow: true } });
  });

  it('executionTimeoutDefaultMs applies to jobs without a policy', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished, { executionTimeoutDefaultMs: 600 });
    const w = new FakeWorker(ep, 'w1');
    const { json } = await api(ep, 'POST', 'run', { input: {} });
    const t0 = Date.now();
    await w.take();
    await until(async () => (await api(ep, 'GET', `status/${json.id}`)).json.status === 'TIMED_OUT', { everyMs: 25, what: 'TIMED_OUT' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    expect((await w.stop()).json).toEqual({ jobsToStop: [json.id] });
  });

  it('run → take → progress → done: IN_QUEUE, IN_PROGRESS with progress, COMPLETED with times and workerId', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const w = new FakeWorker(ep, 'pod-7');
    const run = await api(ep, 'POST', 'run', { input: { prompt: 'a cat' }, webhook: 'http://127.0.0.1:9/hook', s3Config: { bucketName: 'b' } });
    expect(run.status).toBe(200);
    expect(run.json).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}-u1$/), status: 'IN_QUEUE' });
    const id = run.json.id as string;
    expect((await api(ep, 'GET', `status/${id}`)).json).toEqual({ id, status: 'IN_QUEUE' });
    await sleep(120);

    const take = await w.take();
    expect(take.status).toBe(200);
    expect(take.contentType).toMatch(/^application\/json/);
    expect(take.json).toEqual({ id, input: { prompt: 'a cat' }, webhook: 'http://127.0.0.1:9/hook', s3Config: { bucketName: 'b' } });
    let s = await api(ep, 'GET', `status/${id}`);
    expect(s.json).toEqual({ delayTime: expect.any(Number), executionTime: expect.any(Number), id, status: 'IN_PROGRESS', workerId: 'pod-7' });
    expect(s.json.delayTime as number).toBeGreaterThanOrEqual(100);

    // Progress update in the Python SDK's byte form (spaces after separators).
    expect((await w.done(id, '{"status": "IN_PROGRESS", "output": {"progress": "4/10"}}')).status).toBe(200);
    s = await api(ep, 'POST', `status/${id}`);
    expect(s.json).toMatchObject({ id, status: 'IN_PROGRESS', output: { progress: '4/10' }, workerId: 'pod-7' });
    await sleep(50);
    expect((await w.done(id, '{"output": {"images": ["aGk="]}, "stopPod": true}')).status).toBe(200);
    s = await api(ep, 'GET', `status/${id}`);
    expect(s.json).toEqual({ delayTime: expect.any(Number), executionTime: expect.any(Number), id, output: { images: ['aGk='] }, status: 'COMPLETED', workerId: 'pod-7' });
    expect(Object.keys(s.json)).toEqual(['delayTime', 'executionTime', 'id', 'output', 'status', 'workerId']);
    expect(s.json.executionTime as number).toBeGreaterThanOrEqual(50);
    // The first final result wins.
    expect((await w.done(id, { error: 'second' })).json).toEqual({ ignored: 'job is already COMPLETED' });
    expect((await api(ep, 'GET', `status/${id}`)).json.status).toBe('COMPLETED');
    // A body without output completes with null.
    const r2 = await api(ep, 'POST', 'run', { input: 1 });
    await w.take();
    await w.done(r2.json.id as string, '{}');
    expect((await api(ep, 'GET', `status/${r2.json.id}`)).json).toMatchObject({ status: 'COMPLETED', output: null });
  });

  it('FAILED on a truthy error (output kept); falsy errors complete; retry of FAILED; retry refused otherwise', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const w = new FakeWorker(ep, 'w1');
    const a = (await api(ep, 'POST', 'run', { input: { a: 1 } })).json.id as string;
    await w.take();
    await w.done(a, { output: { detail: 1 }, error: 'bad input' });
    expect((await api(ep, 'GET', `status/${a}`)).json).toEqual({
      delayTime: expect.any(Number),
      error: 'bad input',
      executionTime: expect.any(Number),
      id: a,
      output: { detail: 1 },
      status: 'FAILED',
      workerId: 'w1',
    });
    for (const error of ['', null, {}, []]) {
      const id = (await api(ep, 'POST', 'run', { input: {} })).json.id as string;
      await w.take();
      await w.done(id, { output: 'ok', error });
      expect((await api(ep, 'GET', `status/${id}`)).json.status).toBe('COMPLETED');
    }
    const b = (await api(ep, 'POST', 'run', { input: {} })).json.id as string;
    await w.take();
    await w.done(b, { error: { error_type: "<class 'ValueError'>", error_message: 'x' } });
    expect((await api(ep, 'GET', `status/${b}`)).json.status).toBe('FAILED');

    expect(await api(ep, 'POST', `retry/${a}`)).toMatchObject({ status: 200, json: { id: a, status: 'IN_QUEUE' } });
    expect((await api(ep, 'GET', `status/${a}`)).json).toEqual({ id: a, status: 'IN_QUEUE' });
    expect((await w.take()).json).toEqual({ id: a, input: { a: 1 } });
    await w.done(a, { output: 'second time' });
    expect((await api(ep, 'GET', `status/${a}`)).json).toMatchObject({ status: 'COMPLETED', output: 'second time' });
    expect(await api(ep, 'POST', `retry/${a}`)).toEqual(
      expect.objectContaining({ status: 400, json: { error: `job ${a} is COMPLETED; only FAILED or TIMED_OUT jobs can be retried` } }),
    );
    expect(await api(ep, 'POST', 'retry/nope-u1')).toMatchObject({ status: 404, json: { error: 'job nope-u1 not found' } });
    expect((await api(ep, 'GET', 'health')).json).toMatchObject({ jobs: { completed: 5, failed: 2, retried: 1, inQueue: 0, inProgress: 0 } });
  });

  it('runsync: returns the final body within the wait, the id and current status beyond it; status-sync waits', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    autoWorker(ep, 'w-fast', onTestFinished, async (w, job) => {
      await sleep(job.input.delay as number);
      await w.done(job.id, { output: { echo: job.input } });
    });
    const t0 = Date.now();
    const fast = await api(ep, 'POST', 'runsync', { input: { delay: 200 } });
    expect(fast.status).toBe(200);
    expect(fast.json).toEqual({
      delayTime: expect.any(Number),
      executionTime: expect.any(Number),
      id: expect.stringMatching(/^sync-[0-9a-f-]{36}-u1$/),
      output: { echo: { delay: 200 } },
      status: 'COMPLETED',
      workerId: 'w-fast',
    });
    expect(Date.now() - t0).toBeLessThan(5_000);

    const t1 = Date.now();
    const slow = await api(ep, 'POST', 'runsync?wait=1000', { input: { delay: 5_000 } });
    expect(Date.now() - t1).toBeGreaterThanOrEqual(950);
    expect(Date.now() - t1).toBeLessThan(4_000); // the 1 s wait, not the 5 s job
    expect(slow.json).toEqual({ id: slow.json.id, status: 'IN_PROGRESS' });
    const t2 = Date.now();
    const synced = await api(ep, 'POST', `status-sync/${slow.json.id}?wait=20000`);
    expect(synced.json).toMatchObject({ id: slow.json.id, status: 'COMPLETED', output: { echo: { delay: 5_000 } } });
    expect(Date.now() - t2).toBeLessThan(15_000); // when the job completes, not after the 20 s wait
    // A final job answers status-sync at once (wait below 1000 is clamped up, to 1000).
    const t3 = Date.now();
    expect((await api(ep, 'GET', `status-sync/${slow.json.id}?wait=10`)).json.status).toBe('COMPLETED');
    expect(Date.now() - t3).toBeLessThan(900);
  });

  it('runsync with no worker: IN_QUEUE after the wait; status-sync holds for the wait, clamped to 1000 ms', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const t0 = Date.now();
    const r = await api(ep, 'POST', 'runsync?wait=200', { input: {} });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(r.json).toEqual({ id: r.json.id, status: 'IN_QUEUE' });
    const t1 = Date.now();
    expect((await api(ep, 'GET', `status-sync/${r.json.id}?wait=1000`)).json).toEqual({ id: r.json.id, status: 'IN_QUEUE' });
    expect(Date.now() - t1).toBeGreaterThanOrEqual(950);
  });

  it('stream: chunks since the previous call, a hold while nothing is new, the final status', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished, { streamHoldMs: 3_000 });
    const w = new FakeWorker(ep, 'w-gen');
    const id = (await api(ep, 'POST', 'run', { input: { tokens: 3 } })).json.id as string;
    let t0 = Date.now();
    expect((await api(ep, 'GET', `stream/${id}`)).json).toEqual({ id, status: 'IN_QUEUE', stream: [] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2_950);
    await w.take();
    await w.stream(id, 'hello ');
    await w.stream(id, { token: 'world' });
    expect((await api(ep, 'GET', `stream/${id}`)).json).toEqual({ id, status: 'IN_PROGRESS', stream: [{ output: 'hello ' }, { output: { token: 'world' } }] });
    // A chunk arriving during the hold ends it early.
    t0 = Date.now();
    setTimeout(() => void w.stream(id, '!'), 150);
    expect((await api(ep, 'POST', `stream/${id}`)).json.stream).toEqual([{ output: '!' }]);
    expect(Date.now() - t0).toBeLessThan(2_500); // not the 3 s hold
    await w.stream(id, 'last');
    await w.done(id, { output: [] }, true);
    expect((await api(ep, 'GET', `stream/${id}`)).json).toEqual({ id, status: 'COMPLETED', stream: [{ output: 'last' }] });
    t0 = Date.now();
    expect((await api(ep, 'GET', `stream/${id}`)).json).toEqual({ id, status: 'COMPLETED', stream: [] });
    expect(Date.now() - t0).toBeLessThan(2_500); // at once, not after the hold
    expect((await w.stream(id, 'after the end')).json).toEqual({ ignored: 'job is COMPLETED' });
  });

  it('runpod-sdk works unchanged: run, status, statusSync, runSync, stream, cancel, health, purgeQueue', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished, { apiKey: 'sdk-key' });
    const sdk = sdkEndpoint(ep, 'sdk-key');
    autoWorker(ep, 'w-sdk', onTestFinished, async (w, job) => {
      if (job.input.stream) {
        for (const t of ['a', 'b', 'c']) {
          await sleep(100);
          await w.stream(job.id, t);
        }
        await w.done(job.id, { output: ['a', 'b', 'c'] }, true);
        return;
      }
      if (job.input.untilCancelled) {
        // Busy until the platform sends this job on job-stop (its cancel), then posts a result that is ignored.
        const end = Date.now() + 20_000;
        while (Date.now() < end && !((await w.stop()).json.jobsToStop as string[] | undefined)?.includes(job.id));
        await w.done(job.id, { output: 'late' });
        return;
      }
      await sleep((job.input.delay as number | undefined) ?? 0);
      await w.done(job.id, job.input.fail ? { error: 'boom' } : { output: { ok: job.input } });
    });

    const run = await sdk.run({ input: { delay: 300 } });
    expect(run).toEqual({ id: expect.stringMatching(/-u1$/), status: 'IN_QUEUE' });
    const st = await sdk.status(run.id);
    expect(st).toMatchObject({ id: run.id, started: true, completed: false });
    const synced = await sdk.statusSync(run.id, 5_000);
    expect(synced).toMatchObject({ id: run.id, status: 'COMPLETED', completed: true, succeeded: true, output: { ok: { delay: 300 } } });

    const quiet = console.log;
    console.log = () => undefined; // runSync prints each status-sync poll
    try {
      const rs = await sdk.runSync({ input: { delay: 50 } }, 5_000);
      expect(rs).toMatchObject({ status: 'COMPLETED', completed: true, succeeded: true, output: { ok: { delay: 50 } } });
      // Beyond the /runsync wait (1000 ms) it polls /status-sync until the job is final.
      const long = await sdk.runSync({ input: { delay: 1_600 } }, 1_000);
      expect(long).toMatchObject({ status: 'COMPLETED', completed: true, output: { ok: { delay: 1_600 } } });
      const failed = await sdk.runSync({ input: { fail: true } }, 5_000);
      expect(failed).toMatchObject({ status: 'FAILED', completed: true, succeeded: false, error: 'boom' });
    } finally {
      console.log = quiet;
    }

    const streamed = await sdk.run({ input: { stream: true } });
    const chunks: unknown[] = [];
    for await (const c of sdk.stream(streamed.id)) chunks.push(c);
    expect(chunks).toEqual([{ output: 'a' }, { output: 'b' }, { output: 'c' }]);

    const h = await sdk.health();
    expect(h).toMatchObject({ jobs: { completed: 4, failed: 1, inProgress: 0, inQueue: 0, retried: 0 }, workers: { running: 0, idle: 1 } });

    // Keep the worker busy, then cancel one queued job and purge the rest.
    const busy = await sdk.run({ input: { untilCancelled: true } });
    await until(async () => (await sdk.status(busy.id)).status === 'IN_PROGRESS', 'the busy job to be taken');
    const q1 = await sdk.run({ input: {} });
    const q2 = await sdk.run({ input: {} });
    const q3 = await sdk.run({ input: {} });
    expect(await sdk.health()).toMatchObject({ jobs: { inProgress: 1, inQueue: 3 }, workers: { running: 1, idle: 0 } });
    expect(await sdk.cancel(q1.id)).toEqual({ id: q1.id, status: 'CANCELLED' });
    expect(await sdk.purgeQueue()).toEqual({ removed: 2, status: 'completed' });
    expect((await sdk.status(q2.id)).status).toBe('CANCELLED');
    expect((await sdk.status(q3.id)).status).toBe('CANCELLED');
    expect(await sdk.cancel(busy.id)).toEqual({ id: busy.id, status: 'CANCELLED' });
    // A wrong key: the SDK's HTTP client rejects the 401.
    await expect(sdkEndpoint(ep, 'wrong').health()).rejects.toThrow(/401/);
  });

  it('cancel: a queued job is never handed out; a running one is sent on job-stop once and its late result ignored', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const w = new FakeWorker(ep, 'w-c');
    const queued = (await api(ep, 'POST', 'run', { input: { q: 1 } })).json.id as string;
    expect(await api(ep, 'POST', `cancel/${queued}`)).toMatchObject({ status: 200, json: { id: queued, status: 'CANCELLED' } });
    expect((await api(ep, 'GET', `status/${queued}`)).json).toEqual({ id: queued, status: 'CANCELLED' });
    expect((await w.take()).status).toBe(204);

    const running = (await api(ep, 'POST', 'run', { input: { r: 1 } })).json.id as string;
    expect((await w.take()).json.id).toBe(running);
    // A job-stop poll held before the cancel is answered by it.
    const stopPoll = w.stop();
    await sleep(50);
    expect((await api(ep, 'POST', `cancel/${running}`)).json).toEqual({ id: running, status: 'CANCELLED' });
    expect(await stopPoll).toMatchObject({ status: 200, json: { jobsToStop: [running] } });
    expect((await w.stop()).status).toBe(204);
    expect(await w.done(running, { output: 'late' })).toMatchObject({ status: 200, json: { ignored: 'job is already CANCELLED' } });
    expect((await api(ep, 'GET', `status/${running}`)).json).toEqual({
      delayTime: expect.any(Number),
      executionTime: expect.any(Number),
      id: running,
      status: 'CANCELLED',
      workerId: 'w-c',
    });
    // Final jobs are unchanged by cancel; unknown ids are 404.
    const done = (await api(ep, 'POST', 'run', { input: {} })).json.id as string;
    await w.take();
    await w.done(done, { output: 1 });
    expect((await api(ep, 'POST', `cancel/${done}`)).json).toEqual({ id: done, status: 'COMPLETED' });
    expect((await api(ep, 'POST', 'cancel/unknown-u1')).status).toBe(404);
  });

  it('purge-queue removes queued jobs only; health counts jobs and workers', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const w = new FakeWorker(ep, 'w-busy');
    expect((await api(ep, 'GET', 'health')).json).toEqual({ jobs: { completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 }, workers: { idle: 0, initializing: 0, ready: 0, running: 0, throttled: 0, unhealthy: 0 } });
    const first = (await api(ep, 'POST', 'run', { input: {} })).json.id as string;
    for (let i = 0; i < 3; i++) await api(ep, 'POST', 'run', { input: { i } });
    await w.take();
    await new FakeWorker(ep, 'w-idle').ping();
    // A worker seen only through pings is initializing (workers.ts).
    expect((await api(ep, 'GET', 'health')).json).toEqual({ jobs: { completed: 0, failed: 0, inProgress: 1, inQueue: 3, retried: 0 }, workers: { idle: 0, initializing: 1, ready: 1, running: 1, throttled: 0, unhealthy: 0 } });
    expect(await api(ep, 'POST', 'purge-queue')).toMatchObject({ status: 200, json: { removed: 3, status: 'completed' } });
    expect((await api(ep, 'POST', 'purge-queue')).json).toEqual({ removed: 0, status: 'completed' });
    expect((await api(ep, 'GET', `status/${first}`)).json.status).toBe('IN_PROGRESS');
    await w.done(first, { output: 'x' });
    expect((await api(ep, 'GET', 'health')).json).toEqual({ jobs: { completed: 1, failed: 0, inProgress: 0, inQueue: 0, retried: 0 }, workers: { idle: 1, initializing: 1, ready: 1, running: 0, throttled: 0, unhealthy: 0 } });
  });

  it('retention: final results expire (run and runsync separately); ?ttl= shortens one job', async ({ expect, onTestFinished }) => {
    // The /runsync retention is long enough for the reads below on a busy machine, and far below the /run one.
    const ep = await start(onTestFinished, { retentionRunMs: 4_000, retentionSyncMs: 1_000 });
    autoWorker(ep, 'w-r', onTestFinished, async (w, job) => {
      await w.done(job.id, { output: 'x' });
    });
    const status = async (id: string, query = ''): Promise<number> => (await api(ep, 'GET', `status/${id}${query}`)).status;
    const t0 = Date.now(); // a's retention starts after this
    const a = (await api(ep, 'POST', 'run', { input: {} })).json.id as string;
    const b = (await api(ep, 'POST', 'runsync', { input: {} })).json.id as string;
    const tb = Date.now(); // b's retention started before this
    expect((await api(ep, 'GET', `status-sync/${a}`)).json.status).toBe('COMPLETED');
    expect((await api(ep, 'GET', `status/${b}`)).json.status).toBe('COMPLETED');
    await until(async () => (await status(b)) === 404, { everyMs: 25, what: 'the runsync result to expire' });
    expect(Date.now() - tb).toBeLessThan(3_000); // its own 1 s, not the 4 s of /run results
    expect(await status(a)).toBe(200);
    await until(async () => (await status(a)) === 404, { everyMs: 25, what: 'the run result to expire' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_000);
    expect(await api(ep, 'GET', `status/${a}`)).toMatchObject({ status: 404, json: { error: `job ${a} not found` } });

    const c = (await api(ep, 'POST', 'run', { input: {} })).json.id as string;
    expect((await api(ep, 'GET', `status-sync/${c}?ttl=100`)).json.status).toBe('COMPLETED');
    const tc = Date.now();
    expect(await status(c, '?ttl=100')).toBe(200);
    await until(async () => (await status(c)) === 404, { everyMs: 25, what: 'the ?ttl=100 result to expire' });
    expect(Date.now() - tc).toBeLessThan(3_000); // 100 ms, not the 4 s of /run results
    expect((await api(ep, 'GET', `status/${c}?ttl=abc`)).status).toBe(400);
  });

  it('webhook: cloud-shaped body, retried after 500, 500 until a 200, retryDelay apart', async ({ expect, onTestFinished }) => {
    const hits: Array<{ at: number; body: Json; contentType: string | undefined }> = [];
    const codes = [500, 500, 200];
    const receiver = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        hits.push({ at: Date.now(), body: JSON.parse(Buffer.concat(parts).toString()) as Json, contentType: req.headers['content-type'] });
        res.statusCode = codes[hits.length - 1] ?? 200;
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => receiver.close(() => r())));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

    const ep = await start(onTestFinished, { webhookRetryDelayMs: 300 });
    const w = new FakeWorker(ep, 'w-hook');
    const id = (await api(ep, 'POST', 'run', { input: { p: 1 }, webhook: hook })).json.id as string;
    await w.take();
    await w.done(id, { output: { done: true } });
    await until(() => hits.length >= 3, { what: 'three webhook deliveries', state: () => hits.map((h) => h.at) });
    await sleep(400); // (pacing: the next job's delivery comes later than a wrong fourth retry would)
    expect(hits[0]!.contentType).toBe('application/json');
    expect(hits[2]!.body).toEqual({
      delayTime: expect.any(Number),
      executionTime: expect.any(Number),
      id,
      input: { p: 1 },
      output: { done: true },
      status: 'COMPLETED',
      webhook: hook,
    });
    for (const i of [1, 2]) {
      const gap = hits[i]!.at - hits[i - 1]!.at;
      expect(gap).toBeGreaterThanOrEqual(280);
      expect(gap).toBeLessThan(3_000); // the 300 ms retryDelay, with a wide margin for a busy machine
    }
    // Delivery never blocks: the job was final at once.
    expect((await api(ep, 'GET', `status/${id}`)).json.status).toBe('COMPLETED');
    // FAILED jobs send their error.
    const f = (await api(ep, 'POST', 'run', { input: {}, webhook: hook })).json.id as string;
    await w.take();
    await w.done(f, { error: 'bad' });
    await until(() => hits.some((h) => h.body.id === f), "the FAILED job's webhook");
    expect(hits.filter((h) => h.body.id === id)).toHaveLength(3);
    expect(hits[3]!.body).toMatchObject({ id: f, status: 'FAILED', error: 'bad', webhook: hook });
    expect(hits[3]!.body).not.toHaveProperty('output');
  });

  it('400s with clear messages and never fastify error shapes', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const bad = async (path: string, body: unknown, pattern: RegExp, method = 'POST'): Promise<void> => {
      const r = await api(ep, method, path, body);
      expect(r.status, `${path} ${String(body)}`).toBe(400);
      expect(Object.keys(r.json)).toEqual(['error']);
      expect(r.json.error).toMatch(pattern);
    };
    await bad('run', '{"input": ', /not valid JSON/);
    await bad('run', '', /empty/);
    await bad('run', {}, /missing "input"/);
    await bad('run', { input: null }, /"input" must not be null/);
    await bad('run', [1], /JSON object/);
    await bad('run', 'null', /JSON object/);
    await bad('run', { input: {}, policy: { executionTimeout: 1_000 } }, /policy\.executionTimeout must be between 5000 and 604800000/);
    await bad('run', { input: {}, policy: { executionTimeout: '600000' } }, /policy\.executionTimeout must be an integer/);
    await bad('run', { input: {}, policy: { ttl: 5_000 } }, /policy\.ttl must be between 10000/);
    await bad('run', { input: {}, policy: { ttl: 8 * 24 * 3600 * 1000 } }, /policy\.ttl must be between/);
    await bad('run', { input: {}, policy: { lowPriority: 'yes' } }, /policy\.lowPriority must be a boolean/);
    await bad('run', { input: {}, policy: 5 }, /"policy" must be an object/);
    await bad('run', { input: {}, webhook: 'ftp://x/y' }, /"webhook" must be an http or https URL/);
    await bad('run', { input: {}, webhook: 'not a url' }, /"webhook" is not a valid URL/);
    await bad('run', { input: {}, s3Config: 'x' }, /"s3Config" must be an object/);
    await bad('runsync?wait=abc', { input: {} }, /wait must be a number/);
    await bad('status-sync/x?wait=soon', undefined, /wait must be a number/, 'GET');
    expect((await api(ep, 'GET', 'health')).json).toMatchObject({ jobs: { inQueue: 0 } }); // nothing was queued by a bad request
    // Any JSON input but null is fine, with any content type.
    expect((await api(ep, 'POST', 'run', '{"input": 0}', { 'Content-Type': 'text/plain' })).status).toBe(200);
    expect((await api(ep, 'POST', 'run', { input: 'x', policy: { executionTimeout: 5_000, ttl: 10_000, lowPriority: true } })).status).toBe(200);
    // Worker side.
    const w = new FakeWorker(ep, 'w-x');
    const id = (await w.take()).json.id as string;
    const notJson = await w.done(id, 'output=hello');
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toMatch(/job-done body is not valid JSON/);
    expect((await w.done(id, '"just a string"')).json.error).toMatch(/must be a JSON object/);
    // Python's json.dumps writes NaN / Infinity for floats: read as null (as JSON.stringify would have written them).
    expect((await w.done(id, '{"status": "IN_PROGRESS", "output": {"loss": NaN, "s": "NaN", "r": [Infinity, -Infinity]}}')).status).toBe(200);
    expect((await api(ep, 'GET', `status/${id}`)).json.output).toEqual({ loss: null, s: 'NaN', r: [null, null] });
    expect(await w.done('ghost-u1', { output: 1 })).toMatchObject({ status: 404, json: { error: 'job ghost-u1 not found' } });
    const badBatch = await toAnswer(await fetch(`${ep.url}/v2/local/job-take-batch/w-x?batch_size=zero`));
    expect(badBatch).toMatchObject({ status: 400, json: { error: 'batch_size must be a positive integer, got "zero"' } });
    // Unknown routes and methods.
    expect(await api(ep, 'GET', '/nope')).toMatchObject({ status: 404, json: { error: 'no route GET /nope' } });
    expect((await api(ep, 'GET', 'run')).json).toEqual({ error: 'no route GET /v2/local/run' });
    expect((await api(ep, 'GET', `status/${id}`)).json.status).toBe('IN_PROGRESS'); // still serving
  });

  it('apiKey: public routes need the key (Bearer or raw); the worker API does not', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished, { apiKey: 'secret' });
    const none = await api(ep, 'POST', 'run', { input: {} });
    expect(none.status).toBe(401);
    expect(none.json.error).toMatch(/missing API key/);
    const wrong = await api(ep, 'POST', 'run', { input: {} }, { Authorization: 'Bearer nope' });
    expect(wrong).toMatchObject({ status: 401, json: { error: 'invalid API key in the Authorization header' } });
    expect((await api(ep, 'GET', 'health', undefined, { Authorization: 'secret-but-longer' })).status).toBe(401);
    expect((await api(ep, 'GET', 'status/x', undefined, {})).status).toBe(401);
    const ok = await api(ep, 'POST', 'run', { input: { k: 1 } }, { Authorization: 'Bearer secret' });
    expect(ok.status).toBe(200);
    expect((await api(ep, 'GET', `status/${ok.json.id}`, undefined, { Authorization: 'secret' })).json.status).toBe('IN_QUEUE');
    const w = new FakeWorker(ep, 'w-k');
    expect((await w.take()).json.id).toBe(ok.json.id);
    expect((await w.done(ok.json.id as string, { output: 1 })).status).toBe(200);
    expect((await w.ping()).status).toBe(200);
  });

  it('batch job-take hands out up to batch_size jobs as an array, then 204', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await api(ep, 'POST', 'run', { input: { i } })).json.id as string);
    const w = new FakeWorker(ep, 'w-b');
    const first = await w.takeBatch(3);
    expect(JSON.parse(first.text)).toEqual(ids.slice(0, 3).map((id, i) => ({ id, input: { i } })));
    const second = await w.takeBatch(3);
    expect((JSON.parse(second.text) as Json[]).map((j) => j.id)).toEqual(ids.slice(3));
    expect((await w.takeBatch(3)).status).toBe(204);
    // A held batch take gets a job that arrives meanwhile (at least one, not waiting for a full batch).
    const takesBefore = ep.stats().takes;
    const held = w.takeBatch(4);
    await until(() => ep.stats().takes > takesBefore, 'the batch take to be held');
    const late = (await api(ep, 'POST', 'run', { input: 'late' })).json.id;
    expect(JSON.parse((await held).text)).toEqual([{ id: late, input: 'late' }]);
    expect((await api(ep, 'GET', 'health')).json).toMatchObject({ jobs: { inProgress: 6, inQueue: 0 } });
  });

  it('both /v2/{any}/… and /… prefixes serve the public and the worker API', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const id = (await api(ep, 'POST', '/run', { input: 'root' })).json.id as string;
    expect((await api(ep, 'GET', `/v2/some-other-endpoint/status/${id}`)).json.status).toBe('IN_QUEUE');
    const take = await toAnswer(await fetch(`${ep.url}/job-take/w-root?job_in_progress=0`));
    expect(take.json).toEqual({ id, input: 'root' });
    const done = await fetch(`${ep.url}/job-done/w-root/${id}?isStream=false`, { method: 'POST', body: '{"output": "ok"}' });
    expect(done.status).toBe(200);
    expect((await api(ep, 'GET', `/status/${id}`)).json).toMatchObject({ status: 'COMPLETED', output: 'ok', workerId: 'w-root' });
    expect((await api(ep, 'GET', '/health')).status).toBe(200);
    expect((await fetch(`${ep.url}/ping/w-root`)).status).toBe(200);
    expect(ep.workerEnv()).toEqual({
      RUNPOD_WEBHOOK_GET_JOB: `${ep.url}/v2/local/job-take/$ID?gpu=local`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${ep.url}/v2/local/job-done/$RUNPOD_POD_ID/$ID?gpu=local`,
      RUNPOD_WEBHOOK_POST_STREAM: `${ep.url}/v2/local/job-stream/$RUNPOD_POD_ID/$ID?gpu=local`,
      RUNPOD_WEBHOOK_PING: `${ep.url}/v2/local/ping/$RUNPOD_POD_ID?gpu=local`,
    });
    expect(ep.url).toBe(`http://127.0.0.1:${ep.port}`);
  });

  it('FIFO: 20 queued jobs are handed out in submission order', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await api(ep, 'POST', i % 2 ? 'run' : '/run', { input: { i } })).json.id as string);
    const w = new FakeWorker(ep, 'w-fifo');
    const taken: string[] = [];
    for (let i = 0; i < 20; i++) taken.push((await w.take()).json.id as string);
    expect(taken).toEqual(ids);
    expect((await w.take()).status).toBe(204);
  });

  it('long-polls: a held take gets a job as it arrives; a take abandoned by its client never swallows a job; close() answers held polls', async ({ expect, onTestFinished }) => {
    const ep = await startEndpoint({ port: 0, takeHoldMs: 20_000 });
    let closed = false;
    onTestFinished(async () => {
      if (!closed) await ep.close();
    });
    const w = new FakeWorker(ep, 'w-lp');
    // The abandoned take comes first in the waiter queue.
    const ac = new AbortController();
    const abandoned = w.take(ac.signal).catch((e: Error) => e.name);
    await until(() => ep.stats().takes === 1, 'the first take to be held');
    ac.abort();
    expect(await abandoned).toBe('AbortError');
    await sleep(50); // (pacing: the server sees the closed connection)
    const t0 = Date.now();
    const held = new FakeWorker(ep, 'w-lp2').take();
    await until(() => ep.stats().takes === 2, 'the second take to be held');
    const id = (await api(ep, 'POST', 'run', { input: 'x' })).json.id;
    const got = await held;
    expect(got.json).toEqual({ id, input: 'x' });
    expect(Date.now() - t0).toBeLessThan(10_000); // as the job arrives, not after the 20 s hold
    expect((await api(ep, 'GET', `status/${id}`)).json).toMatchObject({ status: 'IN_PROGRESS', workerId: 'w-lp2' });
    // close(): held job-take and job-stop are answered 204 at once.
    const pendingStop = w.stop();
    const pendingTake = w.take();
    await until(() => ep.stats().takes === 3, 'the third take to be held');
    await sleep(50); // (pacing: job-stop polls are not counted; it was sent first)
    const t1 = Date.now();
    closed = true;
    const closing = ep.close();
    expect((await pendingTake).status).toBe(204);
    expect((await pendingStop).status).toBe(204);
    expect(Date.now() - t1).toBeLessThan(5_000); // at once, not after the 20 s hold
    await closing;
  });
});

/** What one worker-API call got: an HTTP answer, or `reset` when the connection was dropped without one. */
type Outcome = Answer | 'reset';
const outcome = (p: Promise<Answer>): Promise<Outcome> => p.then((a) => a, () => 'reset' as const);
/** Names an outcome the way the fault kinds are named (`ok` for a served request). */
function kindOf(o: Outcome, served: (a: Answer) => boolean): string {
  if (o === 'reset') return 'reset';
  if (o.status === 500) return 'status500';
  if (o.status === 429) return 'status429';
  if (o.status === 200 && !served(o)) return 'garbage';
  return 'ok';
}

describe('local RunPod endpoint emulator: seeded fault injection', () => {
  /**
   * Plays a careful worker through `n` jobs: every take and every job-done is retried until served, and after each
   * faulted call the job's state is checked (a faulted take assigns nothing, a faulted job-done records nothing).
   * Returns the job ids and the sequence of outcomes.
   */
  async function drive(ep: LocalEndpoint, n: number, expect: ExpectStatic): Promise<{ ids: string[]; seq: string[] }> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await api(ep, 'POST', 'run', { input: { i } })).json.id as string);
    const w = new FakeWorker(ep, 'w-faults');
    const seq: string[] = [];
    for (const [i, id] of ids.entries()) {
      for (;;) {
        const r = await outcome(w.take());
        const kind = kindOf(r, (a) => a.json.id !== undefined);
        seq.push(`take:${kind}`);
        if (kind === 'ok') {
          expect((r as Answer).json).toEqual({ id, input: { i } });
          break;
        }
        if (kind === 'garbage') expect((r as Answer).contentType).toBe('application/json; charset=utf-8');
        expect((await api(ep, 'GET', `status/${id}`)).json.status).toBe('IN_QUEUE');
      }
      for (;;) {
        const r = await outcome(w.done(id, { output: i }));
        const kind = kindOf(r, () => true);
        seq.push(`done:${kind}`);
        if (kind === 'ok') break;
        expect((await api(ep, 'GET', `status/${id}`)).json.status).toBe('IN_PROGRESS');
      }
      expect((await api(ep, 'GET', `status/${id}`)).json).toMatchObject({ status: 'COMPLETED', output: i });
    }
    return { ids, seq };
  }

  it('job-take faults assign nothing, job-done faults record nothing; the same seed gives the same faults; stats count them', async ({ expect, onTestFinished }) => {
    const faults = { seed: 7, takeRate: 0.5, doneRate: 0.5 };
    const ep = await start(onTestFinished, { faults });
    const { ids, seq } = await drive(ep, 30, expect);
    const count = (prefix: string, kind: string): number => seq.filter((x) => x === `${prefix}:${kind}`).length;
    const stats = ep.stats();
    expect(stats).toEqual({
      takes: seq.filter((x) => x.startsWith('take:')).length,
      dones: seq.filter((x) => x.startsWith('done:')).length,
      faults: {
        take: { status500: count('take', 'status500'), status429: count('take', 'status429'), garbage: count('take', 'garbage'), reset: count('take', 'reset') },
        done: { status500: count('done', 'status500'), reset: count('done', 'reset') },
      },
      resultsRecorded: 30,
      duplicateResults: 0,
      duplicateJobIds: [],
      lateResults: 0,
      refusedResults: 0,
      streamFinalJobIds: [],
      stopPodJobIds: [],
    });
    // Every kind shows up, at roughly the rate asked for.
    for (const k of ['status500', 'status429', 'garbage', 'reset']) expect(count('take', k)).toBeGreaterThan(0);
    for (const k of ['status500', 'reset']) expect(count('done', k)).toBeGreaterThan(0);
    expect(count('take', 'ok')).toBe(30);
    expect(stats.takes).toBeGreaterThan(40);

    // The same seed and the same traffic give the same faults; another seed does not.
    const again = await startEndpoint({ port: 0, takeHoldMs: 300, faults });
    onTestFinished(() => again.close());
    expect((await drive(again, 30, expect)).seq).toEqual(seq);
    const other = await startEndpoint({ port: 0, takeHoldMs: 300, faults: { ...faults, seed: 8 } });
    onTestFinished(() => other.close());
    expect((await drive(other, 30, expect)).seq).not.toEqual(seq);

    // A second final post for a recorded job is acknowledged, ignored and counted as a duplicate; a final post for a
    // cancelled job as late.
    const w = new FakeWorker(ep, 'w-faults');
    const first = (await api(ep, 'GET', 'health')).json;
    let dup: Outcome;
    do dup = await outcome(w.done(ids[0]!, { output: 'again' }));
    while (kindOf(dup, () => true) !== 'ok');
    expect((dup as Answer).json).toEqual({ ignored: 'job is already COMPLETED' });
    const cancelled = (await api(ep, 'POST', 'run', { input: 'to cancel' })).json.id as string;
    let took: Outcome;
    do took = await outcome(w.take());
    while (kindOf(took, (a) => a.json.id !== undefined) !== 'ok');
    await api(ep, 'POST', `cancel/${cancelled}`);
    let late: Outcome;
    do late = await outcome(w.done(cancelled, { output: 'late' }));
    while (kindOf(late, () => true) !== 'ok');
    expect(ep.stats()).toMatchObject({ resultsRecorded: 30, duplicateResults: 1, duplicateJobIds: [ids[0]!], lateResults: 1 });
    expect((await api(ep, 'GET', 'health')).json.jobs).toMatchObject({ completed: (first.jobs as Json).completed });
  });

  it('refuses bad fault options; without faults the counters still count', async ({ expect, onTestFinished }) => {
    await expect(startEndpoint({ port: 0, faults: { seed: 1, takeRate: 1.5 } })).rejects.toThrow(/faults\.takeRate must be a number from 0 to 1, got 1\.5/);
    await expect(startEndpoint({ port: 0, faults: { seed: 1, doneRate: 0.1, doneKinds: { status500: 0, reset: 0 } } })).rejects.toThrow(/every weight is 0/);
    await expect(startEndpoint({ port: 0, faults: { seed: 1, takeKinds: { teapot: 1 } as Record<string, number> } })).rejects.toThrow(/unknown kind "teapot"/);
    // Only resets, every time: the weights pick the kind.
    const resets = await start(onTestFinished, { faults: { seed: 3, takeRate: 1, takeKinds: { status500: 0, status429: 0, garbage: 0 } } });
    await api(resets, 'POST', 'run', { input: 1 });
    const w = new FakeWorker(resets, 'w-r');
    for (let i = 0; i < 3; i++) expect(await outcome(w.take())).toBe('reset');
    expect(resets.stats().faults.take).toEqual({ status500: 0, status429: 0, garbage: 0, reset: 3 });
    const plain = await start(onTestFinished);
    const id = (await api(plain, 'POST', 'run', { input: 1 })).json.id as string;
    const pw = new FakeWorker(plain, 'w-p');
    await pw.take();
    await pw.done(id, { output: 1 });
    await pw.done(id, { output: 2 });
    expect(plain.stats()).toEqual({
      takes: 1,
      dones: 2,
      faults: { take: { status500: 0, status429: 0, garbage: 0, reset: 0 }, done: { status500: 0, reset: 0 } },
      resultsRecorded: 1,
      duplicateResults: 1,
      duplicateJobIds: [id],
      lateResults: 0,
      refusedResults: 0,
      streamFinalJobIds: [],
      stopPodJobIds: [],
    });
  });
});

// Alone, after the concurrent suite: parsing and serialising tens of MB of JSON stalls the event loop that the
// timing assertions above share.
describe('local RunPod endpoint emulator: large bodies', () => {
  it('body limits: 413 over 10 MB on /run and 20 MB on /runsync; exactly the limit is accepted', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished);
    const body = (bytes: number): Buffer => Buffer.from(`{"input":"${'x'.repeat(bytes - 12)}"}`);
    const MB = 1024 * 1024;
    expect((await api(ep, 'POST', 'run', body(10 * MB))).status).toBe(200);
    expect(await api(ep, 'POST', 'run', body(10 * MB + 1))).toMatchObject({
      status: 413,
      json: { error: 'request body is 10485761 bytes; /run accepts at most 10 MB (10485760 bytes)' },
    });
    expect((await api(ep, 'POST', 'runsync?wait=1000', body(15 * MB))).json.status).toBe('IN_QUEUE');
    expect(await api(ep, 'POST', 'runsync', body(20 * MB + 5))).toMatchObject({
      status: 413,
      json: { error: 'request body is 20971525 bytes; /runsync accepts at most 20 MB (20971520 bytes)' },
    });
    // Chunked (no Content-Length): the size is counted.
    const chunked = await toAnswer(
      await fetch(`${ep.url}/run`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: new Blob([body(11 * MB)]).stream(),
        duplex: 'half',
      } as RequestInit),
    );
    expect(chunked).toMatchObject({ status: 413, json: { error: `request body is ${11 * MB} bytes; /run accepts at most 10 MB (10485760 bytes)` } });
    // The server is fine afterwards; job-done refuses a result over the job's limit (400, as the platform) and
    // accepts one within it.
    const w = new FakeWorker(ep, 'w-big');
    const id = (await w.take()).json.id as string;
    const big = 'y'.repeat(70 * MB);
    expect((await w.done(id, `{"output": "${big}"}`)).status).toBe(400);
    expect((await w.done(id, `{"output": "${'y'.repeat(9 * MB)}"}`)).status).toBe(200);
    expect(((await api(ep, 'GET', `status/${id}`)).json.output as string).length).toBe(9 * MB);
  });
});

describe('local RunPod endpoint emulator: what tests and the bench read and script', () => {
  it('records every worker-API request with its answer; submit queues several jobs in one step', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished, { recordBodies: true });
    const w = new FakeWorker(ep, 'w-rec');
    const held = w.takeBatch(3);
    await until(() => ep.requests().length === 1, 'the held job-take to be recorded');
    expect(ep.requests()[0]).toMatchObject({ kind: 'take', workerId: 'w-rec', jobIds: [] });
    expect(ep.requests()[0]!.status).toBeUndefined(); // held: not answered yet
    const ids = ep.submit([{ input: { n: 1 } }, { input: { n: 2 } }]);
    expect((await held).json).toEqual([
      { id: ids[0], input: { n: 1 } },
      { id: ids[1], input: { n: 2 } },
    ]);
    await w.done(ids[0]!, { status: 'IN_PROGRESS', output: { step: 1 } });
    await w.done(ids[0]!, { output: 'ok' }, true);
    await w.ping();
    const [take, progress, done, ping] = ep.requests();
    expect(take).toMatchObject({ kind: 'take', status: 200, jobIds: ids, query: { gpu: 'local', batch_size: '3', job_in_progress: '0' } });
    expect(take!.answeredAt!).toBeGreaterThanOrEqual(take!.receivedAt);
    expect(progress).toMatchObject({ kind: 'done', jobId: ids[0], progress: true, status: 200 });
    expect(done).toMatchObject({ kind: 'done', jobId: ids[0], progress: false, status: 200, raw: '{"output":"ok"}', bytes: 15, query: { isStream: 'true' } });
    expect(done!.headers['x-request-id']).toBe(ids[0]);
    expect(ping).toMatchObject({ kind: 'ping', workerId: 'w-rec', status: 200, query: { runpod_version: '1.12.0' } });
    expect(() => ep.submit([{ input: 1 }, { nothing: true }])).toThrow(/missing "input"/);
    expect((await api(ep, 'GET', 'health')).json.jobs).toMatchObject({ inQueue: 0, inProgress: 1 }); // the invalid batch queued nothing
    const plain = await start(onTestFinished);
    await new FakeWorker(plain, 'w-plain').ping();
    expect(plain.requests()).toEqual([]); // records only when asked for
  });

  it('scripted faults answer the next requests of a route before anything else; stopJob reaches job-stop without a state change', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished, { recordRequests: true });
    const w = new FakeWorker(ep, 'w-script');
    const id = (await api(ep, 'POST', 'run', { input: 'x' })).json.id as string;
    ep.injectFault({ route: 'take', count: 2, answer: { status: 503, body: 'upstream down' } });
    ep.injectFault({ route: 'take', answer: { status: 200, body: '{"id":"hand-made","input":{}}', contentType: 'application/json' } });
    ep.injectFault({ route: 'ping', answer: 'reset' });
    for (let i = 0; i < 2; i++) expect(await w.take()).toMatchObject({ status: 503, text: 'upstream down' });
    expect((await w.take()).json).toEqual({ id: 'hand-made', input: {} });
    await expect(w.ping()).rejects.toThrow();
    expect((await api(ep, 'GET', `status/${id}`)).json.status).toBe('IN_QUEUE'); // nothing was assigned
    expect((await w.take()).json).toEqual({ id, input: 'x' });
    expect(ep.stats().takes).toBe(4);
    expect(ep.requests().map((r) => `${r.kind}:${r.status}`)).toEqual(['take:503', 'take:503', 'take:200', 'ping:0', 'take:200']);
    expect(() => ep.injectFault({ route: 'done', count: 0, answer: 'reset' })).toThrow(/positive integer/);

    expect(ep.stopJob('no-such-job')).toBe(false);
    expect(ep.stopJob(id)).toBe(true);
    expect((await w.stop()).json).toEqual({ jobsToStop: [id] });
    expect((await api(ep, 'GET', `status/${id}`)).json.status).toBe('IN_PROGRESS');
  });

  it('latencyMs delays every worker-API answer; the public API answers at once', async ({ expect, onTestFinished }) => {
    const ep = await start(onTestFinished, { latencyMs: 200, recordRequests: true });
    const t0 = performance.now();
    expect((await new FakeWorker(ep, 'w-far').ping()).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    const rec = ep.requests()[0]!;
    expect(rec.answeredAt! - rec.receivedAt).toBeGreaterThanOrEqual(190);
    const t1 = performance.now();
    await api(ep, 'GET', 'health');
    expect(performance.now() - t1).toBeLessThan(190);
  });
});
