/**
 * A1111's idle time between queued jobs: with the emulator answering every worker-API call `latencyMs` late (a
 * platform round trip), {@link IDLE_JOBS} jobs are queued at once and run on one simulated GPU; from the
 * simulator's request log, the gap between one txt2img's response sent and the next txt2img's request received.
 * For our worker (default settings) and for the raw pass-through worker, which waits for both round trips (the
 * result post, then the next job-take).
 */
import { handOutAndResult, quantile, startRig, type WorkerKind } from './harness.js';

/** The platform round trips measured, ms. */
export const IDLE_LATENCIES_MS = [0, 50, 150] as const;
/** Jobs queued at once per measurement (gaps: one fewer). */
export const IDLE_JOBS = 12;
/** Simulated sampling step, ms: 20 steps make a 300 ms generation, a fast model's (LCM, Turbo: 0.3–1 s). */
export const IDLE_STEP_MS = 15;

const JOB = { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'a queued benchmark image', steps: 20, width: 512, height: 512, seed: 7 } };

/** The idle gaps of one worker at one round trip. */
export interface IdleGap {
  kind: WorkerKind;
  latencyMs: number;
  medianMs: number;
  maxMs: number;
  /** Gaps measured. */
  n: number;
}

/**
 * Measures the gaps of a worker of `kind` at `latencyMs`: 2 warm-up jobs, then {@link IDLE_JOBS} queued at once.
 * @throws when a job's result does not come within 2 minutes
 */
export async function idleGap(kind: WorkerKind, latencyMs: number): Promise<IdleGap> {
  const rig = await startRig(kind, latencyMs, ['--step-ms', String(IDLE_STEP_MS)]);
  try {
    for (const id of rig.ep.submit([{ input: JOB }, { input: JOB }])) await handOutAndResult(rig.ep, id, 120_000);
    const since = (await rig.sim.requests()).length;
    const ids = rig.ep.submit(Array.from({ length: IDLE_JOBS }, () => ({ input: JOB })));
    await Promise.all(ids.map((id) => handOutAndResult(rig.ep, id, 120_000)));
    const gen = (await rig.sim.requests(since)).filter((r) => r.path === '/sdapi/v1/txt2img').sort((a, b) => a.receivedAt - b.receivedAt);
    if (gen.length !== IDLE_JOBS) throw new Error(`${kind}: expected ${IDLE_JOBS} txt2img calls, saw ${gen.length}`);
    const gaps = gen.slice(1).map((r, i) => r.receivedAt - gen[i]!.respondedAt);
    return { kind, latencyMs, medianMs: quantile(gaps, 0.5), maxMs: Math.max(...gaps), n: gaps.length };
  } finally {
    await rig.close();
  }
}

/** {@link idleGap} for ours and raw at every round trip of {@link IDLE_LATENCIES_MS}, in that order. */
export async function runIdle(): Promise<IdleGap[]> {
  const out: IdleGap[] = [];
  for (const latencyMs of IDLE_LATENCIES_MS) {
    for (const kind of ['ours', 'raw'] as const) out.push(await idleGap(kind, latencyMs));
  }
  return out;
}
