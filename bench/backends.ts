/**
 * Several A1111 backends (`A1111_URLS`): one worker, n simulator processes, a burst of queued jobs. Throughput,
 * jobs per backend (the spread), and the worker's own CPU time per job (`/proc/<pid>/stat` before and after the
 * burst, divided by the jobs).
 */
import { startSimProcess } from '../tests/helpers/sim-process.js';
import { cpuTimeMs, handOutAndResult, spawnWorker, startBenchEndpoint, stopWorker } from './harness.js';

/** The job mix: native A1111, SDCN and OpenAI-style requests, 20 steps each. */
const MIX: unknown[] = [
  { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'mix native', steps: 20, width: 512, height: 512, seed: 3 } },
  { api: { method: 'POST', endpoint: '/txt2img' }, payload: { prompt: 'mix sdcn', steps: 20, width: 512, height: 512, seed: 4, loras: [['add_detail', 0.5]] } },
  { api: { method: 'POST', endpoint: '/v1/images/generations' }, payload: { prompt: 'mix openai', steps: 20, size: '512x512', n: 2 } },
];

/** One run of the backends section. */
export interface BackendRun {
  backends: number;
  /** Simulated ms per sampling step (20 steps per job). */
  stepMs: number;
  jobs: number;
  /** First job-take answered → last result received, ms. */
  wallMs: number;
  jobsPerS: number;
  /** txt2img calls each backend served during the burst. */
  perBackend: number[];
  /** The worker's CPU time (user + system) per job over the burst, ms. */
  cpuMsPerJob: number;
}

/**
 * Runs `jobs` jobs of the mix queued at once on one worker with `n` simulator processes at `stepMs` per step,
 * after a warm-up of 2 jobs per backend.
 * @param latencyMs the emulator's round-trip delay, ms
 */
export async function backendRun(n: number, jobs: number, stepMs: number, latencyMs: number): Promise<BackendRun> {
  const sims = await Promise.all(Array.from({ length: n }, () => startSimProcess(['--step-ms', String(stepMs)])));
  const ep = await startBenchEndpoint(latencyMs);
  const worker = spawnWorker('ours', ep, `w-backends-${n}`, { A1111_URLS: sims.map((x) => x.url).join(',') }, { PROGRESS_INTERVAL_MS: '0' });
  try {
    // Warm-up: two jobs per backend at once (every backend ready, connections open, JIT warm).
    const warm = ep.submit(Array.from({ length: n * 2 }, () => ({ input: MIX[0] })));
    await Promise.all(warm.map((id) => handOutAndResult(ep, id, 120_000)));
    const before = await Promise.all(sims.map(async (x) => (await x.requests()).length));
    const cpuBefore = cpuTimeMs(worker.pid!);
    // Queued in one step, as a burst of requests reaches the platform.
    const ids = ep.submit(Array.from({ length: jobs }, (_, i) => ({ input: MIX[i % MIX.length] })));
    const results = await Promise.all(ids.map((id) => handOutAndResult(ep, id, 300_000)));
    const cpuMs = cpuTimeMs(worker.pid!) - cpuBefore;
    for (const { done } of results) {
      if (done.bytes < 1000) throw new Error(`job ${done.jobId} has no image result (${done.bytes} bytes)`);
    }
    const start = Math.min(...results.map((r) => r.take.answeredAt!));
    const end = Math.max(...results.map((r) => r.done.receivedAt));
    const perBackend = await Promise.all(sims.map(async (x, i) => (await x.requests(before[i])).filter((r) => r.path === '/sdapi/v1/txt2img').length));
    return { backends: n, stepMs, jobs, wallMs: end - start, jobsPerS: jobs / ((end - start) / 1000), perBackend, cpuMsPerJob: cpuMs / jobs };
  } finally {
    await stopWorker(worker);
    await Promise.all(sims.map((x) => x.close()));
    await ep.close();
  }
}

/** Simulated ms per step of the scaling runs (200 ms jobs) and of the short-job run (~25 ms jobs). */
export const BACKEND_STEP_MS = { long: 10, short: 1 } as const;

/** The section: 1, 2 and 4 backends with 200 ms jobs (60 each), then 4 backends with short jobs (200). */
export async function runBackends(latencyMs: number): Promise<BackendRun[]> {
  const out: BackendRun[] = [];
  for (const n of [1, 2, 4]) out.push(await backendRun(n, 60, BACKEND_STEP_MS.long, latencyMs));
  out.push(await backendRun(4, 200, BACKEND_STEP_MS.short, latencyMs));
  return out;
}
