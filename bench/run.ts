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
