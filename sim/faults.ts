/**
 * Fault injection of the simulator: faults queued by tests (`injectFault`, `POST /sim/faults`, `--fail-next`) and
 * the seeded random fault mode (soak tests), applied to `/sdapi/v1/*` requests, with their counters.
 */
import { flavorErrorBody, statusPhrase } from './errors.js';
import type { SimFlavor } from './models.js';
import { seededRandom } from './random.js';

/** Kinds of the random fault mode (see {@link SimFault}): `status` is a 500 with A1111's CUDA OOM body. */
export type SimRandomFaultKind = 'status' | 'close' | 'garbage';

/** The kinds of {@link SimRandomFaultKind}, in draw order. */
export const SIM_RANDOM_FAULT_KINDS: readonly SimRandomFaultKind[] = ['status', 'close', 'garbage'];

/**
 * The seeded random fault mode: each `/sdapi/v1/*` request of `routes` that no injected fault claims is faulted
 * with probability `rate`, with a kind drawn uniformly from `kinds`. The same seed gives the same sequence of
 * decisions for the same sequence of eligible requests.
 */
export interface SimRandomFaults {
  /** probability 0..1 that one eligible request is faulted */
  rate: number;
  /** seed of the generator (an integer) */
  seed: number;
  /** kinds to draw from, equally likely; default all of {@link SIM_RANDOM_FAULT_KINDS} */
  kinds?: SimRandomFaultKind[];
  /** paths after `/sdapi/v1/` that are eligible (e.g. `txt2img`); default every `/sdapi/v1/*` request */
  routes?: string[];
}

/** Fault counters of a simulator (`Simulator.faultStats()`, `GET /sim/state` → `fault_stats`). */
export interface SimFaultStats {
  /** `/sdapi/v1/*` requests received */
  requests: number;
  /** of those, the requests eligible for random faults (all of them when no `routes` filter is set) */
  eligible: number;
  /** injected faults (`injectFault`, `POST /sim/faults`, `--fail-next`) applied */
  injected: number;
  /** random faults applied: by kind, by route (path after `/sdapi/v1/`), and in all */
  random: { total: number; byKind: Record<SimRandomFaultKind, number>; byRoute: Record<string, number> };
}

/**
 * An injected fault, applied to the next `count` matching `/sdapi/v1/*`
 * requests. `route` is the path after `/sdapi/v1/` (e.g. `txt2img`); absent =
 * any `/sdapi/v1/*` request. Faults are consumed in the order injected.
 *
 * - `status`: answer `status` with `body` (default: A1111's error wrapper)
 * - `hang`: accept the request and never answer (until `close()`)
 * - `close`: destroy the socket without a response (connection reset)
 * - `garbage`: HTTP 200 with a body that is not JSON
 */
export type SimFault =
  | { kind: 'status'; status: number; count: number; route?: string; body?: unknown }
  | { kind: 'hang'; count: number; route?: string }
  | { kind: 'close'; count: number; route?: string }
  | { kind: 'garbage'; count: number; route?: string };

/** The body of a `garbage` fault: the start of a JSON answer cut by an HTML error page. */
export const GARBAGE_BODY = '{"images": ["iVBORw0KGgoAAAANSUhEUgAA\u0000<html><body>Internal Server Error';

const routeOf = (r: string) => r.replace(/^\/?(sdapi\/v1\/)?/, '');

/**
 * Validates a fault description (from `injectFault` or `POST /sim/faults`).
 * @throws TypeError naming the bad field
 */
export function parseFault(x: unknown): SimFault {
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new TypeError('fault must be an object');
  const f = x as Record<string, unknown>;
  const kind = f['kind'];
  if (kind !== 'status' && kind !== 'hang' && kind !== 'close' && kind !== 'garbage') {
    throw new TypeError(`fault.kind must be one of status|hang|close|garbage, got ${JSON.stringify(kind)}`);
  }
  const count = f['count'] ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
    throw new TypeError(`fault.count must be an integer >= 1, got ${JSON.stringify(count)}`);
  }
  let route: string | undefined;
  if (f['route'] !== undefined && f['route'] !== null) {
    if (typeof f['route'] !== 'string' || f['route'] === '') throw new TypeError('fault.route must be a non-empty string');
    route = routeOf(f['route']);
  }
  if (kind === 'status') {
    const status = f['status'];
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      throw new TypeError(`fault.status must be an HTTP status 100..599, got ${JSON.stringify(status)}`);
    }
    return { kind, status, count, ...(route ? { route } : {}), ...('body' in f ? { body: f['body'] } : {}) };
  }
  return { kind, count, ...(route ? { route } : {}) };
}

/**
 * Validates the random fault mode's options.
 * @throws RangeError naming the bad field
 */
export function parseRandomFaults(x: SimRandomFaults): Required<SimRandomFaults> {
  const { rate, seed } = x;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new RangeError(`randomFaults.rate must be a number 0..1, got ${String(rate)}`);
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw new RangeError(`randomFaults.seed must be an integer, got ${String(seed)}`);
  const kinds = x.kinds ?? [...SIM_RANDOM_FAULT_KINDS];
  if (!Array.isArray(kinds) || kinds.length === 0 || kinds.some((k) => !SIM_RANDOM_FAULT_KINDS.includes(k))) {
    throw new RangeError(`randomFaults.kinds must be a non-empty list of ${SIM_RANDOM_FAULT_KINDS.join('|')}, got ${JSON.stringify(x.kinds)}`);
  }
  const routes = (x.routes ?? []).map((r) => routeOf(String(r)));
  if (routes.some((r) => r === '')) throw new RangeError('randomFaults.routes must not contain an empty route');
  return { rate, seed, kinds, routes };
}

/** The body of a `status` fault without its own: a CUDA out-of-memory error for 500, else an `HTTPException`. */
export function defaultFaultBody(flavor: SimFlavor, status: number): unknown {
  if (status === 500) {
    return flavorErrorBody(flavor, {
      error: 'OutOfMemoryError',
      detail: '',
      body: '',
      errors: 'CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB of which 1.12 GiB is free.',
    });
  }
  return flavorErrorBody(flavor, { error: 'HTTPException', detail: statusPhrase(status), body: '', errors: '' });
}

/** The queue of injected faults, the random fault mode and their counters. */
export class FaultPlan {
  private readonly queued: { fault: SimFault; remaining: number }[] = [];
  private readonly random: Required<SimRandomFaults> | null;
  private readonly rand: (() => number) | null;
  private readonly stats: SimFaultStats = { requests: 0, eligible: 0, injected: 0, random: { total: 0, byKind: { status: 0, close: 0, garbage: 0 }, byRoute: {} } };

  /** @throws RangeError when `randomFaults` is malformed */
  constructor(randomFaults?: SimRandomFaults) {
    this.random = randomFaults ? parseRandomFaults(randomFaults) : null;
    this.rand = this.random ? seededRandom(this.random.seed) : null;
  }

  /** Queues a fault. @throws TypeError when the fault is malformed */
  inject(f: unknown): void {
    const fault = parseFault(f);
    this.queued.push({ fault, remaining: fault.count });
  }

  /** Faults still queued, each with the count left. */
  pending(): SimFault[] {
    return this.queued.map((e) => ({ ...e.fault, count: e.remaining }));
  }

  /** Empties the queue. @returns how many faults were queued */
  clear(): number {
    return this.queued.splice(0).length;
  }

  /** The fault for one `/sdapi/v1/<route>` request: a queued one first, else maybe a random one. Counts both. */
  take(route: string): SimFault | undefined {
    this.stats.requests++;
    const i = this.queued.findIndex((e) => e.fault.route === undefined || e.fault.route === route);
    if (i >= 0) {
      const e = this.queued[i];
      e.remaining--;
      if (e.remaining <= 0) this.queued.splice(i, 1);
      this.stats.injected++;
      return e.fault;
    }
    const { random, rand } = this;
    if (!random || !rand) return undefined;
    if (random.routes.length > 0 && !random.routes.includes(route)) return undefined;
    this.stats.eligible++;
    const hit = rand() < random.rate;
    const u = rand(); // drawn either way: every eligible request consumes two draws
    if (!hit) return undefined;
    const kind = random.kinds[Math.min(random.kinds.length - 1, Math.floor(u * random.kinds.length))];
    this.stats.random.total++;
    this.stats.random.byKind[kind]++;
    this.stats.random.byRoute[route] = (this.stats.random.byRoute[route] ?? 0) + 1;
    return kind === 'status' ? { kind, status: 500, count: 1, route } : { kind, count: 1, route };
  }

  /** A copy of the counters. */
  snapshot(): SimFaultStats {
    const { random } = this.stats;
    return { ...this.stats, random: { total: random.total, byKind: { ...random.byKind }, byRoute: { ...random.byRoute } } };
  }
}
