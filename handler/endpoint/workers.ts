/**
 * The workers the local endpoint emulator has seen, for `/health`.
 *
 * RunPod's docs show `workers: {idle, running}` (serverless/endpoints/operation-reference.mdx, "/health"); the
 * js-sdk's `HealthCheck` type adds `initializing`, `ready` and `throttled` (runpod/js-sdk `src/index.ts`), and the
 * console lists an Unhealthy state (docs/runpod-protocol.md, "Platform (public queue API) facts"). How the
 * emulator counts them (its own rules; RunPod does not document them):
 * - `running`: holds a job;
 * - `idle`: made a worker-API request other than a ping (job-take, job-stop, job-done…) and holds no job;
 * - `initializing`: seen only through pings so far (the heartbeat starts before A1111 is ready and the first take);
 * - `unhealthy`: its last ping carried `status=unhealthy` (runpod-python's fitness report, `rp_fitness.py`); it
 *   counts in no other state until it pings healthy or is gone;
 * - `ready`: idle + running (initialized and healthy);
 * - `throttled`: always 0 (the emulator never throttles a worker).
 * A worker counts while its last request is at most {@link WORKER_SEEN_WINDOW_MS} old.
 */

/** A worker counts in `/health` when it made a worker-API request within this many ms. */
export const WORKER_SEEN_WINDOW_MS = 60_000;

/** `workers` of the `/health` body, keys in alphabetical order (the platform's). */
export interface WorkerCounts {
  idle: number;
  initializing: number;
  ready: number;
  running: number;
  throttled: number;
  unhealthy: number;
}

interface Sighting {
  /** Monotonic ms of the last request. */
  at: number;
  /** True once it made a request other than a ping. */
  initialized: boolean;
  /** True when its last ping said `status=unhealthy`. */
  unhealthy: boolean;
}

/** Last sightings of the workers, by id. */
export class WorkerSightings {
  private readonly seen = new Map<string, Sighting>();

  /**
   * Records a worker-API request at monotonic time `t`.
   * @param via `ping` for a heartbeat (with `unhealthy` from its `status` query), `api` for any other route
   */
  record(workerId: string, t: number, via: 'ping' | 'api', unhealthy = false): void {
    const prev = this.seen.get(workerId);
    this.seen.set(workerId, {
      at: t,
      initialized: (prev?.initialized ?? false) || via === 'api',
      unhealthy: via === 'ping' ? unhealthy : (prev?.unhealthy ?? false),
    });
  }

  /**
   * Counts the workers seen within the window before `t` (see the module comment).
   * @param busy ids of the workers holding a job now
   */
  counts(t: number, busy: ReadonlySet<string>): WorkerCounts {
    const c: WorkerCounts = { idle: 0, initializing: 0, ready: 0, running: 0, throttled: 0, unhealthy: 0 };
    const ids = new Set<string>(busy);
    for (const [id, s] of this.seen) if (t - s.at <= WORKER_SEEN_WINDOW_MS) ids.add(id);
    for (const id of ids) {
      const s = this.seen.get(id);
      if (s?.unhealthy) c.unhealthy++;
      else if (busy.has(id)) c.running++;
      else if (s?.initialized) c.idle++;
      else c.initializing++;
    }
    c.ready = c.idle + c.running;
    return c;
  }

  /** Forgets the workers not seen within the window before `t`. */
  sweep(t: number): void {
    for (const [id, s] of this.seen) if (t - s.at > WORKER_SEEN_WINDOW_MS) this.seen.delete(id);
  }
}
