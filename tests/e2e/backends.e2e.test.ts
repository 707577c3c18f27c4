/**
 * End to end, several A1111 backends (issue 6 item 5): the built worker in platform mode with `A1111_URLS` of two
 * simulator processes, against the loopback worker-protocol server. Concurrency = ready backends, job-take-batch
 * when both are free (protocol spec §4.1), no job-take while both are busy (§4.3), jobs spread over both and run at
 * the same time; a backend killed mid-job fails that job without `stopPod` and the worker carries on with one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform, type PlatformRecord } from '../helpers/platform.js';
import { startSimProcess, type SimProcess, type SimLogRecord } from '../helpers/sim-process.js';
import { until } from '../helpers/wait.js';
import { startWorker, type WorkerProcess } from '../helpers/worker-process.js';

let sims: SimProcess[];
let platform: Platform;
let worker: WorkerProcess;

const job = (prompt: string, steps: number) => ({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt, steps, width: 64, height: 64 } });
const body = (r: PlatformRecord) => r.body as { output?: { images?: string[] }; error?: string; stopPod?: boolean };

async function generations(s: SimProcess): Promise<SimLogRecord[]> {
  return (await s.requests()).filter((r) => r.path === '/sdapi/v1/txt2img');
}

beforeAll(async () => {
  sims = [await startSimProcess(['--step-ms', '20']), await startSimProcess(['--step-ms', '20'])];
  platform = await startPlatform({ holdMs: 300 });
  worker = startWorker(
    platform.env('w-multi', {
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
  await until(() => platform.records.some((r) => r.kind === 'take' && r.url.includes('/job-take-batch/')), 'a job-take-batch (both backends free)');
});

afterAll(async () => {
  if (worker?.child.exitCode === null) worker.child.kill('SIGKILL');
  await platform?.close();
  for (const s of sims ?? []) await s.close();
});

describe('two A1111 backends', () => {
  it('takes jobs two at a time through job-take-batch, runs them at once on both backends, and takes no job while both are busy', async () => {
    const takesBefore = platform.records.filter((r) => r.kind === 'take').length;
    const ids = ['a', 'b', 'c', 'd'];
    // 40 steps × 20 ms: 0.8 s each, so that the two on different backends overlap even on a busy machine.
    for (const id of ids) platform.enqueue({ id, input: job(`parallel ${id}`, 40) });
    const results = await Promise.all(ids.map((id) => platform.waitForResult(id, 30_000)));
    for (const r of results) expect(body(r).output?.images).toHaveLength(1);

    const takes = platform.records.filter((r) => r.kind === 'take').slice(takesBefore);
    const batch = takes.find((t) => t.status === 200);
    expect(batch?.url).toMatch(/^\/v2\/ep1\/job-take-batch\/w-multi\?gpu=NVIDIA\+H200&batch_size=2&job_in_progress=0$/);
    expect(batch?.jobId).toBe('a,b');
    // Both busy from the batch until the first result: no job-take answered in between.
    const firstDone = Math.min(...results.slice(0, 2).map((r) => r.at));
    expect(takes.filter((t) => t.at > batch!.at + 1 && t.at < firstDone - 1)).toEqual([]);

    const [g0, g1] = [await generations(sims[0]!), await generations(sims[1]!)];
    expect(g0).toHaveLength(2);
    expect(g1).toHaveLength(2);
    // The first job on each backend ran at the same time as the other's.
    expect(g0[0]!.receivedAt).toBeLessThan(g1[0]!.respondedAt);
    expect(g1[0]!.receivedAt).toBeLessThan(g0[0]!.respondedAt);
  });

  it('a backend killed mid-job: that job FAILS without stopPod, the other backend keeps serving one job at a time', async () => {
    const before = (await generations(sims[1]!)).length;
    platform.enqueue({ id: 'long-0', input: job('on backend 0', 100) });
    platform.enqueue({ id: 'long-1', input: job('on backend 1', 100) });
    await until(() => platform.handedOut.has('long-1'), 'both jobs handed out');
    // Wait until backend 1 runs its job, then kill it.
    await until(async () => (await generations(sims[1]!)).length > before, { everyMs: 20, what: 'backend 1 to get its job' });
    sims[1]!.child.kill('SIGKILL');
    const [r0, r1] = await Promise.all([platform.waitForResult('long-0', 30_000), platform.waitForResult('long-1', 30_000)]);
    const onDead = [r0, r1].find((r) => body(r).error !== undefined)!;
    const onLive = [r0, r1].find((r) => body(r).error === undefined)!;
    expect(body(onDead)).toEqual({ error: expect.stringMatching(/^A1111 unreachable on POST \/sdapi\/v1\/txt2img: /) });
    expect(body(onLive).output?.images).toHaveLength(1);
    expect(worker.stdout()).toMatch(/A1111 at http:\/\/127\.0\.0\.1:\d+ is unreachable: taken out of the pool and re-probed \(1 of 2 ready\)\./);

    const recordsBefore = platform.records.length;
    platform.enqueue({ id: 'after-0', input: job('after 0', 2) });
    platform.enqueue({ id: 'after-1', input: job('after 1', 2) });
    for (const id of ['after-0', 'after-1']) expect(body(await platform.waitForResult(id, 30_000)).output?.images).toHaveLength(1);
    const later = platform.records.slice(recordsBefore).filter((r) => r.kind === 'take' && r.status === 200);
    expect(later.map((t) => t.jobId)).toEqual(['after-0', 'after-1']);
    for (const t of later) expect(t.url).toMatch(/\/job-take\/w-multi\?/);
    expect(worker.child.exitCode).toBeNull();
  });
});
