/**
 * End to end through RunPod's public endpoint API: the worker started with `--rp_serve_api` (local endpoint +
 * real worker loop) and the A1111 simulator, both as real processes, driven by `runpod-sdk` and, for what the
 * SDK lacks (`/retry`, webhooks, 413/400/401, `?ttl`), plain HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { PNG } from 'pngjs';
import runpodSdk from 'runpod-sdk';
import { SEED_004 } from '../helpers/fixtures.js';
import { startSimProcess, type SimProcess } from '../helpers/sim-process.js';
import { FINAL_STATES as FINAL, sleep, until, untilFinal } from '../helpers/wait.js';
import { startServeApi, type WorkerProcess } from '../helpers/worker-process.js';

const KEY = 'e2e-key';

interface StatusBody {
  id: string;
  status: string;
  delayTime?: number;
  executionTime?: number;
  workerId?: string;
  output?: { images?: string[]; info?: string };
  error?: string;
}

let sim: SimProcess;
let worker: WorkerProcess & { url: string };
let endpoint: NonNullable<ReturnType<ReturnType<typeof runpodSdk>['endpoint']>>;

/** A txt2img job of about `ms` milliseconds on a simulator at 10 ms per step. */
function jobOf(prompt: string, ms = 20): { input: unknown } {
  const steps = Math.max(1, Math.min(150, Math.round(ms / 10)));
  const n_iter = Math.max(1, Math.ceil(ms / 10 / 150));
  return { input: { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt, steps, n_iter, width: 64, height: 64 } } };
}

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }): Promise<{ status: number; body: StatusBody & Record<string, unknown> }> {
  const r = await fetch(`${worker.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : {} };
}

const waitFinal = (id: string, ms = 30_000): Promise<StatusBody> => untilFinal<StatusBody>((i) => endpoint.status(i), id, ms);

async function waitStatus(id: string, status: string, ms = 10_000): Promise<void> {
  await until(async () => ((await endpoint.status(id)) as StatusBody).status === status, { timeoutMs: ms, everyMs: 25, what: `job ${id} to reach ${status}` });
}

/** Waits until the simulator logged a request for `path` since log index `since`. */
async function simSaw(since: number, path: string, timeoutMs: number, what: string): Promise<void> {
  await until(async () => (await sim.requests(since)).some((r) => r.path === path), { timeoutMs, everyMs: 50, what });
}

beforeAll(async () => {
  sim = await startSimProcess(['--step-ms', '10']);
  worker = await startServeApi({ A1111_URL: sim.url, RUNPOD_API_KEY: KEY, LOCAL_ENDPOINT_WEBHOOK_RETRY_MS: '300', RUNPOD_DEBUG_LEVEL: 'INFO' });
  endpoint = runpodSdk(KEY, { baseUrl: `${worker.url}/v2` }).endpoint('local')!;
});

afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await sim?.close();
});

describe('RUN and RUNSYNC with runpod-sdk', () => {
  it("RUN of seed 004's request, polled with status until COMPLETED", async () => {
    const run = await endpoint.run(SEED_004 as never);
    expect(run.status).toBe('IN_QUEUE');
    expect(run.id).toMatch(/^[0-9a-f-]{36}-u1$/);
    const seen = new Set<string>();
    let s: StatusBody;
    do {
      s = (await endpoint.status(run.id)) as StatusBody;
      seen.add(s.status);
      await new Promise((r) => setTimeout(r, 20));
    } while (!FINAL.includes(s.status));
    expect(s.status).toBe('COMPLETED');
    expect([...seen].every((x) => ['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED'].includes(x))).toBe(true);
    expect(seen.has('IN_PROGRESS')).toBe(true);
    expect(typeof s.delayTime).toBe('number');
    expect(s.executionTime).toBeGreaterThanOrEqual(300); // 30 steps × 10 ms
    expect(s.workerId).toBe('local-worker');
    const png = PNG.sync.read(Buffer.from(s.output!.images![0]!, 'base64'));
    expect([png.width, png.height]).toEqual([1024, 1024]);
  });

  it('RUNSYNC inside the wait returns the final body', async () => {
    const r = await endpoint.runSync(jobOf('sync-fast') as never);
    expect(r.status).toBe('COMPLETED');
    expect(r.id).toMatch(/^sync-/);
    expect((r.output as { images: string[] }).images).toHaveLength(1);
  });

  it('RUNSYNC beyond the wait returns the id, then status-sync gets the result', async () => {
    const r = await api('POST', '/v2/local/runsync?wait=1000', jobOf('sync-slow', 2500));
    expect(r.status).toBe(200);
    expect(['IN_QUEUE', 'IN_PROGRESS']).toContain(r.body.status);
    expect(r.body.output).toBeUndefined();
    const done = (await endpoint.statusSync(r.body.id, 10_000)) as StatusBody;
    expect(done.status).toBe('COMPLETED');
    // and runpod-sdk's own runSync handles a job longer than its first wait
    const viaSdk = await endpoint.runSync(jobOf('sync-slow-sdk', 1500) as never, 20_000);
    expect(viaSdk.status).toBe('COMPLETED');
  });

  it('20 jobs queued at once all complete, in order', async () => {
    const ids: string[] = [];
    const before = (await sim.requests()).length;
    for (let i = 0; i < 20; i++) ids.push((await endpoint.run(jobOf(`order-${i}`) as never)).id);
    const finals = await Promise.all(ids.map((id) => waitFinal(id)));
    expect(finals.map((f) => f.status)).toEqual(Array(20).fill('COMPLETED'));
    const prompts = (await sim.requests(before))
      .filter((r) => r.path === '/sdapi/v1/txt2img')
      .map((r) => (r.body as { prompt: string }).prompt)
      .filter((p) => p.startsWith('order-'));
    expect(prompts).toEqual(ids.map((_, i) => `order-${i}`));
  });
});

describe('cancel, timeouts, retry, purge', () => {
  it('cancels a queued job (never reaches A1111) and a running one (A1111 interrupted, nothing else posted)', async () => {
    const before = (await sim.requests()).length;
    const running = await endpoint.run(jobOf('cancel-running', 6000) as never);
    const queued = await endpoint.run(jobOf('cancel-queued') as never);
    await waitStatus(running.id, 'IN_PROGRESS');
    expect((await endpoint.cancel(queued.id)).status).toBe('CANCELLED');
    await sleep(300); // (pacing: cancel well into the generation)
    expect((await endpoint.cancel(running.id)).status).toBe('CANCELLED');
    // A1111 gets an interrupt within a second or so (job-stop long-poll), before the 6 s job would end.
    await simSaw(before, '/sdapi/v1/interrupt', 5000, 'the interrupt at A1111');
    // A1111 is ready for the next job, and the cancelled ones stay cancelled.
    const next = await endpoint.runSync(jobOf('after-cancel') as never);
    expect(next.status).toBe('COMPLETED');
    expect(((await endpoint.status(running.id)) as StatusBody).status).toBe('CANCELLED');
    expect(((await endpoint.status(queued.id)) as StatusBody).status).toBe('CANCELLED');
    const prompts = (await sim.requests(before)).map((r) => (r.body as { prompt?: string } | null)?.prompt);
    expect(prompts).not.toContain('cancel-queued');
  });

  it('policy.executionTimeout → TIMED_OUT, and A1111 is interrupted', async () => {
    const before = (await sim.requests()).length;
    const r = await endpoint.run({ ...(jobOf('too-slow', 9000) as object), policy: { executionTimeout: 5000 } } as never);
    const s = await waitFinal(r.id, 15_000);
    expect(s.status).toBe('TIMED_OUT');
    // Before the 9 s job would have ended (it timed out at 5 s).
    await simSaw(before, '/sdapi/v1/interrupt', 3500, 'the interrupt at A1111');
    expect(((await endpoint.status(r.id)) as StatusBody).status).toBe('TIMED_OUT');
  }, 30_000);

  it('a FAILED job can be retried', async () => {
    await sim.fault({ kind: 'status', status: 500, count: 1, route: 'txt2img', body: { error: 'OutOfMemoryError', detail: '', body: '', errors: 'CUDA out of memory' } });
    const r = await endpoint.run(jobOf('retry-me') as never);
    const failed = await waitFinal(r.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toBe('A1111 500 on POST /sdapi/v1/txt2img: OutOfMemoryError CUDA out of memory');
    const retried = await api('POST', `/v2/local/retry/${r.id}`);
    expect(retried.body).toEqual({ id: r.id, status: 'IN_QUEUE' });
    const ok = await waitFinal(r.id);
    expect(ok.status).toBe('COMPLETED');
    expect(ok.error).toBeUndefined();
  });

  it('purge-queue removes the queued jobs; health counts jobs and workers', async () => {
    const h0 = await endpoint.health();
    const running = await endpoint.run(jobOf('purge-running', 1500) as never);
    await waitStatus(running.id, 'IN_PROGRESS');
    const queued = [];
    for (let i = 0; i < 3; i++) queued.push((await endpoint.run(jobOf(`purge-${i}`) as never)).id);
    const h1 = await endpoint.health();
    expect(h1.jobs.inQueue).toBe(3);
    expect(h1.jobs.inProgress).toBe(1);
    expect(h1.workers.running).toBe(1);
    expect(await endpoint.purgeQueue()).toEqual({ removed: 3, status: 'completed' });
    expect((await waitFinal(running.id)).status).toBe('COMPLETED');
    const h2 = await endpoint.health();
    expect(h2.jobs.inQueue).toBe(0);
    expect(h2.jobs.completed).toBe(h0.jobs.completed + 1);
    expect(h2.workers.idle + h2.workers.running).toBe(1);
  });
});

describe('retention, webhooks and refused requests (plain HTTP)', () => {
  it('a result expires after its retention (?ttl shortens it) and then gives 404', async () => {
    const r = await endpoint.runSync(jobOf('short-lived') as never);
    expect(r.status).toBe('COMPLETED');
    expect((await api('GET', `/v2/local/status/${r.id}?ttl=300`)).status).toBe(200);
    // Gone well before the 60 s retention of a runsync result.
    await until(async () => (await api('GET', `/v2/local/status/${r.id}`)).status === 404, { everyMs: 50, what: 'the result to expire' });
  });

  it('POSTs the cloud-shaped status body to the webhook, retrying twice', async () => {
    const hits: Array<{ at: number; body: Record<string, unknown> }> = [];
    const receiver = http.createServer((req, res) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => {
        hits.push({ at: Date.now(), body: JSON.parse(data) as Record<string, unknown> });
        res.statusCode = hits.length < 3 ? 500 : 200;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
      const job = { ...(jobOf('with-webhook') as object), webhook: hook };
      const r = await api('POST', '/run', job);
      expect(r.status).toBe(200);
      await until(() => hits.length >= 3, { timeoutMs: 15_000, what: 'three webhook deliveries', state: () => hits.length });
      expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(250);
      const b = hits[0]!.body;
      expect(b).toMatchObject({ id: r.body.id, status: 'COMPLETED', webhook: hook, input: (jobOf('with-webhook') as { input: unknown }).input });
      expect(typeof b.delayTime).toBe('number');
      expect(typeof b.executionTime).toBe('number');
      expect((b.output as { images: string[] }).images).toHaveLength(1);
      // No retry after the 200: a later job's delivery arrives, and still three for this one.
      await sleep(800); // (pacing: a wrong retry, 300 ms apart, would come before the next job's delivery)
      const later = await api('POST', '/run', { ...(jobOf('later-webhook') as object), webhook: hook });
      await until(() => hits.some((h) => h.body.id === later.body.id), { timeoutMs: 15_000, what: "the later job's webhook" });
      expect(hits.filter((h) => h.body.id === r.body.id)).toHaveLength(3);
    } finally {
      receiver.close();
    }
  });

  it('refuses oversized (413), malformed (400) and unauthorised (401) requests, and keeps working', async () => {
    const big = (mb: number): string => JSON.stringify({ input: { prompt: 'x'.repeat(mb * 1024 * 1024) } });
    const r413 = await api('POST', '/v2/local/run', big(11));
    expect(r413.status).toBe(413);
    expect(String(r413.body.error)).toMatch(/10 MB/);
    const s413 = await api('POST', '/v2/local/runsync', big(21));
    expect(s413.status).toBe(413);
    expect(String(s413.body.error)).toMatch(/20 MB/);
    const bad = await api('POST', '/v2/local/run', '{"input": ');
    expect(bad.status).toBe(400);
    expect(typeof bad.body.error).toBe('string');
    const noInput = await api('POST', '/v2/local/run', { webhook: 'http://127.0.0.1:1/' });
    expect(noInput.status).toBe(400);
    expect(String(noInput.body.error)).toMatch(/input/);
    expect((await api('POST', '/v2/local/run', jobOf('no-auth'), {})).status).toBe(401);
    expect((await api('POST', '/v2/local/run', jobOf('wrong-auth'), { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await endpoint.runSync(jobOf('still-fine') as never)).status).toBe('COMPLETED');
  });
});
