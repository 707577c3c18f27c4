/**
 * Per-job cost against the floor: our worker and the raw pass-through worker (`raw-worker.ts`), each with its own
 * emulator and simulator (`--step-ms 0`), run the same jobs one at a time, alternating (ours, raw, ours, …) so
 * that both see the same machine load. Each job type: the worker's own time per job (job-take answered →
 * job-done received, minus A1111's time), median and p90, and its CPU time per job.
 */
import { benchCpu, cpuTimeMs, peakRss, quantile, startRig, timeOneJob, type JobTiming, type Rig } from './harness.js';

/** A job type of the cost section. */
export interface CostJob {
  label: string;
  /** The job's `input` (the same for both workers; the raw worker reads `payload`). */
  input: unknown;
  /** Jobs timed per worker (after the warm-up). */
  n: number;
  /** The target for ours / raw. */
  targetRatio: number;
}

const txt2img = (payload: Record<string, unknown>): unknown => ({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload });

/** The job types: a small job at 64×64 and at 512×512 (≤ 1.5× the floor), a ≥ 16 MB result (≤ 1.05×). */
export const COST_JOBS: readonly CostJob[] = [
  { label: 'small: 1 × 64×64', input: txt2img({ prompt: 'a tiny benchmark image', steps: 20, width: 64, height: 64, seed: 5 }), n: 1000, targetRatio: 1.5 },
  { label: 'small: 1 × 512×512', input: txt2img({ prompt: 'a small benchmark image', steps: 20, width: 512, height: 512, seed: 1 }), n: 1000, targetRatio: 1.5 },
  { label: 'large: 8 × 1024×1024', input: txt2img({ prompt: 'a large benchmark batch', steps: 20, width: 1024, height: 1024, batch_size: 8, seed: 2 }), n: 60, targetRatio: 1.05 },
];

/** One worker's figures for one job type. */
export interface WorkerCost {
  medianMs: number;
  p90Ms: number;
  /** Worker CPU time (user + system) per job, ms. */
  cpuMsPerJob: number;
  /** Median A1111 (simulator) time, ms. */
  a1111Ms: number;
  /** Median final job-done body, bytes. */
  bytes: number;
}

/** Ours and raw for one job type. */
export interface CostRow {
  job: CostJob;
  ours: WorkerCost;
  raw: WorkerCost;
}

/** The cost section's figures. */
export interface CostResult {
  rows: CostRow[];
  /** Peak RSS (VmHWM) after every job of the section, bytes. */
  peakRss: { ours: number; raw: number };
  /** The largest final job-done body seen, bytes. */
  largestResult: number;
  /** The CPU both workers ran on ({@link benchCpu}); undefined when they were not pinned. */
  cpu: number | undefined;
}

function summarise(ts: JobTiming[], cpuMs: number): WorkerCost {
  const over = ts.map((t) => t.overheadMs);
  return {
    medianMs: quantile(over, 0.5),
    p90Ms: quantile(over, 0.9),
    cpuMsPerJob: cpuMs / ts.length,
    a1111Ms: quantile(
      ts.map((t) => t.a1111Ms),
      0.5,
    ),
    bytes: quantile(
      ts.map((t) => t.bytes),
      0.5,
    ),
  };
}

/** Runs `n` jobs of `input` on each rig, alternating; returns each rig's timings and CPU time, ms. */
async function alternate(rigs: readonly Rig[], input: unknown, n: number): Promise<{ timings: JobTiming[][]; cpuMs: number[] }> {
  const timings: JobTiming[][] = rigs.map(() => []);
  const before = rigs.map((r) => cpuTimeMs(r.worker.pid!));
  for (let i = 0; i < n; i++) {
    for (const [k, rig] of rigs.entries()) timings[k]!.push(await timeOneJob(rig, input));
  }
  return { timings, cpuMs: rigs.map((r, k) => cpuTimeMs(r.worker.pid!) - before[k]!) };
}

/**
 * Runs the cost section: warm-up (20 small and 2 large jobs each: JIT, connections, our worker's readiness), then
 * every job type of {@link COST_JOBS}.
 * @param latencyMs the emulator's round-trip delay (`--rp_latency_ms`); the overhead excludes it
 * @param cpuProfDir when set, both workers run with `node --cpu-prof` into this folder (`ours-worker.cpuprofile`,
 *   `raw-worker.cpuprofile`, written when they exit on SIGINT); the profile adds to the figures
 */
export async function runCost(latencyMs: number, cpuProfDir?: string): Promise<CostResult> {
  const cpu = benchCpu();
  const ours = await startRig('ours', latencyMs, ['--step-ms', '0'], { MAX_RESULT_MB: '25' }, cpuProfDir, cpu);
  const raw = await startRig('raw', latencyMs, ['--step-ms', '0'], {}, cpuProfDir, cpu);
  const rigs = [ours, raw];
  try {
    await alternate(rigs, COST_JOBS[1]!.input, 20);
    await alternate(rigs, COST_JOBS[2]!.input, 2);
    const rows: CostRow[] = [];
    let largestResult = 0;
    for (const job of COST_JOBS) {
      const { timings, cpuMs } = await alternate(rigs, job.input, job.n);
      rows.push({ job, ours: summarise(timings[0]!, cpuMs[0]!), raw: summarise(timings[1]!, cpuMs[1]!) });
      largestResult = Math.max(largestResult, ...timings[0]!.map((t) => t.bytes));
    }
    return { rows, peakRss: { ours: peakRss(ours.worker.pid!), raw: peakRss(raw.worker.pid!) }, largestResult, cpu };
  } finally {
    await ours.close();
    await raw.close();
  }
}
