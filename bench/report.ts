/**
 * bench/RESULTS.md from the figures of one run: one table per section, each figure beside its target from issue 15
 * and beside the figure before issue 15 (bench/baseline.json, the same bench run on the tree before the issue's
 * changes, when that file exists).
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { BACKEND_STEP_MS, type BackendRun } from './backends.js';
import { WORKER_MALLOC_ENV, WORKER_NODE_FLAGS } from '../handler/runpod/worker/launch.js';
import { COST_JOBS, type CostResult, type CostRow } from './cost.js';
import { IDLE_JOBS, IDLE_STEP_MS, type IdleGap } from './idle.js';

/** Every figure of one run (also what `--json` writes and bench/baseline.json holds). */
export interface Figures {
  /** `git describe --always --dirty` of the measured tree. */
  commit: string;
  date: string;
  latencyMs: number;
  /** Undefined when the section did not run (`--only`); so are empty lists. */
  cost?: CostResult;
  idle: IdleGap[];
  backends: BackendRun[];
}

/** The figures in `file`, or undefined when it does not exist. */
export function readFigures(file: string): Figures | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Figures) : undefined;
}

/** The closing "History" paragraph of `file` ('' when there is none). */
export function historyParagraph(file: string): string {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const i = text.indexOf('\nHistory on this machine');
  return i < 0 ? '' : text.slice(i);
}

const ok = (b: boolean): string => (b ? 'met' : '**not met**');
const ms = (x: number, digits = 2): string => `${x.toFixed(digits)} ms`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

function costLine(r: CostRow, before: CostRow | undefined): string {
  const ratio = r.ours.medianMs / r.raw.medianMs;
  const digits = r.ours.medianMs >= 10 ? 1 : 2;
  const was = before ? `${ms(before.ours.medianMs, digits)} / ${ms(before.raw.medianMs, digits)} = ×${(before.ours.medianMs / before.raw.medianMs).toFixed(2)}` : '—';
  return (
    `| ${r.job.label} (${(r.ours.bytes / 1e6).toFixed(2)} MB result) | ${ms(r.ours.medianMs, digits)} (p90 ${ms(r.ours.p90Ms, digits)}) | ` +
    `${ms(r.raw.medianMs, digits)} (p90 ${ms(r.raw.p90Ms, digits)}) | **×${ratio.toFixed(2)}** | ≤ ×${r.job.targetRatio}: ${ok(ratio <= r.job.targetRatio)} | ` +
    `${ms(r.ours.cpuMsPerJob)} / ${ms(r.raw.cpuMsPerJob)} | ${was} |`
  );
}

function costTable(f: Figures, b: Figures | undefined): string {
  if (!f.cost) return '';
  const rows = f.cost.rows.map((r) => costLine(r, b?.cost?.rows.find((x) => x.job.label === r.job.label)));
  const a1111 = f.cost.rows.map((r) => `${r.job.label.replace(/^\w+: /, '')} ${ms(r.ours.a1111Ms, 1)} / ${ms(r.raw.a1111Ms, 1)}`).join(', ');
  return `## Per-job cost against the raw floor

Our worker and the raw pass-through worker (\`bench/raw-worker.ts\`: job-take, forward \`input.payload\` to A1111,
post A1111's bytes as \`{"output": …}\`; no checks, no heartbeat), both launched with the Node flags \`docker/start.sh\`
gives ours (\`node ${WORKER_NODE_FLAGS.join(' ')}\`; ours also with its glibc settings \`${Object.entries(WORKER_MALLOC_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}\`, raw with glibc's defaults, which suit its one buffer per answer), run the same jobs one at a time, alternating (${COST_JOBS.map((j) => j.n).join(' / ')} of each
type below), ${f.cost.cpu === undefined ? 'where the scheduler puts them' : `both on CPU ${f.cost.cpu} only (\`taskset -c ${f.cost.cpu}\`: unpinned, where a worker and the processes it waits for landed moved the ratios from run to run)`}, each with its own emulator and simulator (\`--step-ms 0\`). Cost = job-take answered → job-done received, minus A1111's
own time (simulator: request received → response sent; median for ours / raw: ${a1111}). CPU = the worker's user + system time
per job (\`/proc/<pid>/stat\`).

| job | ours, median | raw, median | ours / raw | target | CPU per job, ours / raw | before issue 15 (ours / raw) |
|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
}

function idleTable(f: Figures, b: Figures | undefined): string {
  if (f.idle.length === 0) return '';
  const lines = f.idle
    .filter((g) => g.kind === 'ours')
    .map((g) => {
      const raw = f.idle.find((x) => x.kind === 'raw' && x.latencyMs === g.latencyMs);
      const was = b?.idle.find((x) => x.kind === 'ours' && x.latencyMs === g.latencyMs);
      const rawCell = raw ? `${ms(raw.medianMs, 1)} / ${ms(raw.maxMs, 1)}` : '—';
      const wasCell = was ? `${ms(was.medianMs, 1)} / ${ms(was.maxMs, 1)}` : '—';
      return `| ${g.latencyMs} ms | **${ms(g.medianMs, 1)}** / ${ms(g.maxMs, 1)} | ${rawCell} | median ≤ 5 ms: ${ok(g.medianMs <= 5)} | ${wasCell} |`;
    });
  return `## A1111's idle time between queued jobs

The emulator answers every worker-API call after a platform round trip (\`startEndpoint({latencyMs})\`); ${IDLE_JOBS} jobs
(1 × 512×512, 20 steps at ${IDLE_STEP_MS} ms: ${20 * IDLE_STEP_MS} ms generations) are queued at once on one simulated GPU. Gap =
one txt2img's response sent → the next txt2img's request received (simulator log), over ${IDLE_JOBS - 1} gaps.

| round trip | ours: median / max | raw: median / max | target | before issue 15 (ours) |
|---|---|---|---|---|
${lines.join('\n')}
`;
}

/** (largest − smallest) / mean of the jobs per backend, percent. */
function spreadPercent(perBackend: readonly number[]): number {
  const mean = perBackend.reduce((a, b) => a + b, 0) / perBackend.length;
  return mean > 0 ? ((Math.max(...perBackend) - Math.min(...perBackend)) / mean) * 100 : 0;
}

function backendTable(f: Figures, b: Figures | undefined): string {
  if (f.backends.length === 0) return '';
  const one = f.backends.find((r) => r.backends === 1 && r.stepMs === BACKEND_STEP_MS.long);
  const lines = f.backends.map((r) => {
    const speedup = one && r.stepMs === one.stepMs && r.backends > 1 ? `×${(r.jobsPerS / one.jobsPerS).toFixed(2)}` : '';
    const target = r.backends === 2 && one && r.stepMs === one.stepMs ? `≥ ×1.8: ${ok(r.jobsPerS / one.jobsPerS >= 1.8)}` : r.backends > 2 ? 'even spread' : '—';
    const was = b?.backends.find((x) => x.backends === r.backends && x.stepMs === r.stepMs && x.jobs === r.jobs);
    const wasCell = was ? `${was.jobsPerS.toFixed(2)} jobs/s; ${was.perBackend.join(' / ')}; ${ms(was.cpuMsPerJob)}` : '—';
    const spread = r.backends > 1 ? ` (range ${spreadPercent(r.perBackend).toFixed(0)} % of mean)` : '';
    return (
      `| ${r.backends} | ${r.jobs} × ~${20 * r.stepMs} ms | ${(r.wallMs / 1000).toFixed(2)} s | ${r.jobsPerS.toFixed(2)} jobs/s | ${speedup} | ${target} | ` +
      `${r.perBackend.join(' / ')}${spread} | ${ms(r.cpuMsPerJob)} | ${wasCell} |`
    );
  });
  return `## Several A1111 backends

One worker, \`A1111_URLS\` with one simulator process per backend; the jobs queued at once, mixing native txt2img,
SDCN \`/txt2img\` with a LoRA and OpenAI \`/v1/images/generations\` with \`n: 2\`, 20 steps each. Wall time = first job
handed out → last result received. Jobs per backend: txt2img calls each simulator served, with (largest − smallest)
/ mean. CPU = the worker's user + system time over the burst, per job (\`/proc/<pid>/stat\`). The short-job run
shows the spread when backends free up faster than jobs are taken (issue 15: ties in "least busy" went to the first
backend); the issue sets no figure for it beyond "evenly".

| backends | jobs | wall time | throughput | vs 1 | target | jobs per backend | worker CPU per job | before issue 15 (throughput; spread; CPU) |
|---|---|---|---|---|---|---|---|---|
${lines.join('\n')}
`;
}

function memoryTable(f: Figures, b: Figures | undefined): string {
  if (!f.cost) return '';
  const largest = f.cost.largestResult;
  const target = 2 * largest + 100 * 1024 * 1024;
  const old = 3 * largest + 150 * 1024 * 1024;
  const rss = f.cost.peakRss.ours;
  return `## Memory

Peak RSS (VmHWM) of the worker after every job of the cost section; largest result ${(largest / 1e6).toFixed(1)} MB.

| worker | peak RSS | target (issue 15): ≤ 2 × largest result + 100 MB | target before: ≤ 3 × largest + 150 MB | before issue 15 |
|---|---|---|---|---|
| ours | **${mib(rss)}** | ${mib(target)}: ${ok(rss <= target)} | ${mib(old)}: ${ok(rss <= old)} | ${b?.cost ? mib(b.cost.peakRss.ours) : '—'} |
| raw (reads each answer into one buffer) | ${mib(f.cost.peakRss.raw)} | | | ${b?.cost ? mib(b.cost.peakRss.raw) : '—'} |
`;
}

/** The whole RESULTS.md text (without its History paragraph) for `f`, with `before` as the figures before issue 15. */
export function renderResults(f: Figures, before: Figures | undefined): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const cmd = `npm run bench${f.latencyMs > 0 ? ` -- --rp_latency_ms ${f.latencyMs}` : ''}`;
  const lat = f.latencyMs > 0 ? ` The cost and backends sections ran with a ${f.latencyMs} ms round trip on every worker-API call.` : '';
  const was = before ? `"Before issue 15" = bench/baseline.json: this bench on \`${before.commit}\` (${before.date.slice(0, 10)}).` : 'No bench/baseline.json: no "before" figures.';
  return `# Benchmark results

Command: \`${cmd}\` (built workers as child processes in platform mode against the local endpoint emulator in the
bench's process; A1111 simulators in their own processes).${lat} ${was}

Machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.versions.node}.
Tree: \`${f.commit}\`. Date: ${f.date}.

${[costTable(f, before), idleTable(f, before), backendTable(f, before), memoryTable(f, before)].filter((t) => t !== '').join('\n')}`;
}
