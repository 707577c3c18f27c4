/**
 * `npm run bench`: our worker beside the raw pass-through floor (`raw-worker.ts`) in the same run — per-job cost,
 * A1111's idle time between queued jobs at several platform round trips, several backends (throughput, spread,
 * CPU per job) and peak memory.
 *
 * Set-up: A1111 simulators in child processes, the local endpoint emulator (`startEndpoint`, recording every
 * worker-API request) in this process, and the built workers as child processes in platform mode — the production
 * path. Sections: `cost.ts`, `idle.ts`, `backends.ts`; shared pieces in `harness.ts`; the page in `report.ts`.
 *
 * Flags:
 * - `--rp_latency_ms N` delays every worker-API answer of the emulator by N ms in the cost and backends sections
 *   (the idle section always measures 0, 50 and 150 ms); default 0. `npm run bench -- --rp_latency_ms 20`.
 * - `--json FILE` also writes the figures as JSON (bench/baseline.json is such a file, from the tree before
 *   issue 15).
 * - `--only SECTION` (repeatable: `cost`, `idle`, `backends`) runs only those sections and prints their tables
 *   without writing bench/RESULTS.md.
 * - `--cpu-prof DIR` runs both workers of the cost section under `node --cpu-prof` into DIR (`ours-worker.cpuprofile`,
 *   `raw-worker.cpuprofile`), ended by SIGINT so that the profiles are written; the profiler adds to the figures.
 *   `npm run bench -- --only cost --cpu-prof /tmp/prof`.
 *
 * Writes bench/RESULTS.md when every section ran without `--cpu-prof`, keeping its closing "History" paragraph.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runBackends } from './backends.js';
import { runCost } from './cost.js';
import { ROOT } from './harness.js';
import { runIdle } from './idle.js';
import { historyParagraph, readFigures, renderResults, type Figures } from './report.js';

const { values: flags } = parseArgs({
  options: { rp_latency_ms: { type: 'string', default: '0' }, json: { type: 'string' }, only: { type: 'string', multiple: true }, 'cpu-prof': { type: 'string' } },
});
/** Platform round-trip delay of the emulator in the cost and backends sections, ms (`--rp_latency_ms`). */
const LATENCY_MS = Number(flags.rp_latency_ms);
if (!Number.isFinite(LATENCY_MS) || LATENCY_MS < 0) throw new Error(`--rp_latency_ms must be a number of ms >= 0, got ${flags.rp_latency_ms}`);
const SECTIONS = ['cost', 'idle', 'backends'] as const;
const only = flags.only ?? [...SECTIONS];
for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only must be one of ${SECTIONS.join(', ')}, got ${s}`);
/** Whether section `s` runs (`--only`). */
const runs = (s: (typeof SECTIONS)[number]): boolean => only.includes(s);

/** `git describe --always --dirty` of the repository, or 'unknown' outside a git checkout. */
function treeName(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const cost = runs('cost') ? await runCost(LATENCY_MS, flags['cpu-prof']) : undefined;
  const idle = runs('idle') ? await runIdle() : [];
  const backends = runs('backends') ? await runBackends(LATENCY_MS) : [];
  const figures: Figures = { commit: treeName(), date: started, latencyMs: LATENCY_MS, ...(cost ? { cost } : {}), idle, backends };
  if (flags.json) writeFileSync(flags.json, `${JSON.stringify(figures, null, 2)}\n`);
  const md = renderResults(figures, readFigures(path.join(ROOT, 'bench/baseline.json')));
  if (only.length === SECTIONS.length && !flags['cpu-prof']) {
    const file = path.join(ROOT, 'bench/RESULTS.md');
    writeFileSync(file, md + historyParagraph(file));
  }
  process.stdout.write(md);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
