/**
 * `npm run soak`: many jobs through the local RunPod endpoint emulator, the real worker and the A1111 simulator,
 * with seeded random faults on all three links, and the invariants that must hold anyway (issue 4):
 *
 * - every job reaches exactly one final state (one webhook per job, `/status` agrees with it, none left behind);
 * - every COMPLETED job's images decode (pngjs) at the size asked for;
 * - no result is recorded twice (the emulator counts duplicate final posts) and none is lost (the worker counts
 *   give-ups), no job is handed out twice, and no job times out;
 * - every FAILED job is explained by one injected A1111 fault on its generation, and every such fault fails its job;
 * - at least `minFaultShare` of A1111 calls, job-takes and job-dones were faulted;
 * - the worker's RSS is flat: its peak over the last `rssWindow` jobs is at most `rssMaxGrowth` × its peak over the
 *   first `rssWindow` jobs (VmRSS from `/proc/<pid>/status`, sampled as each job becomes final). The means of both
 *   windows are printed too but not checked: V8 grows the heap over the first few hundred jobs and shrinks it in
 *   idle spells (the 5 s pause after each job-take 429), which put the ratio of the two means anywhere between 0.91
 *   and 1.30 in 1000-job runs with no leak (a 5000-job run stays at 134–136 MB from job 500 on), while the peak
 *   (the working set the heap settles at) moved by at most ×1.15.
 *
 * Layout: scripts/soak/options.ts (options, defaults, flags), run.ts (the processes and the run), jobs.ts (what each
 * job asks for, the image check), webhooks.ts (final states as the webhooks report them, RSS samples), report.ts
 * (the assertions and the printed report). The emulator (with `faults: {seed, takeRate, doneRate}`) and a webhook
 * receiver run in this process; the simulator (`--step-ms 0 --fault-rate R --fault-seed S`) and the worker (platform
 * mode, pointed at the emulator through `workerEnv()`) are child processes. Jobs go in through the public `/run`, a
 * window of them at a time.
 *
 *   npm run soak [-- --jobs 1000 --seed 1 --fault-rate 0.15 --window 16]
 *
 * Flags (or env `SOAK_JOBS`, `SOAK_SEED`, `SOAK_FAULT_RATE`): `--jobs N`, `--seed N`, `--fault-rate R` (each link),
 * `--a1111-fault-rate R`, `--take-fault-rate R`, `--done-fault-rate R`, `--window N`, `--no-rss-check`.
 * Exits 0 when every assertion holds, 1 when one fails, 2 on a bad flag.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseSoakArgs, type SoakOptions } from './soak/options.js';
import { formatReport } from './soak/report.js';
import { runSoak } from './soak/run.js';

export { SOAK_DEFAULTS, parseSoakArgs, type SoakOptions } from './soak/options.js';
export { formatReport, type FaultCounts, type SoakReport } from './soak/report.js';
export { runSoak } from './soak/run.js';

async function main(): Promise<number> {
  let opts: SoakOptions;
  try {
    opts = parseSoakArgs(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`soak: ${(e as Error).message}\n`);
    return 2;
  }
  const report = await runSoak({ ...opts, log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${formatReport(report)}\n`);
  return report.ok ? 0 : 1;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`soak: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
