/**
 * `npm run bench`: the worker's own cost per job, its throughput on a large response and its peak memory.
 *
 * Set-up: the A1111 simulator in a child process, the local endpoint emulator (`startEndpoint`, recording every
 * worker-API request) in this process, and the built worker (`dist/handler/main.js`) as a child process in
 * platform mode — the production path.
 *
 * Per-job worker overhead = (job-done received − job-take answered) at the emulator − (A1111's own time:
 * response sent − request received, measured in the simulator). Both clocks are `performance.timeOrigin +
 * performance.now()` on the same machine.
 *
 * Flags: `--rp_latency_ms N` delays every worker-API answer of the emulator by N ms (a platform round trip);
 * default 0. `npm run bench -- --rp_latency_ms 20`.
 *
 * Writes bench/RESULTS.md (figures, command, machine), keeping its closing "History" paragraph.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startEndpoint, type LocalEndpoint, type WorkerApiRecord } from '../handler/endpoint/index.js';
import { startSimProcess, type SimProcess } from '../tests/helpers/sim-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const { values: flags } = parseArgs({ options: { rp_latency_ms: { type: 'string', default: '0' } } });
/** Platform round-trip delay of the emulator, ms (`--rp_latency_ms`). */
const LATENCY_MS = Number(flags.rp_latency_ms);
if (!Number.isFinite(LATENCY_MS) || LATENCY_MS < 0) throw new Error(`--rp_latency_ms must be a number of ms >= 0, got ${flags.rp_latency_ms}`);

/**
 * The emulator for one worker: every worker-API request recorded (no bodies), results up to 64 MB, a final job
 * dropped at once (the bench reads the records, not `/status`; kept results would grow this process's heap and its
 * GC pauses, which slow the reading of the next result).
 */
function startBenchEndpoint(): Promise<LocalEndpoint> {
  return startEndpoint({
    port: 0,
    endpointId: 'bench',
    takeHoldMs: 1000,
    recordRequests: true,
    resultLimitRunBytes: 64 * 1024 * 1024,
    retentionRunMs: 0,
    latencyMs: LATENCY_MS,
  });
}

/** The env of a worker pointed at `ep` (as RunPod injects it), then `extra`. */
function workerEnv(ep: LocalEndpoint, workerId: string, extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', RUNPOD_POD_ID: workerId, RUNPOD_AI_API_KEY: 'bench-key', ...ep.workerEnv(), ...extra };
}

/** The job-take that handed out `jobId` (answered) and the final job-done post of it (answered), once both exist. */
async function handOutAndResult(ep: LocalEndpoint, jobId: string, timeoutMs: number): Promise<{ take: WorkerApiRecord; done: WorkerApiRecord }> {
  const done = await ep.waitForRequest((r) => r.kind === 'done' && r.jobId === jobId && r.progress === false && r.status === 200, `result of job ${jobId}`, timeoutMs);
  const take = ep.requests().find((r) => r.kind === 'take' && r.status === 200 && r.jobIds?.includes(jobId));
  if (!take) throw new Error(`no job-take handed out ${jobId}`);
  return { take, done };
}

/** The closing "History" paragraph of the current bench/RESULTS.md ('' when there is none). */
function historyParagraph(file: string): string {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const i = text.indexOf('\nHistory on this machine');
  return i < 0 ? '' : text.slice(i);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Peak resident set size (VmHWM) of a process, bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function runJobs(ep: LocalEndpoint, sim: SimProcess, n: number, input: unknown): Promise<{ overheadMs: number[]; a1111Ms: number[]; bytes: number[] }> {
  const overheadMs: number[] = [];
  const a1111Ms: number[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < n; i++) {
    const since = (await sim.requests()).length;
    const [id] = ep.submit([{ input }]) as [string];
    const { take, done } = await handOutAndResult(ep, id, 120_000);
    const handed = take.answeredAt!;
    const gen = (await sim.requests(since)).filter((r) => r.path === '/sdapi/v1/txt2img');
    if (gen.length !== 1) throw new Error(`expected 1 txt2img call for ${id}, saw ${gen.length}`);
    const a = gen[0]!.respondedAt - gen[0]!.receivedAt;
    a1111Ms.push(a);
    overheadMs.push(done.receivedAt - handed - a);
    bytes.push(done.bytes);
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
  const ep = await startBenchEndpoint();
  const worker = spawn(process.execPath, [path.join(root, 'dist/handler/main.js')], {
    env: workerEnv(ep, `w-backends-${n}`, { A1111_URLS: sims.map((x) => x.url).join(','), RUNPOD_DEBUG_LEVEL: 'WARN', RUNPOD_PING_INTERVAL: '10000', A1111_WARMUP: 'false', PROGRESS_INTERVAL_MS: '0' }),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    // Warm-up: one job per backend at once (every backend ready, connections open, JIT warm).
    const warm = ep.submit(Array.from({ length: n * 2 }, () => ({ input: MIX[0] })));
    await Promise.all(warm.map((id) => handOutAndResult(ep, id, 120_000)));
    const before = await Promise.all(sims.map(async (x) => (await x.requests()).length));
    // Queued in one step, as a burst of requests reaches the platform.
    const ids = ep.submit(Array.from({ length: jobs }, (_, i) => ({ input: MIX[i % MIX.length] })));
    const results = await Promise.all(ids.map((id) => handOutAndResult(ep, id, 300_000)));
    for (const { done } of results) {
      if (done.bytes < 1000) throw new Error(`job ${done.jobId} has no image result (${done.bytes} bytes)`);
    }
    const start = Math.min(...results.map((r) => r.take.answeredAt!));
    const end = Math.max(...results.map((r) => r.done.receivedAt));
    const perBackend = await Promise.all(
      sims.map(async (x, i) => (await x.requests(before[i])).filter((r) => r.path === '/sdapi/v1/txt2img').length),
    );
    return { jobsPerS: jobs / ((end - start) / 1000), wallMs: end - start, perBackend };
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await Promise.all(sims.map((x) => x.close()));
    await ep.close();
  }
}

async function main(): Promise<void> {
  const sim = await startSimProcess(['--step-ms', '0']);
  const ep = await startBenchEndpoint();
  const worker = spawn(process.execPath, [path.join(root, 'dist/handler/main.js')], {
    env: workerEnv(ep, 'w-bench', { A1111_URL: sim.url, RUNPOD_DEBUG_LEVEL: 'WARN', RUNPOD_PING_INTERVAL: '10000', A1111_WARMUP: 'false', MAX_RESULT_MB: '25' }),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    const small = { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'a small benchmark image', steps: 20, width: 512, height: 512, seed: 1 } };
    const large = { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'a large benchmark batch', steps: 20, width: 1024, height: 1024, batch_size: 8, seed: 2 } };
    await runJobs(ep, sim, 20, small); // JIT and connection warm-up
    await runJobs(ep, sim, 2, large);
    const s = await runJobs(ep, sim, 200, small);
    const l = await runJobs(ep, sim, 10, large);
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

Command: \`npm run bench${LATENCY_MS > 0 ? ` -- --rp_latency_ms ${LATENCY_MS}` : ''}\` (built worker as a child process in platform mode; the local
endpoint emulator in the bench's process${LATENCY_MS > 0 ? `, answering worker-API calls ${LATENCY_MS} ms late` : ''}; A1111 simulator in its own process with
\`--step-ms 0\`). Overhead = job-take answered → job-done received, minus A1111's own time (simulator: request
received → response sent).

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
    const file = path.join(root, 'bench/RESULTS.md');
    writeFileSync(file, md + historyParagraph(file));
    process.stdout.write(md);
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await sim.close();
    await ep.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
