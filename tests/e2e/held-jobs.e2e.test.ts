/**
 * End to end: the built worker against the endpoint emulator with a platform round trip (`latencyMs`: every
 * worker-API call is answered that long after it arrived) and the A1111 simulator. A result post and the next
 * job-take do not wait on each other: the slot frees when the handler returns, and the job stays held
 * (`job_in_progress=1` on the take) until its post ended. Take-ahead (`TAKE_AHEAD_MS`): the next job is taken while
 * a generation is due to end (A1111's `eta_relative`) and held until the backend frees; a held job is listed in the
 * heartbeat, a cancel drops it with nothing posted, SIGTERM runs and posts it, its `timeout_s` counts from its start.
 * Ordering only; the idle time itself is measured by `npm run bench`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { finalPostsOf, recordsOf, resultOf, startTestEndpoint, takeOf, workerEnv, type LocalEndpoint } from '../helpers/endpoint-worker.js';
import { postJson } from '../helpers/http-json.js';
import { until } from '../helpers/wait.js';
import { startWorker, type WorkerProcess } from '../helpers/worker-process.js';

/** The platform's round trip: far above the few ms between a handler's return and the next job-take's arrival. */
const LATENCY_MS = 500;

describe('queued jobs on a platform with a round trip', () => {
  let sim: Simulator;
  let ep: LocalEndpoint;
  let worker: WorkerProcess;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 1 });
    ep = await startTestEndpoint({ latencyMs: LATENCY_MS });
  });

  afterAll(async () => {
    if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await ep?.close();
    await sim?.close();
  });

  it("takes the next job while the last result is being posted (job_in_progress=1), and posts every result", async () => {
    const ids = ep.submit([1, 2, 3].map((i) => ({ input: { prompt: `queued ${i}`, steps: 1, width: 64, height: 64 } })));
    worker = startWorker(workerEnv(ep, 'w-held', { A1111_URL: sim.url, RUNPOD_DEBUG_LEVEL: 'INFO' }));
    for (const id of ids) expect(((await resultOf(ep, id)).body as { output: { images: string[] } }).output.images).toHaveLength(1);
    const takes = ids.map((id) => takeOf(ep, id)!).sort((a, b) => a.receivedAt - b.receivedAt);
    const order = takes.map((t) => t.jobIds![0]!);
    expect(takes[0]!.query.job_in_progress).toBe('0');
    for (let i = 1; i < takes.length; i++) {
      const previousPost = finalPostsOf(ep, order[i - 1]!)[0]!;
      expect(takes[i]!.query.job_in_progress, `the job-take of job ${i + 1}`).toBe('1');
      // Sent before the platform answered the previous job's result post (which it answers LATENCY_MS after receiving it).
      expect(takes[i]!.receivedAt, `the job-take of job ${i + 1} against the post of job ${i}`).toBeLessThan(previousPost.answeredAt!);
    }
  });
});

/** A txt2img job of `steps` × 40 ms on the simulator, with a prompt to find it by in the simulator's log. */
const gen = (prompt: string, steps: number, extra: Record<string, unknown> = {}) => ({
  input: { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt, steps, width: 64, height: 64 }, ...extra },
});

/**
 * A simulator (40 ms a step), an emulator and the worker with `env`, started before a describe's tests and
 * stopped after them; `call(prompt)` is the simulator's txt2img call of the job with that prompt.
 */
function takeAheadStack(workerId: string, env: Record<string, string>) {
  const s = {} as { sim: Simulator; ep: LocalEndpoint; worker: WorkerProcess };
  beforeAll(async () => {
    s.sim = await startSimulator({ port: 0, stepMs: 40 });
    s.ep = await startTestEndpoint();
    s.worker = startWorker(workerEnv(s.ep, workerId, { A1111_URL: s.sim.url, RUNPOD_DEBUG_LEVEL: 'INFO', ...env }));
  });
  afterAll(async () => {
    if (s.worker && s.worker.child.exitCode === null) s.worker.child.kill('SIGKILL');
    await s.ep?.close();
    await s.sim?.close();
  });
  const call = (prompt: string) => s.sim.requests.find((r) => r.path === '/sdapi/v1/txt2img' && (r.body as { prompt?: string }).prompt === prompt);
  return { s, call };
}

describe('take-ahead: a job held while the generation before it ends', () => {
  // 100 steps × 40 ms: a 4 s generation, progress polled every 200 ms; the next job is taken 3 s before its end,
  // so that it is held over a heartbeat (1 s) and a job-stop poll (1 s apart).
  const { s: t, call } = takeAheadStack('w-ahead', { RUNPOD_PING_INTERVAL: '1000', PROGRESS_INTERVAL_MS: '200', TAKE_AHEAD_MS: '3000' });

  it('takes the next job before A1111 answered (job_in_progress=1); the heartbeat lists both; the held job starts after', async () => {
    const [first, held] = t.ep.submit([gen('ahead 1', 100), gen('ahead 2', 2)]);
    await resultOf(t.ep, held!);
    await resultOf(t.ep, first!);
    const take = takeOf(t.ep, held!)!;
    expect(take.query.job_in_progress).toBe('1');
    expect(take.answeredAt!).toBeLessThan(call('ahead 1')!.respondedAt);
    expect(call('ahead 2')!.receivedAt).toBeGreaterThanOrEqual(call('ahead 1')!.respondedAt);
    const both = recordsOf(t.ep, 'ping').filter((p) => p.receivedAt < call('ahead 1')!.respondedAt && p.query.job_id?.split(',').includes(held!));
    expect(both.length, 'a ping listing the held job while the first generates').toBeGreaterThan(0);
    expect(both[0]!.query.job_id!.split(',').sort()).toEqual([first!, held!].sort());
  });

  it("a held job's timeout_s counts from its start, not from its job-take", async () => {
    // Held about 3 s, then 2 steps (80 ms): a 1 s timeout counted from the job-take would have expired.
    const [first, timed] = t.ep.submit([gen('timed 1', 100), gen('timed 2', 2, { timeout_s: 1 })]);
    await until(() => takeOf(t.ep, timed!), 'the timed job taken while the first generates');
    expect(((await resultOf(t.ep, timed!)).body as { output?: { images?: string[] } }).output?.images).toHaveLength(1);
    await resultOf(t.ep, first!);
    // The test's premise: the job was held longer than its timeout.
    expect(takeOf(t.ep, timed!)!.answeredAt! + 1000).toBeLessThan(call('timed 2')!.respondedAt);
  });

  it('a cancelled held job is dropped: nothing posted, never sent to A1111; the running job completes', async () => {
    const [first, cancelled] = t.ep.submit([gen('cancel 1', 100), gen('cancel 2', 2)]);
    await until(() => takeOf(t.ep, cancelled!), 'the second job taken while the first generates');
    expect((await postJson(`${t.ep.url}/v2/ep1/cancel/${cancelled}`, {})).status).toBe(200);
    await until(() => t.worker.stdout().split('\n').some((l) => l.includes('Job stopped.') && l.includes(cancelled!)), 'the held job dropped');
    await resultOf(t.ep, first!);
    const next = t.ep.submit([gen('after cancel', 2)])[0]!;
    await resultOf(t.ep, next);
    expect(finalPostsOf(t.ep, cancelled!)).toEqual([]);
    expect(call('cancel 2')).toBeUndefined();
  });

  it('SIGTERM with a held job: the running job and the held one run and are posted, then exit 0', async () => {
    const [first, held] = t.ep.submit([gen('drain 1', 100), gen('drain 2', 2)]);
    await until(() => takeOf(t.ep, held!), 'the second job taken while the first generates');
    t.worker.child.kill('SIGTERM');
    expect(await t.worker.exited).toBe(0);
    expect(finalPostsOf(t.ep, first!).map((r) => r.status)).toEqual([200]);
    expect(((await resultOf(t.ep, held!, 100)).body as { output?: { images?: string[] } }).output?.images).toHaveLength(1);
  });
});

describe('take-ahead of a fast generation: checks while held, the end estimated before the first progress interval', () => {
  // Progress every 5 s: a 1.6 s generation ends before the first regular poll, so only the early polls for the
  // end's estimate (from 50 ms, doubling) can announce it.
  const { s: t, call } = takeAheadStack('w-fast', { PROGRESS_INTERVAL_MS: '5000', TAKE_AHEAD_MS: '500' });

  it('the next job is taken before the 1.6 s generation ends, though no regular progress poll came', async () => {
    const [first, next] = t.ep.submit([gen('fast 1', 40), gen('fast 2', 2)]);
    await resultOf(t.ep, next!);
    await resultOf(t.ep, first!);
    expect(takeOf(t.ep, next!)!.answeredAt!).toBeLessThan(call('fast 1')!.respondedAt);
    expect(call('fast 2')!.receivedAt).toBeGreaterThanOrEqual(call('fast 1')!.respondedAt);
  });

  it('a held job that its checks refuse is posted FAILED while the generation before it runs', async () => {
    // An unknown sampler: refused by the name checks, which run while the job is held (taken 0.5 s before the end).
    const bad = { input: { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'refused 2', sampler_name: 'No Such Sampler' } } };
    const [first, refused] = t.ep.submit([gen('long 1', 100), bad]);
    const failed = await resultOf(t.ep, refused!);
    expect(JSON.stringify(failed.body)).toContain('No Such Sampler');
    await resultOf(t.ep, first!);
    expect(failed.receivedAt).toBeLessThan(call('long 1')!.respondedAt);
    expect(call('refused 2')).toBeUndefined();
  });
});
