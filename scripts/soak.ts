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
 * Layout: the emulator (with `faults: {seed, takeRate, doneRate}`) and a webhook receiver run in this process; the
 * simulator (`--step-ms 0 --fault-rate R --fault-seed S`) and the worker (platform mode, pointed at the emulator
 * through `workerEnv()`) are child processes. Jobs go in through the public `/run`, a window of them at a time.
 *
 *   npm run soak [-- --jobs 1000 --seed 1 --fault-rate 0.15 --window 16]
 *
 * Flags (or env `SOAK_JOBS`, `SOAK_SEED`, `SOAK_FAULT_RATE`): `--jobs N`, `--seed N`, `--fault-rate R` (each link),
 * `--a1111-fault-rate R`, `--take-fault-rate R`, `--done-fault-rate R`, `--window N`, `--no-rss-check`.
 * Exits 0 when every assertion holds, 1 when one fails, 2 on a bad flag.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { PNG } from 'pngjs';
import { DONE_FAULT_KINDS, TAKE_FAULT_KINDS, startEndpoint, type EndpointStats } from '../handler/endpoint/index.js';
import type { SimFaultStats } from '../sim/server.js';
import { startSimProcess, type SimProcess } from '../tests/helpers/sim-process.js';
import { startWorker, type WorkerProcess } from '../tests/helpers/worker-process.js';

/** Options of {@link runSoak}; every field is optional. */
export interface SoakOptions {
  /** Jobs to run; default 1000. */
  jobs?: number;
  /** Seed of every fault generator; default 1. */
  seed?: number;
  /** Fault rate of each link (A1111 calls, job-takes, job-dones) unless set below; default 0.15. */
  faultRate?: number;
  /** Share of A1111 calls faulted (500 / reset / non-JSON 200, equally likely). */
  a1111FaultRate?: number;
  /** Share of job-takes faulted (500 / 429 / garbage / reset, before any job is assigned). */
  takeFaultRate?: number;
  /** Share of job-dones faulted (500 / reset, before the result is recorded). */
  doneFaultRate?: number;
  /** Jobs submitted and not yet final at any time; default 16. */
  window?: number;
  /** Jobs in each RSS window (first and last); default 200. */
  rssWindow?: number;
  /** Largest allowed ratio of the last window's peak RSS to the first one's; default 1.2. */
  rssMaxGrowth?: number;
  /** Enforce the RSS check; default: when there are at least 2 × `rssWindow` jobs. */
  checkRss?: boolean;
  /** Smallest share of faulted calls required on each link; default 0.1. */
  minFaultShare?: number;
  /** `policy.executionTimeout` of every job, ms; default 30 000 (a job can never hang forever). */
  executionTimeoutMs?: number;
  /** Give up waiting when no job became final for this long, ms; default `executionTimeoutMs` + 15 000. */
  stallTimeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** Counts of one fault source: calls seen, calls faulted, by kind. */
export interface FaultCounts {
  calls: number;
  faulted: number;
  byKind: Record<string, number>;
}

/** What {@link runSoak} measured; `failures` lists every assertion that did not hold (empty: pass). */
export interface SoakReport {
  ok: boolean;
  failures: string[];
  jobs: number;
  seed: number;
  durationMs: number;
  faults: { a1111: FaultCounts & { onGeneration: number }; take: FaultCounts; done: FaultCounts };
  completed: number;
  failed: number;
  /** FAILED jobs by cause (`A1111 500`, `A1111 unreachable`, `A1111 answer not JSON`, `other`). */
  failedBy: Record<string, number>;
  timedOut: number;
  cancelled: number;
  /** Jobs that never reached a final state. */
  lost: number;
  /** Final results posted again for a job whose result was already recorded (emulator count). */
  duplicated: number;
  /** Jobs whose webhook came more than once (a second final state). */
  doubleFinal: number;
  images: { decoded: number; bad: number };
  worker: { exitCode: number | null; jobsTaken: number | null; completed: number | null; failed: number | null; resultsLost: number | null };
  /**
   * Worker RSS (kB), sampled as each job became final: mean and peak (largest sample) over the first and over the
   * last `window` jobs; `ratio` = last peak / first peak (the checked figure), `meanRatio` = last mean / first mean.
   */
  rss: {
    window: number;
    samples: number;
    firstMeanKb: number | null;
    lastMeanKb: number | null;
    firstMaxKb: number | null;
    lastMaxKb: number | null;
    ratio: number | null;
    meanRatio: number | null;
    /** The limit of `ratio`. */
    maxGrowth: number;
    /** Every sample, in the order the jobs became final. */
    seriesKb: number[];
    checked: boolean;
  };
}

/** The defaults of {@link SoakOptions}. */
export const SOAK_DEFAULTS = { jobs: 1000, seed: 1, faultRate: 0.15, window: 16, rssWindow: 200, rssMaxGrowth: 1.2, minFaultShare: 0.1, executionTimeoutMs: 30_000 } as const;

interface JobSpec {
  input: { prompt: string; steps: number; width: number; height: number; batch_size: number; seed: number };
}

/** The i-th job: small images of a few sizes, one or two per job. */
function jobSpec(i: number): JobSpec {
  return { input: { prompt: `soak job ${i}`, steps: 1 + (i % 3), width: i % 3 === 0 ? 128 : 64, height: 64, batch_size: 1 + (i % 2), seed: i } };
}

/** A final state as the webhook reported it. */
interface Final {
  status: string;
  error?: unknown;
  /** Problems with the output (COMPLETED only). */
  imageProblems: string[];
  imagesDecoded: number;
}

/** Resident set size of a process in kB (Linux `/proc`), or null when it cannot be read. */
function rssKb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Checks a COMPLETED output: `images` holds `batch_size` PNGs of the size the job's input asked for. */
function checkImages(output: unknown, input: Partial<JobSpec['input']> | undefined): { decoded: number; problems: string[] } {
  const images = (output as { images?: unknown } | null)?.images;
  if (!Array.isArray(images)) return { decoded: 0, problems: ['output has no images list'] };
  const problems: string[] = [];
  let decoded = 0;
  if (images.length !== input?.batch_size) problems.push(`${images.length} images, expected ${input?.batch_size}`);
  for (const [k, b64] of images.entries()) {
    try {
      const png = PNG.sync.read(Buffer.from(String(b64), 'base64'));
      if (png.width !== input?.width || png.height !== input?.height) {
        problems.push(`image ${k} is ${png.width}×${png.height}, expected ${input?.width}×${input?.height}`);
      } else {
        decoded++;
      }
    } catch (e) {
      problems.push(`image ${k} does not decode: ${(e as Error).message}`);
    }
  }
  return { decoded, problems };
}

/** The cause of a FAILED job, from its error message. */
function failureCause(error: unknown): string {
  const s = String(error);
  if (/^A1111 500 on POST \/sdapi\/v1\/txt2img: OutOfMemoryError/.test(s)) return 'A1111 500';
  if (/^A1111 unreachable on POST \/sdapi\/v1\/txt2img: /.test(s)) return 'A1111 unreachable';
  if (/^A1111 200 on POST \/sdapi\/v1\/txt2img: answer is not JSON/.test(s)) return 'A1111 answer not JSON';
  return 'other';
}

const pct = (a: number, b: number): string => `${b ? ((a / b) * 100).toFixed(1) : '0.0'} %`;
const kinds = (o: Record<string, number>): string =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
const mb = (kb: number | null): string => (kb === null ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`);
const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Reads the worker's closing line `Worker stopped: N job(s) taken, C completed, F failed, S stopped, L result(s) lost.` */
function parseWorkerStats(out: string): Omit<SoakReport['worker'], 'exitCode'> {
  const m = /Worker stopped: (\d+) job\(s\) taken, (\d+) completed, (\d+) failed, \d+ stopped, (\d+) result\(s\) lost\./.exec(out);
  if (!m) return { jobsTaken: null, completed: null, failed: null, resultsLost: null };
  return { jobsTaken: Number(m[1]), completed: Number(m[2]), failed: Number(m[3]), resultsLost: Number(m[4]) };
}

/** A loopback server collecting webhook deliveries (the final status of each job). */
async function startHookReceiver(onBody: (body: Record<string, unknown>) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.statusCode = 200;
      res.end();
      try {
        onBody(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      } catch {
        /* not ours */
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`POST ${url} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/**
 * Runs the soak and returns its report (never throws for a failed assertion: see `failures`).
 * @throws when the processes cannot be started
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const jobs = options.jobs ?? SOAK_DEFAULTS.jobs;
  const seed = options.seed ?? SOAK_DEFAULTS.seed;
  const rate = options.faultRate ?? SOAK_DEFAULTS.faultRate;
  const a1111Rate = options.a1111FaultRate ?? rate;
  const takeRate = options.takeFaultRate ?? rate;
  const doneRate = options.doneFaultRate ?? rate;
  const window = Math.max(1, options.window ?? SOAK_DEFAULTS.window);
  const rssWindow = options.rssWindow ?? SOAK_DEFAULTS.rssWindow;
  const rssMaxGrowth = options.rssMaxGrowth ?? SOAK_DEFAULTS.rssMaxGrowth;
  const checkRss = options.checkRss ?? jobs >= 2 * rssWindow;
  const minShare = options.minFaultShare ?? SOAK_DEFAULTS.minFaultShare;
  const executionTimeoutMs = options.executionTimeoutMs ?? SOAK_DEFAULTS.executionTimeoutMs;
  const stallTimeoutMs = options.stallTimeoutMs ?? executionTimeoutMs + 15_000;
  const log = options.log ?? (() => undefined);
  const t0 = performance.now();

  // Final states, in arrival order, as the webhooks report them.
  const finals = new Map<string, Final>();
  const hookCount = new Map<string, number>();
  const rss: number[] = [];
  let worker: WorkerProcess | undefined;
  let wake: (() => void) | undefined;
  const hooks = await startHookReceiver((body) => {
    const id = String(body.id);
    hookCount.set(id, (hookCount.get(id) ?? 0) + 1);
    if (finals.has(id)) return;
    const kb = rssKb(worker?.child.pid);
    if (kb !== null) rss.push(kb);
    const status = String(body.status);
    let imageProblems: string[] = [];
    let imagesDecoded = 0;
    if (status === 'COMPLETED') {
      // The webhook carries the job's input: the images must match the size and count it asked for.
      const r = checkImages(body.output, body.input as Partial<JobSpec['input']> | undefined);
      imageProblems = r.problems;
      imagesDecoded = r.decoded;
    }
    finals.set(id, { status, ...(body.error !== undefined ? { error: body.error } : {}), imageProblems, imagesDecoded });
    if (finals.size % 100 === 0) log(`  ${finals.size} jobs final (${Math.round((performance.now() - t0) / 1000)} s, worker RSS ${mb(kb)})`);
    wake?.();
  });

  const endpoint = await startEndpoint({
    port: 0,
    endpointId: 'soak',
    takeHoldMs: 2000,
    webhookRetryDelayMs: 200,
    executionTimeoutDefaultMs: executionTimeoutMs,
    faults: { seed, takeRate, doneRate },
  }).catch(async (e: unknown) => {
    await hooks.close();
    throw e;
  });
  let sim: SimProcess | undefined;
  const failures: string[] = [];
  const ids: string[] = [];
  let simStats: SimFaultStats | undefined;
  let epStats: EndpointStats | undefined;
  let exitCode: number | null = null;
  let statusMismatch = 0;
  let notFinal = 0;
  try {
    sim = await startSimProcess(['--step-ms', '0', '--fault-rate', String(a1111Rate), '--fault-seed', String(seed)]);
    worker = startWorker({
      ...endpoint.workerEnv(),
      RUNPOD_POD_ID: 'soak-worker',
      RUNPOD_AI_API_KEY: 'soak-key',
      RUNPOD_PING_INTERVAL: '2000',
      RUNPOD_DEBUG_LEVEL: 'INFO',
      A1111_URL: sim.url,
      A1111_READY_TIMEOUT_S: '60',
      A1111_READY_INTERVAL_MS: '10',
      A1111_REQUEST_TIMEOUT_S: '30',
      RESULT_POST_RETRIES: '10',
      RESULT_POST_MIN_DELAY_MS: '10',
      RESULT_POST_MAX_DELAY_MS: '200',
      RESULT_POST_TIMEOUT_MS: '10000',
    });
    const w = worker;
    log(`soak: ${jobs} jobs, seed ${seed}, fault rates: A1111 ${a1111Rate}, job-take ${takeRate}, job-done ${doneRate}; worker pid ${w.child.pid}`);
    const workerGone = w.exited.then(() => wake?.());

    // Submit through the public API, keeping `window` jobs in flight, until all are final or nothing moves.
    const pending = (): number => ids.filter((id) => !finals.has(id)).length;
    let lastProgress = performance.now();
    let lastFinals = 0;
    while (true) {
      while (ids.length < jobs && pending() < window) {
        const spec = jobSpec(ids.length);
        const { id } = await postJson(`${endpoint.url}/v2/soak/run`, { input: spec.input, webhook: hooks.url });
        ids.push(String(id));
      }
      if (ids.length === jobs && pending() === 0) break;
      if (w.child.exitCode !== null || w.child.signalCode !== null) {
        failures.push(`the worker exited (${w.child.exitCode ?? w.child.signalCode}) with ${pending()} job(s) not final`);
        break;
      }
      if (finals.size !== lastFinals) {
        lastFinals = finals.size;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > stallTimeoutMs) {
        failures.push(`no job became final for ${stallTimeoutMs} ms; ${pending()} job(s) left`);
        break;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 250);
      });
      wake = undefined;
    }
    // Late duplicates (a second webhook) would show within the webhook retry delay.
    await sleep(500);

    // `/status` must agree with the webhook, and be final.
    for (const id of ids) {
      const res = await fetch(`${endpoint.url}/v2/soak/status/${id}`);
      const body = (await res.json()) as { status?: string };
      const f = finals.get(id);
      if (!['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(String(body.status))) notFinal++;
      else if (!f || f.status !== body.status) statusMismatch++;
    }
    simStats = (await (await fetch(`${sim.url}/sim/state`)).json() as { fault_stats: SimFaultStats }).fault_stats;
    epStats = endpoint.stats();

    // Drain the worker: SIGTERM, exit 0, and its own counts.
    if (w.child.exitCode === null && w.child.signalCode === null) {
      w.child.kill('SIGTERM');
      const t = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
      exitCode = await w.exited;
      clearTimeout(t);
    } else {
      exitCode = await w.exited;
    }
    await workerGone;
  } finally {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await sim?.close();
    await endpoint.close();
    await hooks.close();
  }

  // ───────────── the report and its assertions ─────────────
  const ws = parseWorkerStats(worker!.stdout());
  const byStatus = (s: string): number => ids.filter((id) => finals.get(id)?.status === s).length;
  const completed = byStatus('COMPLETED');
  const failed = byStatus('FAILED');
  const timedOut = byStatus('TIMED_OUT');
  const cancelled = byStatus('CANCELLED');
  const lost = ids.filter((id) => !finals.has(id)).length + (jobs - ids.length);
  const failedBy: Record<string, number> = {};
  for (const id of ids) {
    const f = finals.get(id);
    if (f?.status === 'FAILED') {
      const cause = failureCause(f.error);
      failedBy[cause] = (failedBy[cause] ?? 0) + 1;
    }
  }
  let decoded = 0;
  let bad = 0;
  const badExamples: string[] = [];
  for (const id of ids) {
    const f = finals.get(id);
    if (f?.status !== 'COMPLETED') continue;
    decoded += f.imagesDecoded;
    if (f.imageProblems.length) {
      bad++;
      if (badExamples.length < 3) badExamples.push(`${id}: ${f.imageProblems.join('; ')}`);
    }
  }
  const doubleFinal = [...hookCount.values()].filter((n) => n > 1).length;
  const st = epStats!;
  const sm = simStats!;
  const a1111 = { calls: sm.requests, faulted: sm.random.total, byKind: { ...sm.random.byKind }, onGeneration: sm.random.byRoute['txt2img'] ?? 0 };
  const take: FaultCounts = { calls: st.takes, faulted: TAKE_FAULT_KINDS.reduce((n, k) => n + st.faults.take[k], 0), byKind: { ...st.faults.take } };
  const done: FaultCounts = { calls: st.dones, faulted: DONE_FAULT_KINDS.reduce((n, k) => n + st.faults.done[k], 0), byKind: { ...st.faults.done } };
  // A short run shrinks the windows to half its jobs each (reported, not checked).
  const w = Math.max(0, Math.min(rssWindow, Math.floor(rss.length / 2)));
  const first = rss.slice(0, w);
  const last = w > 0 ? rss.slice(-w) : [];
  const firstMeanKb = mean(first);
  const lastMeanKb = mean(last);
  const firstMaxKb = first.length ? Math.max(...first) : null;
  const lastMaxKb = last.length ? Math.max(...last) : null;
  const ratio = firstMaxKb && lastMaxKb ? lastMaxKb / firstMaxKb : null;
  const meanRatio = firstMeanKb && lastMeanKb ? lastMeanKb / firstMeanKb : null;

  const check = (ok: boolean, what: string): void => {
    if (!ok) failures.push(what);
  };
  check(lost === 0, `lost = ${lost}: job(s) never reached a final state`);
  check(notFinal === 0, `${notFinal} job(s) not final on /status at the end`);
  check(statusMismatch === 0, `${statusMismatch} job(s) whose /status differs from the final state their webhook reported`);
  check(doubleFinal === 0, `${doubleFinal} job(s) reported final more than once`);
  check(st.duplicateResults === 0, `duplicated = ${st.duplicateResults}: a result was posted again for job(s) ${st.duplicateJobIds.slice(0, 5).join(', ')}`);
  check(st.lateResults === 0, `${st.lateResults} result(s) posted for jobs already cancelled or timed out`);
  check(st.resultsRecorded === completed + failed, `the emulator recorded ${st.resultsRecorded} results for ${completed + failed} COMPLETED/FAILED jobs`);
  check(timedOut === 0, `${timedOut} job(s) TIMED_OUT`);
  check(cancelled === 0, `${cancelled} job(s) CANCELLED`);
  check(bad === 0, `${bad} COMPLETED job(s) with bad images, e.g. ${badExamples.join(' | ')}`);
  check((failedBy.other ?? 0) === 0, `${failedBy.other ?? 0} FAILED job(s) not explained by an injected A1111 fault`);
  check(failed === a1111.onGeneration, `${failed} FAILED job(s) but ${a1111.onGeneration} A1111 fault(s) injected on txt2img`);
  check(exitCode === 0, `the worker exited ${exitCode} after SIGTERM (expected 0)`);
  check(ws.resultsLost === 0, `the worker reports ${ws.resultsLost ?? 'no count of'} result(s) lost`);
  check(ws.jobsTaken === jobs, `the worker took ${ws.jobsTaken ?? '?'} job(s) for ${jobs} submitted (a job handed out twice, or never)`);
  check(ws.completed === completed && ws.failed === failed, `the worker counts ${ws.completed ?? '?'} completed / ${ws.failed ?? '?'} failed, the endpoint ${completed} / ${failed}`);
  for (const [name, c] of [['A1111 calls', a1111], ['job-takes', take], ['job-dones', done]] as const) {
    const share = c.calls ? c.faulted / c.calls : 0;
    check(share >= minShare, `only ${(share * 100).toFixed(1)} % of ${name} faulted (at least ${minShare * 100} % required)`);
  }
  if (checkRss) {
    check(ratio !== null, 'the worker RSS could not be sampled');
    check(
      ratio === null || ratio <= rssMaxGrowth,
      `worker peak RSS grew ×${ratio?.toFixed(3)} between the first and the last ${w} jobs (limit ×${rssMaxGrowth})`,
    );
  }

  return {
    ok: failures.length === 0,
    failures,
    jobs,
    seed,
    durationMs: performance.now() - t0,
    faults: { a1111, take, done },
    completed,
    failed,
    failedBy,
    timedOut,
    cancelled,
    lost,
    duplicated: st.duplicateResults,
    doubleFinal,
    images: { decoded, bad },
    worker: { exitCode, ...ws },
    rss: {
      window: w,
      samples: rss.length,
      firstMeanKb,
      lastMeanKb,
      firstMaxKb,
      lastMaxKb,
      ratio,
      meanRatio,
      maxGrowth: rssMaxGrowth,
      seriesKb: rss,
      checked: checkRss,
    },
  };
}


/** The report as the lines `npm run soak` prints. */
export function formatReport(r: SoakReport): string {
  const f = r.faults;
  return [
    `soak: ${r.jobs} jobs, seed ${r.seed}, ${(r.durationMs / 1000).toFixed(1)} s`,
    `faults injected:`,
    `  A1111 calls  ${f.a1111.faulted} of ${f.a1111.calls} (${pct(f.a1111.faulted, f.a1111.calls)}): ${kinds(f.a1111.byKind)}; on txt2img ${f.a1111.onGeneration}`,
    `  job-takes    ${f.take.faulted} of ${f.take.calls} (${pct(f.take.faulted, f.take.calls)}): ${kinds(f.take.byKind)}`,
    `  job-dones    ${f.done.faulted} of ${f.done.calls} (${pct(f.done.faulted, f.done.calls)}): ${kinds(f.done.byKind)}`,
    `jobs: completed ${r.completed}, failed ${r.failed} (${kinds(r.failedBy) || 'none'}), timed out ${r.timedOut}, cancelled ${r.cancelled}, lost ${r.lost}, duplicated ${r.duplicated}`,
    `images: ${r.images.decoded} decoded in ${r.completed} completed jobs, ${r.images.bad} bad`,
    `worker: exit ${r.worker.exitCode}, ${r.worker.jobsTaken ?? '?'} jobs taken, ${r.worker.completed ?? '?'} completed, ${r.worker.failed ?? '?'} failed, ${r.worker.resultsLost ?? '?'} results lost`,
    `worker RSS: first ${r.rss.window} jobs peak ${mb(r.rss.firstMaxKb)} (mean ${mb(r.rss.firstMeanKb)}), last ${r.rss.window} jobs peak ${mb(r.rss.lastMaxKb)}` +
      ` (mean ${mb(r.rss.lastMeanKb)}): peak ×${r.rss.ratio?.toFixed(3) ?? 'n/a'}${r.rss.checked ? ` (limit ×${r.rss.maxGrowth})` : ' (not checked)'},` +
      ` mean ×${r.rss.meanRatio?.toFixed(3) ?? 'n/a'}`,
    r.ok ? 'PASS' : `FAIL:\n${r.failures.map((x) => `  - ${x}`).join('\n')}`,
  ].join('\n');
}

/** Parses the CLI flags and env into options. @throws Error naming a bad flag */
export function parseSoakArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SoakOptions {
  const o: SoakOptions = {};
  const num = (name: string, raw: string | undefined, kind: 'int' | 'rate'): number => {
    const n = Number(raw);
    if (raw === undefined || raw.trim() === '' || !Number.isFinite(n) || (kind === 'int' ? !Number.isInteger(n) || n < 0 : n < 0 || n > 1)) {
      throw new Error(`${name}: expected ${kind === 'int' ? 'a non-negative integer' : 'a number from 0 to 1'}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
  if (env.SOAK_JOBS) o.jobs = num('SOAK_JOBS', env.SOAK_JOBS, 'int');
  if (env.SOAK_SEED) o.seed = num('SOAK_SEED', env.SOAK_SEED, 'int');
  if (env.SOAK_FAULT_RATE) o.faultRate = num('SOAK_FAULT_RATE', env.SOAK_FAULT_RATE, 'rate');
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--jobs':
        o.jobs = num(flag, value(), 'int');
        break;
      case '--seed':
        o.seed = num(flag, value(), 'int');
        break;
      case '--window':
        o.window = num(flag, value(), 'int');
        break;
      case '--fault-rate':
        o.faultRate = num(flag, value(), 'rate');
        break;
      case '--a1111-fault-rate':
        o.a1111FaultRate = num(flag, value(), 'rate');
        break;
      case '--take-fault-rate':
        o.takeFaultRate = num(flag, value(), 'rate');
        break;
      case '--done-fault-rate':
        o.doneFaultRate = num(flag, value(), 'rate');
        break;
      case '--no-rss-check':
        o.checkRss = false;
        break;
      default:
        throw new Error(`unknown flag ${JSON.stringify(argv[i])}`);
    }
  }
  return o;
}

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
