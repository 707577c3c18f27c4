/**
 * Several A1111 backends on one pod (issue "several A1111 backends", seed 002's downstream servers): one A1111 per
 * GPU, `A1111_URLS=http://127.0.0.1:3000,http://127.0.0.1:3001`.
 *
 * - Each backend is waited for (`GET /sdapi/v1/sd-models` == 200, as {@link A1111Client.waitReady}) and, once, warmed
 *   up (`prepare`) before it counts as ready.
 * - {@link A1111Pool.readyCount} is the worker's concurrency: the runtime takes as many jobs as there are ready
 *   backends (job-take-batch when more than one is free, docs/runpod-protocol.md, "Job acquisition (job-take)"); {@link A1111Pool.onChange} tells it
 *   when that number changes.
 * - {@link A1111Pool.acquire} gives a job the least-busy ready backend (fewest jobs in flight). Ties go round-robin:
 *   the search starts after the backend leased last, so that jobs one at a time visit every idle backend in turn
 *   (ties to the first listed put most short jobs on the first backends). The in-flight count is decremented when
 *   the lease is released, which callers do in `finally` (sd-proxy-server only ever increments it,
 *   docs/runpod-conventions.md, "(b) LlamaEdge **sd-proxy-server**: A1111-compatible load balancer").
 * - A backend found unreachable during a job (its client's `needsReadyCheck`) is taken out when the lease is
 *   released and re-probed in the background until it answers again.
 * - The local endpoint's admin API (sd-proxy-server's `/admin/register/image` …) adds and removes backends at run
 *   time ({@link A1111Pool.add}, {@link A1111Pool.remove}).
 */
import pRetry from 'p-retry';
import type { A1111Config } from '../config.js';
import type { Log } from '../log.js';
import { A1111Client, type A1111Caller, type A1111Response, type CallOptions } from './client.js';
import { A1111Error, A1111ExitedError } from '../errors/index.js';

/** A backend's state: being probed (first time or after a failure), ready for jobs, or removed from the pool. */
export type BackendState = 'starting' | 'ready' | 'down' | 'removed';

/** One A1111 backend of the pool. */
export interface Backend {
  /** Its base URL, as configured (no trailing slash). */
  readonly url: string;
  readonly client: A1111Client;
  state: BackendState;
  /** Jobs running on it now. */
  inFlight: number;
  /** Jobs given to it so far. */
  jobs: number;
}

/** A backend lent to one job; {@link release} it in `finally`. */
export interface Lease {
  readonly backend: Backend;
  readonly client: A1111Client;
  /** Gives the backend back (idempotent). When the job found it unreachable, it is taken out and re-probed. */
  release(): void;
}

/** Options of {@link A1111Pool}. */
export interface PoolOptions {
  /**
   * Runs once per backend after its first readiness, before it takes jobs (the warm-up generation).
   * Throwing makes the pool fail ({@link A1111Pool.failed}).
   */
  prepare?: (client: A1111Client, signal: AbortSignal) => Promise<void>;
  /** Pause between probe rounds of a backend that stayed down past `A1111_READY_TIMEOUT_S`, ms (default 5000). */
  slowProbeIntervalMs?: number;
  /** false: unreachable backends are not taken out (see {@link A1111Pool.fromClient}); default true. */
  manageHealth?: boolean;
}

/** The A1111 backends of a pod, their readiness, and which job runs where. */
export class A1111Pool {
  private readonly list: Backend[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly stop = new AbortController();
  private readonly prepared = new WeakSet<Backend>();
  /** Backends whose probe missed its first deadline, with that error. */
  private readonly missed = new Map<Backend, Error>();
  private failure: Error | undefined;
  private failWaiters: Array<(e: Error) => void> = [];
  /** The backend leased last: the next search for the least busy starts after it (round-robin among ties). */
  private lastLeased: Backend | undefined;
  /** The caller for name lists: any ready backend (A1111Lists); the backends are meant to serve the same models. */
  readonly caller: A1111Caller;

  /**
   * @param config the A1111 settings; `config.urls` (or `[config.url]`) are the backends.
   * @param log the worker's logger
   */
  constructor(
    readonly config: A1111Config,
    private readonly log: Log,
    private readonly options: PoolOptions = {},
  ) {
    for (const url of config.urls ?? [config.url]) this.list.push(this.makeBackend(url));
    this.caller = {
      config,
      call: (method: 'GET' | 'POST', path: string, payload?: unknown, opts?: CallOptions): Promise<A1111Response> => {
        const b = this.pick() ?? this.list.find((x) => x.state !== 'removed');
        if (!b) return Promise.reject(new A1111Error(`A1111 unreachable on ${method} ${path}: no backend registered`, 'unreachable', null, method, path));
        return b.client.call(method, path, payload, opts).catch((e: unknown) => {
          this.checkHealth(b);
          throw e;
        });
      },
    };
  }

  private makeBackend(url: string): Backend {
    const config: A1111Config = { ...this.config, url, urls: [url] };
    // A1111_PID (start.sh) is the one A1111 of a one-backend pod; with several it would name only one of them.
    if ((this.config.urls?.length ?? 1) > 1 || url !== this.config.url) delete config.pid;
    return { url, client: new A1111Client(config, this.log), state: 'starting', inFlight: 0, jobs: 0 };
  }

  /**
   * A one-backend pool around an existing client, ready at once and without health management: a backend found
   * unreachable stays in (the caller waits for readiness itself). For handlers built on one client (tests, tools).
   */
  static fromClient(client: A1111Client, log: Log): A1111Pool {
    const pool = new A1111Pool({ ...client.config, urls: [] }, log, { manageHealth: false });
    pool.list.push({ url: client.config.url, client, state: 'ready', inFlight: 0, jobs: 0 });
    return pool;
  }

  /** Every backend not removed, in configuration order. */
  get backends(): readonly Backend[] {
    return this.list.filter((b) => b.state !== 'removed');
  }

  /** Backends ready for jobs: the worker's concurrency. */
  get readyCount(): number {
    return this.list.reduce((n, b) => n + (b.state === 'ready' ? 1 : 0), 0);
  }

  /** Calls `fn` whenever a backend's state changes (ready count up or down); returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The error that made the pool unusable (a warm-up failed, A1111's process exited), once there is one. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Resolves with the error that makes the pool unusable (never resolves while the pool is fine). */
  whenFailed(): Promise<Error> {
    if (this.failure) return Promise.resolve(this.failure);
    return new Promise((resolve) => this.failWaiters.push(resolve));
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const w of this.failWaiters.splice(0)) w(e);
    this.notify();
  }

  private notify(): void {
    for (const fn of this.listeners) fn();
  }

  private setState(b: Backend, state: BackendState): void {
    if (b.state === state) return;
    b.state = state;
    this.notify();
  }

  /**
   * Probes every backend in parallel (readiness, then `prepare` once) and resolves as soon as the first one is
   * ready; the others join as they become ready. Backends still down at `A1111_READY_TIMEOUT_S` are logged and
   * re-probed in the background.
   * @returns the time until the first backend was ready, ms
   * @throws A1111Error (`unreachable`) when no backend is ready by the deadline (each one's last failure named);
   *   A1111ExitedError when A1111's process (`A1111_PID`, one backend only) exited; the `prepare` error; or
   *   (`aborted`) when `signal` aborts.
   */
  async start(signal?: AbortSignal): Promise<number> {
    const t0 = performance.now();
    for (const b of this.list) if (b.state === 'starting') void this.probe(b, true);
    await this.waitAnyReady(signal);
    return performance.now() - t0;
  }

  /**
   * Waits until at least one backend is ready (at once when one is). Each backend's probe has the
   * `A1111_READY_TIMEOUT_S` deadline; once every backend has missed it, the wait fails.
   * @throws with one backend, its client's error (`A1111 at <url> not ready after N s (A1111_READY_TIMEOUT_S); …`);
   *   with several, A1111Error (`unreachable`) joining theirs; the pool's failure (warm-up, A1111 exited); or
   *   (`aborted`) when `signal` aborts.
   */
  async waitAnyReady(signal?: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const check = (): boolean => {
        if (this.failure) return settle(this.failure);
        if (this.readyCount > 0) return settle();
        const live = this.backends;
        if (live.length > 0 && live.every((b) => b.state === 'down' && this.missed.has(b))) {
          const errors = live.map((b) => this.missed.get(b)!);
          return settle(
            errors.length === 1
              ? errors[0]!
              : new A1111Error(`no A1111 backend ready: ${errors.map((e) => e.message).join('; ')}`, 'unreachable', null, 'GET', '/sdapi/v1/sd-models'),
          );
        }
        if (signal?.aborted) return settle(new A1111Error('readiness wait aborted', 'aborted', null, 'GET', '/sdapi/v1/sd-models'));
        return false;
      };
      const settle = (e?: Error): true => {
        off();
        signal?.removeEventListener('abort', onAbort);
        if (e) reject(e);
        else resolve();
        return true;
      };
      const onAbort = (): void => void check();
      const off = this.onChange(() => void check());
      signal?.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  /**
   * Probes one backend until it is ready (then prepares it once) or removed. The first round is the client's own
   * readiness wait (`A1111_READY_INTERVAL_MS` tries up to `A1111_READY_TIMEOUT_S`); once it has missed that
   * deadline the backend is `down` (its error kept for {@link waitAnyReady}) and, after `slowProbeIntervalMs`, probed
   * again the same way, until it answers or is removed.
   */
  private async probe(b: Backend, first: boolean): Promise<void> {
    const signal = this.stop.signal;
    // The state changes under the awaits below (remove() from the admin API).
    const removed = (): boolean => (b.state as BackendState) === 'removed';
    /** Only a backend that did not answer is probed again; A1111's exit or a failed warm-up is final. */
    const retryable = (e: Error): boolean => e instanceof A1111Error && !(e instanceof A1111ExitedError);
    this.missed.delete(b);
    const round = async (attempt: number): Promise<void> => {
      if (removed()) return;
      const ms = await b.client.waitReady(signal);
      if (removed() || signal.aborted) return;
      if (!this.prepared.has(b)) {
        this.prepared.add(b);
        if (this.options.prepare) await this.options.prepare(b.client, signal);
      }
      if (removed() || signal.aborted) return;
      this.missed.delete(b);
      const several = this.backends.length > 1;
      const again = !(first && attempt === 1);
      const count = several ? ` (${this.readyCount + 1} of ${this.backends.length} ready)` : '';
      if (again) this.log.info(several ? `A1111 at ${b.url} ready again after ${Math.round(ms)} ms${count}.` : `A1111 ready again after ${Math.round(ms)} ms.`);
      else this.log.info(`A1111 ready at ${b.url} after ${Math.round(ms)} ms${count}.`);
      this.setState(b, 'ready');
    };
    try {
      // Rounds of the client's readiness wait, `slowProbeIntervalMs` apart, until ready or removed.
      await pRetry(round, {
        retries: Infinity,
        factor: 1,
        minTimeout: this.options.slowProbeIntervalMs ?? 5000,
        maxTimeout: this.options.slowProbeIntervalMs ?? 5000,
        signal,
        shouldRetry: ({ error }) => retryable(error) && !removed(),
        onFailedAttempt: ({ error, attemptNumber }) => {
          if (attemptNumber !== 1 || signal.aborted || removed() || !retryable(error)) return;
          if (this.backends.length > 1) this.log.error(`${error.message}; still probing it (the other backends take the jobs).`);
          this.missed.set(b, error);
          b.state = 'down';
          this.notify();
        },
      });
    } catch (e) {
      if (signal.aborted || removed()) return;
      // A1111's process exited, or the warm-up failed: nothing to wait for.
      this.fail(e as Error);
    }
  }

  /**
   * The least-busy ready backend (fewest in flight), or undefined when none is ready. The search starts after the
   * backend leased last (from the first listed when there is none, or it has left the list), so that ties go to the
   * next one round the list.
   */
  private pick(): Backend | undefined {
    const n = this.list.length;
    const start = this.lastLeased ? this.list.indexOf(this.lastLeased) + 1 : 0;
    let best: Backend | undefined;
    for (let k = 0; k < n; k++) {
      const b = this.list[(start + k) % n]!;
      if (b.state === 'ready' && (!best || b.inFlight < best.inFlight)) best = b;
    }
    return best;
  }

  /**
   * Lends the least-busy ready backend to a job (ties: the next one after the backend leased last, round-robin):
   * its in-flight count rises until the lease is released.
   * @returns the lease, or undefined when no backend is ready (the job should fail as A1111 unreachable).
   */
  acquire(): Lease | undefined {
    const backend = this.pick();
    if (!backend) return undefined;
    this.lastLeased = backend;
    backend.inFlight++;
    backend.jobs++;
    let released = false;
    return {
      backend,
      client: backend.client,
      release: () => {
        if (released) return;
        released = true;
        backend.inFlight--;
        if (backend.state === 'removed' && backend.inFlight === 0) {
          const i = this.list.indexOf(backend);
          if (i >= 0) this.list.splice(i, 1);
        }
        this.checkHealth(backend);
      },
    };
  }

  /** True when unreachable backends are taken out and re-probed (not for {@link fromClient} pools). */
  get managesHealth(): boolean {
    return this.options.manageHealth !== false;
  }

  /** Takes a ready backend out when a call found it unreachable (its client's `needsReadyCheck`). */
  private checkHealth(b: Backend): void {
    if (this.managesHealth && b.client.needsReadyCheck && b.state === 'ready') this.takeOut(b);
  }

  /** Takes a backend that stopped answering out of the pool and re-probes it. */
  private takeOut(b: Backend): void {
    this.log.warn(`A1111 at ${b.url} is unreachable: taken out of the pool and re-probed (${this.readyCount - 1} of ${this.backends.length} ready).`);
    this.setState(b, 'down');
    void this.probe(b, false);
  }

  /**
   * Adds a backend at run time (admin API); it is probed and joins when ready.
   * @returns false when that URL is already in the pool
   */
  add(url: string): boolean {
    if (this.list.some((b) => b.url === url && b.state !== 'removed')) return false;
    const b = this.makeBackend(url);
    this.list.push(b);
    this.log.info(`A1111 backend ${url} registered; probing it.`);
    this.notify();
    void this.probe(b, true);
    return true;
  }

  /**
   * Removes a backend (admin API): it takes no new jobs; jobs running there finish.
   * @returns false when that URL is not in the pool
   */
  remove(url: string): boolean {
    const b = this.list.find((x) => x.url === url && x.state !== 'removed');
    if (!b) return false;
    this.setState(b, 'removed');
    const i = this.list.indexOf(b);
    if (b.inFlight === 0) this.list.splice(i, 1);
    this.log.info(`A1111 backend ${url} unregistered.`);
    return true;
  }

  /** Stops the background probes. */
  close(): void {
    this.stop.abort(new Error('pool closed'));
  }
}
