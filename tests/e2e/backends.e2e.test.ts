/**
 * End to end, several A1111 backends (issue 6 item 5): the built worker in platform mode with `A1111_URLS` of two
 * simulator processes, against the local endpoint emulator. Concurrency = ready backends, job-take-batch when both
 * are free, no job-take while both are busy (docs/runpod-protocol.md, "Acquisition loop and timing"), jobs spread
 * over both and run at the same time, jobs one at a time alternate between them; a backend killed mid-job fails that job without `stopPod` and the worker
 * carries on with one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { at, recordsOf, resultOf, startTestEndpoint, takeOf, workerEnv, type LocalEndpoint, type ResultRecord } from '../helpers/endpoint-worker.js';
import { startSimProcess, type SimProcess, type SimLogRecord } from '../helpers/sim-process.js';
import { now, until } from '../helpers/wait.js';
import { startWorker, type WorkerProcess } from '../helpers/worker-process.js';

let sims: SimProcess[];
let ep: LocalEndpoint;
let worker: WorkerProcess;

const job = (prompt: string, steps: number) => ({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt, steps, width: 64, height: 64 } });
const body = (r: ResultRecord) => r.body as { output?: { images?: string[] }; error?: string; stopPod?: boolean };

async function generations(s: SimProcess): Promise<SimLogRecord[]> {
  return (await s.requests()).filter((r) => r.path === '/sdapi/v1/txt2img');
}

beforeAll(async () => {
  sims = [await startSimProcess(['--step-ms', '20']), await startSimProcess(['--step-ms', '20'])];
  ep = await startTestEndpoint();
  worker = startWorker(
    workerEnv(ep, 'w-multi', {
      A1111_URLS: sims.map((s) => s.url).join(','),
      RUNPOD_PING_INTERVAL: '1000',
      RESULT_POST_MIN_DELAY_MS: '50',
      RUNPOD_DEBUG_LEVEL: 'INFO',
      PROGRESS_INTERVAL_MS: '0',
    }),
  );
  await until(() => /A1111 ready at .* \(2 of 2 ready\)\./.test(worker.stdout()), { timeoutMs: 15_000, what: 'both backends ready' });
  // A single job-take long-poll started while only one backend was ready ends (204) after the platform's hold; from
  // the first job-take-batch answered on, the worker takes for both.
  await until(() => recordsOf(ep, 'take').some((r) => r.url.includes('/job-take-batch/')), 'a job-take-batch answered (both backends free)');
});

afterAll(async () => {
  if (worker?.child.exitCode === null) worker.child.kill('SIGKILL');
  await ep?.close();
  for (const s of sims ?? []) await s.close();
});

describe('two A1111 backends', () => {
  it('takes jobs two at a time through job-take-batch, runs them at once on both backends, and takes no job while both are busy', async () => {
    const t0 = now();
    // 40 steps × 20 ms: 0.8 s each, so that the two on different backends overlap even on a busy machine. Queued in
    // one step, so that the held job-take-batch can get two.
    const ids = ep.submit(['a', 'b', 'c', 'd'].map((x) => ({ input: job(`parallel ${x}`, 40) })));
    const results = await Promise.all(ids.map((id) => resultOf(ep, id, 30_000)));
    for (const r of results) expect(body(r).output?.images).toHaveLength(1);

    const takes = recordsOf(ep, 'take', t0);
    const batch = takes.find((t) => t.status === 200);
    expect(batch?.url).toMatch(/^\/v2\/ep1\/job-take-batch\/w-multi\?gpu=NVIDIA\+H200&batch_size=2&job_in_progress=0$/);
    expect(batch?.jobIds).toEqual(ids.slice(0, 2));
    // Both busy from the batch until A1111's first answer: no job-take answered in between. (A backend is free once
    // its answer is in: the next job-take does not wait for the result post.)
    const [g0, g1] = [await generations(sims[0]!), await generations(sims[1]!)];
    // No answer can come before 40 steps of 20 ms after the request reached the simulator (its steps sleep): a
    // bound from the causal order, not from the simulator's own end-of-response time, which a busy machine delays.
    const firstFree = Math.min(g0[0]!.receivedAt, g1[0]!.receivedAt) + 40 * 20;
    expect(takes.filter((t) => at(t) > at(batch!) + 1 && at(t) < firstFree - 2)).toEqual([]);

    expect(g0).toHaveLength(2);
    expect(g1).toHaveLength(2);
    // The first job on each backend ran at the same time as the other's.
    expect(g0[0]!.receivedAt).toBeLessThan(g1[0]!.respondedAt);
    expect(g1[0]!.receivedAt).toBeLessThan(g0[0]!.respondedAt);
  });

  it('jobs one at a time (both backends idle at each lease) alternate between the backends', async () => {
    const before = await Promise.all(sims.map(async (s) => (await generations(s)).length));
    for (const x of [1, 2, 3, 4]) {
      const [id] = ep.submit([{ input: job(`one at a time ${x}`, 2) }]);
      expect(body(await resultOf(ep, id!, 30_000)).output?.images).toHaveLength(1);
    }
    const after = await Promise.all(sims.map(async (s) => (await generations(s)).length));
    expect(after.map((n, i) => n - before[i]!)).toEqual([2, 2]);
  });

  it('a backend killed mid-job: that job FAILS without stopPod, the other backend keeps serving one job at a time', async () => {
    const before = (await generations(sims[1]!)).length;
    const [long0, long1] = ep.submit([{ input: job('on backend 0', 100) }, { input: job('on backend 1', 100) }]) as [string, string];
    await until(() => takeOf(ep, long1), 'both jobs handed out');
    // Wait until backend 1 runs its job, then kill it.
    await until(async () => (await generations(sims[1]!)).length > before, { everyMs: 20, what: 'backend 1 to get its job' });
    sims[1]!.child.kill('SIGKILL');
    const [r0, r1] = await Promise.all([resultOf(ep, long0, 30_000), resultOf(ep, long1, 30_000)]);
    const onDead = [r0, r1].find((r) => body(r).error !== undefined)!;
    const onLive = [r0, r1].find((r) => body(r).error === undefined)!;
    expect(body(onDead)).toEqual({ error: expect.stringMatching(/^A1111 unreachable on POST \/sdapi\/v1\/txt2img: /) });
    expect(body(onLive).output?.images).toHaveLength(1);
    expect(worker.stdout()).toMatch(/A1111 at http:\/\/127\.0\.0\.1:\d+ is unreachable: taken out of the pool and re-probed \(1 of 2 ready\)\./);

    const t1 = now();
    const after = ep.submit([{ input: job('after 0', 2) }, { input: job('after 1', 2) }]);
    for (const id of after) expect(body(await resultOf(ep, id, 30_000)).output?.images).toHaveLength(1);
    const later = recordsOf(ep, 'take', t1).filter((r) => r.status === 200);
    expect(later.map((t) => t.jobIds)).toEqual(after.map((id) => [id]));
    for (const t of later) expect(t.url).toMatch(/\/job-take\/w-multi\?/);
    expect(worker.child.exitCode).toBeNull();
  });
});
