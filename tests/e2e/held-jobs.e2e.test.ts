/**
 * End to end: the built worker against the endpoint emulator with a platform round trip (`latencyMs`: every
 * worker-API call is answered that long after it arrived) and the A1111 simulator. A result post and the next
 * job-take do not wait on each other: the slot frees when the handler returns, and the job stays held
 * (`job_in_progress=1` on the take) until its post ended. Ordering only; the idle time itself is measured by
 * `npm run bench`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { finalPostsOf, resultOf, startTestEndpoint, takeOf, workerEnv, type LocalEndpoint } from '../helpers/endpoint-worker.js';
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
