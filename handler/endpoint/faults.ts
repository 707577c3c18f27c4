/**
 * Seeded fault injection on the emulator's worker API, for tests and the soak (`npm run soak`): job-take answers
 * 500 / 429 / garbage / a reset connection **before** any job is assigned, and job-done answers 500 / a reset
 * connection **before** the posted result is recorded. So every injected fault is unambiguous — a faulted take
 * hands out nothing, a faulted job-done records nothing — and the worker must simply try again.
 *
 * Draws come from pure-rand's xoroshiro128+, one independent stream per route (the job-done stream is the job-take
 * stream jumped 2^64 draws ahead), so the n-th job-take gets the same answer in every run with the same seed
 * whatever the job-done traffic was.
 *
 * Besides the seeded faults, {@link FaultInjector.inject} scripts the answers of the next requests of a route
 * (tests): a status with a raw body, or a reset connection.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** Fault kinds of job-take: HTTP 500, HTTP 429, a 200 `application/json` body that is not JSON, a reset connection. */
export type TakeFaultKind = 'status500' | 'status429' | 'garbage' | 'reset';
/** Fault kinds of job-done: HTTP 500, a reset connection. */
export type DoneFaultKind = 'status500' | 'reset';

/** The job-take fault kinds, in the order their weights are read. */
export const TAKE_FAULT_KINDS: readonly TakeFaultKind[] = ['status500', 'status429', 'garbage', 'reset'];
/** The job-done fault kinds, in the order their weights are read. */
export const DONE_FAULT_KINDS: readonly DoneFaultKind[] = ['status500', 'reset'];

/**
 * Default relative weights of the job-take kinds. 429 is rarer than the rest because the worker pauses 5 s after
 * one (docs/runpod-protocol.md, "Response handling"), which would dominate a soak's run time.
 */
export const DEFAULT_TAKE_FAULT_WEIGHTS: Readonly<Record<TakeFaultKind, number>> = { status500: 3, status429: 1, garbage: 3, reset: 3 };
/** Default relative weights of the job-done kinds. */
export const DEFAULT_DONE_FAULT_WEIGHTS: Readonly<Record<DoneFaultKind, number>> = { status500: 1, reset: 1 };

/** The `faults` option of `startEndpoint`. */
export interface EndpointFaultOptions {
  /** Seed of the generator (any integer); the same seed gives the same fault sequence per route. */
  seed: number;
  /** Probability (0–1) that one job-take request is answered with a fault instead of being served. Default 0. */
  takeRate?: number;
  /** Probability (0–1) that one job-done post (progress or final) is answered with a fault. Default 0. */
  doneRate?: number;
  /** Relative weights of the job-take kinds (missing kinds keep their default; 0 disables a kind). */
  takeKinds?: Partial<Record<TakeFaultKind, number>>;
  /** Relative weights of the job-done kinds (missing kinds keep their default; 0 disables a kind). */
  doneKinds?: Partial<Record<DoneFaultKind, number>>;
  /**
   * HTTP statuses (400–499) answered, in this order, to the next final job-done posts (not progress updates) before
   * their result is recorded: a worker must then post its FAILED fallback. Not seeded; default none.
   */
  doneRefusals?: readonly number[];
}

/** The worker-API routes, as request records and scripted faults name them (`take` covers job-take-batch too). */
export type WorkerRoute = 'take' | 'done' | 'stream' | 'stop' | 'ping';

/** The answer of a scripted fault: `'reset'` destroys the connection without an answer; else this HTTP answer. */
export type ScriptedAnswer = 'reset' | { status: number; body?: string; contentType?: string };

/**
 * A scripted fault (`LocalEndpoint.injectFault`): the next `count` requests of `route` get `answer` before anything
 * else happens (no job is assigned, no result recorded). A 200 with a raw body is a hand-made job-take answer: its
 * jobs are unknown to the emulator, so their job-done posts are answered 404. Scripted faults come before the
 * seeded ones and, on job-take and job-done, count in {@link EndpointStats.takes} / {@link EndpointStats.dones}.
 */
export interface ScriptedFault {
  route: WorkerRoute;
  /** How many requests in a row, a positive integer; default 1. */
  count?: number;
  /** A body without `contentType` is sent as `text/plain`. */
  answer: ScriptedAnswer;
}

/** Counters of the worker API, read with `LocalEndpoint.stats()`. */
export interface EndpointStats {
  /** Job-take requests received (single and batch), faulted ones included. */
  takes: number;
  /** Job-done posts received (progress updates and final results), faulted ones included. */
  dones: number;
  /** Faults injected, by route and kind. */
  faults: { take: Record<TakeFaultKind, number>; done: Record<DoneFaultKind, number> };
  /** Final results recorded (a job became COMPLETED or FAILED through a job-done post): at most one per job. */
  resultsRecorded: number;
  /** Final posts for a job whose result had already been recorded (acknowledged, ignored): the worker posted twice. */
  duplicateResults: number;
  /** Ids of the jobs counted in `duplicateResults` (each listed once). */
  duplicateJobIds: string[];
  /** Final posts for a job that had been cancelled, had timed out or expired (acknowledged, ignored). */
  lateResults: number;
  /** Final job-done posts refused with a 4xx (over the job's result limit, or `doneRefusals`): nothing recorded. */
  refusedResults: number;
  /** Ids of the jobs whose recorded final job-done carried `isStream=true`. */
  streamFinalJobIds: string[];
  /** Ids of the jobs whose recorded final body carried `"stopPod": true`. */
  stopPodJobIds: string[];
}

function checkRate(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`faults.${name} must be a number from 0 to 1, got ${String(v)}`);
  return v;
}

/** Picks a kind from `weights` with `u` in [0, 1). */
function pick<K extends string>(kinds: readonly K[], weights: Record<K, number>, total: number, u: number): K {
  let x = u * total;
  for (const k of kinds) {
    x -= weights[k];
    if (x < 0) return k;
  }
  return kinds.filter((k) => weights[k] > 0).at(-1)!;
}

function weightsOf<K extends string>(name: string, kinds: readonly K[], defaults: Readonly<Record<K, number>>, given: Partial<Record<K, number>> | undefined): { w: Record<K, number>; total: number } {
  const w = { ...defaults, ...(given ?? {}) } as Record<K, number>;
  let total = 0;
  for (const k of Object.keys(w) as K[]) {
    if (!kinds.includes(k)) throw new RangeError(`faults.${name}: unknown kind ${JSON.stringify(k)} (allowed: ${kinds.join(', ')})`);
    const v = w[k];
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new RangeError(`faults.${name}.${k} must be a finite number >= 0, got ${String(v)}`);
    total += v;
  }
  return { w, total };
}

/** Decides, per worker-API request, whether to inject a fault, and counts requests and faults. */
export class FaultInjector {
  private readonly refusals: number[];
  private readonly scripted: Array<{ route: WorkerRoute; left: number; answer: ScriptedAnswer }> = [];
  private readonly takeRate: number;
  private readonly doneRate: number;
  private readonly takeRand: () => number;
  private readonly doneRand: () => number;
  private readonly takeWeights: { w: Record<TakeFaultKind, number>; total: number };
  private readonly doneWeights: { w: Record<DoneFaultKind, number>; total: number };
  private readonly counts = {
    takes: 0,
    dones: 0,
    take: { status500: 0, status429: 0, garbage: 0, reset: 0 } as Record<TakeFaultKind, number>,
    done: { status500: 0, reset: 0 } as Record<DoneFaultKind, number>,
  };

  /**
   * @param opts undefined: no faults, counting only
   * @throws RangeError for a rate outside 0–1, an unknown kind or a bad weight
   */
  constructor(opts: EndpointFaultOptions | undefined) {
    const seed = opts?.seed ?? 0;
    if (!Number.isFinite(seed)) throw new RangeError(`faults.seed must be a finite number, got ${String(seed)}`);
    this.refusals = [...(opts?.doneRefusals ?? [])];
    for (const r of this.refusals) if (!Number.isInteger(r) || r < 400 || r > 499) throw new RangeError(`faults.doneRefusals: ${String(r)} is not a 4xx status`);
    this.takeRate = checkRate('takeRate', opts?.takeRate);
    this.doneRate = checkRate('doneRate', opts?.doneRate);
    this.takeWeights = weightsOf('takeKinds', TAKE_FAULT_KINDS, DEFAULT_TAKE_FAULT_WEIGHTS, opts?.takeKinds);
    this.doneWeights = weightsOf('doneKinds', DONE_FAULT_KINDS, DEFAULT_DONE_FAULT_WEIGHTS, opts?.doneKinds);
    if (this.takeRate > 0 && this.takeWeights.total === 0) throw new RangeError('faults.takeKinds: every weight is 0 but takeRate > 0');
    if (this.doneRate > 0 && this.doneWeights.total === 0) throw new RangeError('faults.doneKinds: every weight is 0 but doneRate > 0');
    // One stream per route, so their sequences do not depend on each other.
    const takeRng = xoroshiro128plus(Math.trunc(seed));
    const doneRng = takeRng.clone();
    doneRng.jump();
    this.takeRand = () => uniformFloat64(takeRng);
    this.doneRand = () => uniformFloat64(doneRng);
  }

  /**
   * Queues a scripted fault after those already queued.
   * @throws RangeError for a count that is not a positive integer or a status outside 100–599
   */
  inject(f: ScriptedFault): void {
    const count = f.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`fault count must be a positive integer, got ${String(count)}`);
    if (f.answer !== 'reset' && !(Number.isInteger(f.answer.status) && f.answer.status >= 100 && f.answer.status <= 599)) {
      throw new RangeError(`fault status must be an HTTP status (100-599), got ${String(f.answer.status)}`);
    }
    this.scripted.push({ route: f.route, left: count, answer: f.answer });
  }

  /** Consumes the next scripted fault of `route`, if any, and returns its answer (counting a job-take / job-done). */
  nextScripted(route: WorkerRoute): ScriptedAnswer | null {
    const i = this.scripted.findIndex((f) => f.route === route);
    if (i < 0) return null;
    const f = this.scripted[i]!;
    if (--f.left === 0) this.scripted.splice(i, 1);
    if (route === 'take') this.counts.takes++;
    if (route === 'done') this.counts.dones++;
    return f.answer;
  }

  /** Counts one job-take request; returns the fault to answer it with, or null to serve it. */
  onTake(): TakeFaultKind | null {
    this.counts.takes++;
    if (this.takeRate === 0) return null;
    const hit = this.takeRand() < this.takeRate;
    const u = this.takeRand(); // drawn either way, so each take consumes the same number of draws
    if (!hit) return null;
    const kind = pick(TAKE_FAULT_KINDS, this.takeWeights.w, this.takeWeights.total, u);
    this.counts.take[kind]++;
    return kind;
  }

  /** Counts one job-done post; returns the fault to answer it with, or null to record it. */
  onDone(): DoneFaultKind | null {
    this.counts.dones++;
    if (this.doneRate === 0) return null;
    const hit = this.doneRand() < this.doneRate;
    const u = this.doneRand();
    if (!hit) return null;
    const kind = pick(DONE_FAULT_KINDS, this.doneWeights.w, this.doneWeights.total, u);
    this.counts.done[kind]++;
    return kind;
  }

  /** The next queued refusal of a final job-done post ({@link EndpointFaultOptions.doneRefusals}), or null. */
  onFinalDone(): number | null {
    return this.refusals.shift() ?? null;
  }

  /** The request and fault counters (copies). */
  counters(): Pick<EndpointStats, 'takes' | 'dones' | 'faults'> {
    return { takes: this.counts.takes, dones: this.counts.dones, faults: { take: { ...this.counts.take }, done: { ...this.counts.done } } };
  }
}
