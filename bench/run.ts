/**
 * `npm run bench`: the worker's own cost per job, its throughput on a large response and its peak memory.
 *
 * Set-up: the A1111 simulator in a child process, a loopback RunPod worker-protocol server in this process,
 * and the built worker (`dist/handler/main.js`) as a child process in platform mode — the production path.
 *
 * Per-job worker overhead = (job-done received − job-take answered) at the platform − (A1111's own time:
 * response sent − request received, measured in the simulator). Both clocks are `performance.timeOrigin +
 * performance.now()` on the same machine.
 *
 * Writes bench/RESULTS.md (figures, command, machine).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPlatform, type Platform } from '../tests/helpers/platform.js';
import { startSimProcess, type SimProcess } from '../tests/helpers/sim-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Peak resident set size (VmHWM) of a process, bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function runJobs(platform: Platform, sim: SimProcess, prefix: string, n: number, input: unknown): Promise<{ overheadMs: number[]; a1111Ms: number[]; bytes: number[] }> {
  const overheadMs: number[] = [];
  const a1111Ms: number[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    const since = (await sim.requests()).length;
    platform.enqueue({ id, input });
    const done = await platform.waitForResult(id, 120_000);
    const handed = platform.handedOut.get(id)!;
    const gen = (await sim.requests(since)).filter((r) => r.path === '/sdapi/v1/txt2img');
    if (gen.length !== 1) throw new Error(`expected 1 txt2img call for ${id}, saw ${gen.length}`);
    const a = gen[0]!.respondedAt - gen[0]!.receivedAt;
    a1111Ms.push(a);
    overheadMs.push(done.at - handed - a);
    bytes.push(done.bytes ?? 0);
  }
  return { overheadMs, a1111Ms, bytes };
}

/** The job mix of the backends benchmark: native A1111, SDCN and OpenAI-style requests, 20 steps each. */
const MIX: unknown[] = [
  { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'mix native', steps: 20, width: 512, height: 512, seed: 3 } },
  { api: { method: 'POST', endpoint: '/txt2img' }, payload: { prompt: 'mix sdcn', steps: 20, width: 512, height: 512, seed: 4, loras: [['add_detail', 0.5]] } },
  { api: { method: 'POST', endpoint: '/v1/images/generations' }, payload: { prompt: 'mix openai', steps: 20, size: '512x512', n: 2 } },
];

/** Milliseconds per sampling step of the simulated GPUs in the backends benchmark. */
const BACKEND_STEP_MS = 10;

/**
 * Throughput of one worker on `n` simulated A1111 backends (`A1111_URLS`), each a simulator process at
 * {@link BACKEND_STEP_MS} per step: `jobs` jobs of {@link MIX} queued at once, wall time from the first job-take
 * answered to the last result received.
 * @returns jobs per second, and how many jobs each backend ran
 */
async function backendThroughput(n: number, jobs: number): Promise<{ jobsPerS: number; wallMs: number; perBackend: number[] }> {
  const sims = await Promise.all(Array.from({ length: n }, () => startSimProcess(['--step-ms', String(BACKEND_STEP_MS)])));
  const platform = await startPlatform({ holdMs: 1000, keepBodies: false });
  const worker = spawn(process.execPath, [path.join(root, 'dist/handler/main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      ...platform.env(`w-backends-${n}`, { A1111_URLS: sims.map((x) => x.url).join(','), RUNPOD_DEBUG_LEVEL: 'WARN', RUNPOD_PING_INTERVAL: '10000', A1111_WARMUP: 'false', PROGRESS_INTERVAL_MS: '0' }),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    // Warm-up: one job per backend at once (every backend ready, connections open, JIT warm).
    const warm = Array.from({ length: n * 2 }, (_, i) => `warm-${n}-${i}`);
    for (const id of warm) platform.enqueue({ id, input: MIX[0] });
    await Promise.all(warm.map((id) => platform.waitForResult(id, 120_000)));
    const before = await Promise.all(sims.map(async (x) => (await x.requests()).length));
    const ids = Array.from({ length: jobs }, (_, i) => `mix-${n}-${i}`);
    ids.forEach((id, i) => platform.enqueue({ id, input: MIX[i % MIX.length] }));
    const results = await Promise.all(ids.map((id) => platform.waitForResult(id, 300_000)));
    for (const r of results) {
      if (r.bytes === undefined || r.bytes < 1000) throw new Error(`job ${r.jobId} has no image result (${r.bytes} bytes)`);
    }
    const start = Math.min(...ids.map((id) => platform.handedOut.get(id)!));
    const end = Math.max(...results.map((r) => r.at));
    const perBackend = await Promise.all(
      sims.map(async (x, i) => (await x.requests(before[i])).filter((r) => r.path === '/sdapi/v1/txt2img').length),
    );
    return { jobsPerS: jobs / ((end - start) / 1000), wallMs: end - start, perBackend };
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await Promise.all(sims.map((x) => x.close()));
    await platform.close();
  }
}

async function main(): Promise<void> {
  const sim = await startSimProcess(['--step-ms', '0']);
  const platform = await startPlatform({ holdMs: 1000, keepBodies: false });
  const worker = spawn(process.execPath, [path.join(root, 'dist/handler/main.js')], {
    env: { PATH: process.env.PATH ?? '', ...platform.env('w-bench', { A1111_URL: sim.url, RUNPOD_DEBUG_LEVEL: 'WARN', RUNPOD_PING_INTERVAL: '10000', A1111_WARMUP: 'false', MAX_RESULT_MB: '25' }) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    const small = { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'a small benchmark image', steps: 20, width: 512, height: 512, seed: 1 } };
    const large = { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'a large benchmark batch', steps: 20, width: 1024, height: 1024, batch_size: 8, seed: 2 } };
    await runJobs(platform, sim, 'warm', 20, small); // JIT and connection warm-up
    await runJobs(platform, sim, 'warm-large', 2, large);
    const s = await runJobs(platform, sim, 'small', 200, small);
    const l = await runJobs(platform, sim, 'large', 10, large);
    const rss = peakRss(worker.pid!);
    const one = await backendThroughput(1, 60);
    const two = await backendThroughput(2, 60);
    const speedup = two.jobsPerS / one.jobsPerS;

    const smallMedian = quantile(s.overheadMs, 0.5);
    const smallP90 = quantile(s.overheadMs, 0.9);
    const largeMedian = quantile(l.overheadMs, 0.5);
    const largeBytes = quantile(l.bytes, 0.5);
    const mbps = largeBytes / 1e6 / (largeMedian / 1000);
    const rssLimit = 3 * Math.max(...l.bytes) + 150 * 1024 * 1024;
    const ok = (b: boolean): string => (b ? 'met' : '**not met**');

    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const md = `# Benchmark results

Command: \`npm run bench\` (built worker as a child process in platform mode; loopback RunPod worker-protocol
server; A1111 simulator in its own process with \`--step-ms 0\`). Overhead = job-take answered → job-done
received, minus A1111's own time (simulator: request received → response sent).

Machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.versions.node}.
Date: ${new Date().toISOString()}.

| measure | value | target |
|---|---|---|
| small job (1 × 512×512 PNG, ${(quantile(s.bytes, 0.5) / 1e6).toFixed(2)} MB result), worker overhead median | ${smallMedian.toFixed(2)} ms (p90 ${smallP90.toFixed(2)} ms, n=${s.overheadMs.length}) | ≤ 3 ms: ${ok(smallMedian <= 3)} |
| large job (8 × 1024×1024 PNG, ${(largeBytes / 1e6).toFixed(1)} MB result), worker overhead median | ${largeMedian.toFixed(1)} ms (n=${l.overheadMs.length}) | — |
| large job throughput (result bytes / overhead) | ${mbps.toFixed(0)} MB/s | ≥ 300 MB/s: ${ok(mbps >= 300)} |
| worker peak RSS (VmHWM) | ${(rss / 2 ** 20).toFixed(0)} MiB | ≤ 3 × largest result + 150 MB = ${(rssLimit / 2 ** 20).toFixed(0)} MiB: ${ok(rss <= rssLimit)} |
| A1111 (simulator) time, median small / large | ${quantile(s.a1111Ms, 0.5).toFixed(1)} ms / ${quantile(l.a1111Ms, 0.5).toFixed(1)} ms | (excluded) |

Several A1111 backends (\`A1111_URLS\`, one simulator process per backend at ${BACKEND_STEP_MS} ms per step; 60 jobs
queued at once, mixing native txt2img, SDCN \`/txt2img\` with a LoRA and OpenAI \`/v1/images/generations\` with
\`n: 2\`, 20 steps each; wall time from the first job handed out to the last result received):

| backends | wall time | throughput | jobs per backend |
|---|---|---|---|
| 1 | ${(one.wallMs / 1000).toFixed(2)} s | ${one.jobsPerS.toFixed(2)} jobs/s | ${one.perBackend.join(' / ')} |
| 2 | ${(two.wallMs / 1000).toFixed(2)} s | ${two.jobsPerS.toFixed(2)} jobs/s | ${two.perBackend.join(' / ')} |
| 2 vs 1 | | **×${speedup.toFixed(2)}** | target ≥ ×1.8: ${ok(speedup >= 1.8)} |
`;
    writeFileSync(path.join(root, 'bench/RESULTS.md'), md);
    process.stdout.write(md);
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await sim.close();
    await platform.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
