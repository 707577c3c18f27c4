/**
 * The soak's report: what one run observed turned into counts, the invariants checked on them (each failed one a
 * line of `failures`), and the lines `npm run soak` prints.
 */
import { DONE_FAULT_KINDS, TAKE_FAULT_KINDS, type EndpointStats } from '../../handler/endpoint/index.js';
import type { SimFaultStats } from '../../sim/server.js';
import type { ResolvedSoakOptions } from './options.js';
import { mb, type Final } from './webhooks.js';

/** Counts of one fault source: calls seen, calls faulted, by kind. */
export interface FaultCounts {
  calls: number;
  faulted: number;
  byKind: Record<string, number>;
}

/** What `runSoak` measured; `failures` lists every assertion that did not hold (empty: pass). */
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

/** What one run saw, as `runSoak` collected it for {@link buildReport}. */
export interface SoakObservations {
  /** `performance.now()` at the start. */
  t0: number;
  /** Job ids in submission order. */
  ids: readonly string[];
  finals: ReadonlyMap<string, Final>;
  hookCount: ReadonlyMap<string, number>;
  /** Worker RSS samples, kB. */
  rssKb: number[];
  simStats: SimFaultStats;
  endpointStats: EndpointStats;
  /** The worker's exit code after SIGTERM. */
  exitCode: number | null;
  /** Everything the worker printed. */
  workerStdout: string;
  /** Jobs whose `/status` was final but not the state their webhook reported. */
  statusMismatch: number;
  /** Jobs whose `/status` was not final at the end. */
  notFinal: number;
  /** Failures seen while running (the worker died, nothing moved). */
  failures: string[];
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
const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Reads the worker's closing line `Worker stopped: N job(s) taken, C completed, F failed, S stopped, L result(s) lost.` */
function parseWorkerStats(out: string): Omit<SoakReport['worker'], 'exitCode'> {
  const m = /Worker stopped: (\d+) job\(s\) taken, (\d+) completed, (\d+) failed, \d+ stopped, (\d+) result\(s\) lost\./.exec(out);
  if (!m) return { jobsTaken: null, completed: null, failed: null, resultsLost: null };
  return { jobsTaken: Number(m[1]), completed: Number(m[2]), failed: Number(m[3]), resultsLost: Number(m[4]) };
}

/** Fault counts of the three links: A1111 calls (simulator), job-takes and job-dones (emulator). */
function faultCounts(sm: SimFaultStats, st: EndpointStats): SoakReport['faults'] {
  return {
    a1111: { calls: sm.requests, faulted: sm.random.total, byKind: { ...sm.random.byKind }, onGeneration: sm.random.byRoute['txt2img'] ?? 0 },
    take: { calls: st.takes, faulted: TAKE_FAULT_KINDS.reduce((n, k) => n + st.faults.take[k], 0), byKind: { ...st.faults.take } },
    done: { calls: st.dones, faulted: DONE_FAULT_KINDS.reduce((n, k) => n + st.faults.done[k], 0), byKind: { ...st.faults.done } },
  };
}

/** The RSS windows of the report; a short run shrinks them to half its samples each (reported, not checked). */
function rssTrend(rss: number[], o: ResolvedSoakOptions): SoakReport['rss'] {
  const w = Math.max(0, Math.min(o.rssWindow, Math.floor(rss.length / 2)));
  const first = rss.slice(0, w);
  const last = w > 0 ? rss.slice(-w) : [];
  const firstMeanKb = mean(first);
  const lastMeanKb = mean(last);
  const firstMaxKb = first.length ? Math.max(...first) : null;
  const lastMaxKb = last.length ? Math.max(...last) : null;
  const ratio = firstMaxKb && lastMaxKb ? lastMaxKb / firstMaxKb : null;
  const meanRatio = firstMeanKb && lastMeanKb ? lastMeanKb / firstMeanKb : null;
  return { window: w, samples: rss.length, firstMeanKb, lastMeanKb, firstMaxKb, lastMaxKb, ratio, meanRatio, maxGrowth: o.rssMaxGrowth, seriesKb: rss, checked: o.checkRss };
}

/** Counts the final states of the submitted jobs, the causes of the FAILED ones and the image checks. */
function tally(obs: SoakObservations, jobs: number) {
  const finalOf = (id: string): Final | undefined => obs.finals.get(id);
  const byStatus = (s: string): number => obs.ids.filter((id) => finalOf(id)?.status === s).length;
  const failedBy: Record<string, number> = {};
  const images = { decoded: 0, bad: 0 };
  const badExamples: string[] = [];
  for (const id of obs.ids) {
    const f = finalOf(id);
    if (f?.status === 'FAILED') {
      const cause = failureCause(f.error);
      failedBy[cause] = (failedBy[cause] ?? 0) + 1;
    }
    if (f?.status !== 'COMPLETED') continue;
    images.decoded += f.imagesDecoded;
    if (f.imageProblems.length) {
      images.bad++;
      if (badExamples.length < 3) badExamples.push(`${id}: ${f.imageProblems.join('; ')}`);
    }
  }
  return {
    completed: byStatus('COMPLETED'),
    failed: byStatus('FAILED'),
    timedOut: byStatus('TIMED_OUT'),
    cancelled: byStatus('CANCELLED'),
    lost: obs.ids.filter((id) => !obs.finals.has(id)).length + (jobs - obs.ids.length),
    failedBy,
    images,
    badExamples,
    doubleFinal: [...obs.hookCount.values()].filter((n) => n > 1).length,
  };
}

/** Builds the report of a run, checking every invariant of the soak (see scripts/soak.ts). */
export function buildReport(o: ResolvedSoakOptions, obs: SoakObservations): SoakReport {
  const { jobs } = o;
  const failures = [...obs.failures];
  const ws = parseWorkerStats(obs.workerStdout);
  const t = tally(obs, jobs);
  const { completed, failed } = t;
  const st = obs.endpointStats;
  const faults = faultCounts(obs.simStats, st);
  const rss = rssTrend(obs.rssKb, o);

  const check = (ok: boolean, what: string): void => {
    if (!ok) failures.push(what);
  };
  check(t.lost === 0, `lost = ${t.lost}: job(s) never reached a final state`);
  check(obs.notFinal === 0, `${obs.notFinal} job(s) not final on /status at the end`);
  check(obs.statusMismatch === 0, `${obs.statusMismatch} job(s) whose /status differs from the final state their webhook reported`);
  check(t.doubleFinal === 0, `${t.doubleFinal} job(s) reported final more than once`);
  check(st.duplicateResults === 0, `duplicated = ${st.duplicateResults}: a result was posted again for job(s) ${st.duplicateJobIds.slice(0, 5).join(', ')}`);
  check(st.lateResults === 0, `${st.lateResults} result(s) posted for jobs already cancelled or timed out`);
  check(st.resultsRecorded === completed + failed, `the emulator recorded ${st.resultsRecorded} results for ${completed + failed} COMPLETED/FAILED jobs`);
  check(t.timedOut === 0, `${t.timedOut} job(s) TIMED_OUT`);
  check(t.cancelled === 0, `${t.cancelled} job(s) CANCELLED`);
  check(t.images.bad === 0, `${t.images.bad} COMPLETED job(s) with bad images, e.g. ${t.badExamples.join(' | ')}`);
  check((t.failedBy.other ?? 0) === 0, `${t.failedBy.other ?? 0} FAILED job(s) not explained by an injected A1111 fault`);
  check(failed === faults.a1111.onGeneration, `${failed} FAILED job(s) but ${faults.a1111.onGeneration} A1111 fault(s) injected on txt2img`);
  check(obs.exitCode === 0, `the worker exited ${obs.exitCode} after SIGTERM (expected 0)`);
  check(ws.resultsLost === 0, `the worker reports ${ws.resultsLost ?? 'no count of'} result(s) lost`);
  check(ws.jobsTaken === jobs, `the worker took ${ws.jobsTaken ?? '?'} job(s) for ${jobs} submitted (a job handed out twice, or never)`);
  check(ws.completed === completed && ws.failed === failed, `the worker counts ${ws.completed ?? '?'} completed / ${ws.failed ?? '?'} failed, the endpoint ${completed} / ${failed}`);
  for (const [name, c] of [['A1111 calls', faults.a1111], ['job-takes', faults.take], ['job-dones', faults.done]] as const) {
    const share = c.calls ? c.faulted / c.calls : 0;
    check(share >= o.minFaultShare, `only ${(share * 100).toFixed(1)} % of ${name} faulted (at least ${o.minFaultShare * 100} % required)`);
  }
  if (o.checkRss) {
    check(rss.ratio !== null, 'the worker RSS could not be sampled');
    check(rss.ratio === null || rss.ratio <= o.rssMaxGrowth, `worker peak RSS grew ×${rss.ratio?.toFixed(3)} between the first and the last ${rss.window} jobs (limit ×${o.rssMaxGrowth})`);
  }

  return {
    ok: failures.length === 0,
    failures,
    jobs,
    seed: o.seed,
    durationMs: performance.now() - obs.t0,
    faults,
    completed,
    failed,
    failedBy: t.failedBy,
    timedOut: t.timedOut,
    cancelled: t.cancelled,
    lost: t.lost,
    duplicated: st.duplicateResults,
    doubleFinal: t.doubleFinal,
    images: t.images,
    worker: { exitCode: obs.exitCode, ...ws },
    rss,
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
