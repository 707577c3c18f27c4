/**
 * RunPod's serverless worker loop for platform mode (protocol spec §4, §5, §7, §10, §11): job-take long-poll →
 * handler → job-done, with a heartbeat thread alongside and a graceful drain on stop. Up to `concurrency()` jobs
 * run at once (one per ready A1111 backend); when more than one slot is free the take asks for that many through
 * job-take-batch (§4.1), and while every slot is busy no job-take is made (§4.3).
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { AxiosInstance, AxiosError } from 'axios';
import type { ResultRetryConfig } from '../config.js';
import { withBatchId, type Log } from '../log.js';
import type { Heartbeat } from './heartbeat.js';
import { postResult } from './http.js';
import { RawJson, refusedResultBody, resultFromError, resultFromOutput, serializeResult, serializeResultParts, type WorkerIdentity } from './result.js';
import { parseJobs, parseStopIds, type MalformedJob, type TakeOutcome } from './take.js';
import type { Handler, HandlerContext, Job, ResultBody } from './types.js';
import type { WorkerUrls } from './urls.js';

/** Bound of one job-take long-poll (spec §4.3: `wait_for(timeout=90)`). */
export const JOB_TAKE_TIMEOUT_MS = 90_000;
/** Pause after a 429 on job-take (spec §4.2). */
export const TOO_MANY_REQUESTS_PAUSE_MS = 5_000;
/** Backoff after repeated job-take errors: 100 ms doubling, capped at 5 s (the SDK hot-loops, spec §19 Q1). */
export const TAKE_BACKOFF_MIN_MS = 100;
export const TAKE_BACKOFF_MAX_MS = 5_000;

/** Progress posts are best effort: few retries so they never hold back the final result for long. */
const PROGRESS_RETRY: ResultRetryConfig = { retries: 1, minDelayMs: 500, maxDelayMs: 500, timeoutMs: 10_000 };

/** Counters of one worker's life (read by tests, benches and the shutdown log). */
export interface WorkerStats {
  jobsTaken: number;
  /** Results posted without `error`. */
  completed: number;
  /** Results posted with an `error`. */
  failed: number;
  /** Results the platform never acknowledged, nor their FAILED fallback (each one logged with its job id). */
  resultsLost: number;
  /** Results job-done refused with a 4xx and replaced by a FAILED fallback that was acknowledged (counted in `failed`). */
  resultsRefused: number;
  /** Malformed jobs of job-take-batch answers (not an object, no id or no input): failed alone or skipped. */
  malformedJobs: number;
  /** Job-take answers that were errors (non-2xx other than 204/400/429, bad bodies, transport errors). */
  takeErrors: number;
  /** Jobs stopped through the job-stop channel (cancelled or timed out on the platform): nothing posted for them. */
  stopped: number;
}

/** Everything the loop needs. */
export interface WorkerOptions {
  urls: WorkerUrls;
  /** Platform HTTP client (see `createPlatformClient`). */
  client: AxiosInstance;
  handler: Handler;
  retry: ResultRetryConfig;
  log: Log;
  identity: WorkerIdentity;
  heartbeat: Heartbeat | null;
  /**
   * Called before each job-take (e.g. to wait until the backend is ready again). Throwing stops the worker
   * with that error.
   */
  beforeTake?: (signal: AbortSignal) => Promise<void>;
  /** Long-poll bound in ms (default {@link JOB_TAKE_TIMEOUT_MS}). */
  takeTimeoutMs?: number;
  /** Pause after a job-take 429 in ms (default {@link TOO_MANY_REQUESTS_PAUSE_MS}). */
  throttlePauseMs?: number;
  /**
   * How many jobs may run at once, read before every job-take (RunPod's `concurrency_modifier`, spec §10): the
   * number of ready A1111 backends. Default 1. Call {@link WorkerRuntime.wake} when it rises.
   */
  concurrency?: () => number;
}

/** The worker loop (one instance per process). */
export class WorkerRuntime {
  readonly stats: WorkerStats = { jobsTaken: 0, completed: 0, failed: 0, resultsLost: 0, resultsRefused: 0, malformedJobs: 0, takeErrors: 0, stopped: 0 };
  /** The running jobs' abort controllers, by job id. */
  private readonly running = new Map<string, AbortController>();
  private stopping = false;
  private readonly stopController = new AbortController();
  private readonly held = new Set<string>();
  /** Jobs running now (their runJob promises). */
  private readonly active = new Set<Promise<void>>();
  /** Resolves the take loop's wait for a free slot. */
  private wakeUp: (() => void) | undefined;
  private readonly o: WorkerOptions;

  constructor(options: WorkerOptions) {
    this.o = options;
  }

  /** True once {@link stop} was called. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /** Wakes the take loop when it waits for a free slot: a job finished, or `concurrency()` may have risen. */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private waitForSlot(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.wakeUp = done;
      signal.addEventListener('abort', done, { once: true });
      if (signal.aborted) done();
    });
  }

  /** Aborted when {@link stop} is called (e.g. to cut a readiness wait short). */
  get stopSignal(): AbortSignal {
    return this.stopController.signal;
  }

  /**
   * Graceful stop (spec §11, improved per Q13): take no more jobs, abort an in-flight job-take at once,
   * let the running job finish and post its result; {@link run} then resolves.
   */
  stop(reason: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.o.log.info(`Stopping worker: ${reason}.`);
    this.stopController.abort(new Error(reason));
  }

  /**
   * Runs until {@link stop}. Resolves after the last job's result is posted.
   * @throws whatever `beforeTake` throws (e.g. the backend never became ready).
   */
  async run(): Promise<void> {
    const stopLoopEnd = new AbortController();
    const stopLoop = this.watchStopSignals(AbortSignal.any([this.stopController.signal, stopLoopEnd.signal]));
    try {
      await this.takeLoop();
    } finally {
      stopLoopEnd.abort();
      await stopLoop;
    }
    this.o.log.info(
      `Worker stopped: ${this.stats.jobsTaken} job(s) taken, ${this.stats.completed} completed, ${this.stats.failed} failed, ${this.stats.stopped} stopped, ${this.stats.resultsLost} result(s) lost.`,
    );
  }

  /**
   * The per-job stop channel (spec §8): long-polls `job-stop` and aborts the running job whose id comes back in
   * `{"jobsToStop": [...]}` (a cancel or an expired execution timeout on the platform). At least 1 s between
   * poll starts so the loop cannot spin; 5 s after a 429.
   */
  private async watchStopSignals(signal: AbortSignal): Promise<void> {
    const url = this.o.urls.jobStop;
    if (url === null) {
      this.o.log.warn('Stop channel could not be derived from the job-take URL; per-job stop is disabled for this worker.');
      return;
    }
    while (!signal.aborted) {
      const started = performance.now();
      let floorMs = 1000;
      try {
        const res = await this.o.client.get<string>(url, { signal, timeout: this.o.takeTimeoutMs ?? JOB_TAKE_TIMEOUT_MS });
        if (res.status === 429) floorMs = TOO_MANY_REQUESTS_PAUSE_MS;
        else if (res.status >= 200 && res.status < 300 && res.status !== 204) {
          for (const id of parseStopIds(res.data)) this.stopJob(id);
        } else if (res.status !== 204) {
          this.o.log.warn(`job-stop answered HTTP ${res.status}`);
        }
      } catch (e) {
        if (signal.aborted) break;
        const ax = e as AxiosError;
        if (ax.code !== 'ECONNABORTED' && ax.code !== 'ETIMEDOUT') this.o.log.warn(`Failed to get stop signals: ${ax.code ?? ''} ${ax.message}`);
      }
      const rest = floorMs - (performance.now() - started);
      if (rest > 0) await this.pause(rest, signal);
    }
  }

  /** Aborts a running job on the platform's request; nothing will be posted for it (spec §8). */
  private stopJob(id: string): void {
    const ac = this.running.get(id);
    if (!ac) {
      this.o.log.debug(`No in-progress job for stop signal ${id}.`);
      return;
    }
    this.o.log.info('Stopping job.', id);
    ac.abort(new Error('job stopped by the platform (cancelled or timed out)'));
  }

  private async takeLoop(): Promise<void> {
    let consecutiveErrors = 0;
    const signal = this.stopController.signal;
    while (!this.stopping) {
      if (this.o.beforeTake) {
        try {
          await this.o.beforeTake(signal);
        } catch (e) {
          if (this.stopping) break;
          throw e;
        }
        if (this.stopping) break;
      }
      const free = Math.max(1, this.o.concurrency?.() ?? 1) - this.held.size;
      if (free <= 0) {
        // Every slot is busy: no job-take until a job finishes or the concurrency rises (spec §4.3).
        await this.waitForSlot(signal);
        continue;
      }
      const outcome = await this.take(signal, free);
      if (outcome.kind === 'jobs') {
        consecutiveErrors = 0;
        for (const bad of outcome.malformed) this.refuseMalformed(bad);
        this.stats.jobsTaken += outcome.jobs.length;
        this.o.log.info(`Jobs in queue: ${outcome.jobs.length}`);
        // A job returned by a take that raced with stop() is still run: the platform considers it ours.
        for (const job of outcome.jobs) {
          const running: Promise<void> = withBatchId(job.batchId, () => this.runJob(job)).finally(() => {
            this.active.delete(running);
            this.wake();
          });
          this.active.add(running);
        }
      } else if (outcome.kind === 'empty') {
        consecutiveErrors = 0;
      } else if (outcome.kind === 'throttled') {
        await this.pause(this.o.throttlePauseMs ?? TOO_MANY_REQUESTS_PAUSE_MS, signal);
      } else {
        consecutiveErrors++;
        this.stats.takeErrors++;
        this.o.log.error(`Failed to get job. | ${outcome.message}`);
        const delay = Math.min(TAKE_BACKOFF_MAX_MS, TAKE_BACKOFF_MIN_MS * 2 ** (consecutiveErrors - 1));
        await this.pause(delay, signal);
      }
    }
    // Drain: every running job finishes and posts its result.
    while (this.active.size > 0) await Promise.all([...this.active]);
  }

  private async pause(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await sleepTimer(ms, undefined, { signal });
    } catch {
      /* stopped */
    }
  }

  /** One job-take long-poll for up to `count` jobs (spec §4.1/§4.2; job-take-batch when `count` > 1). */
  private async take(signal: AbortSignal, count: number): Promise<TakeOutcome> {
    const url = this.o.urls.jobTake(this.held.size > 0, count);
    try {
      const res = await this.o.client.get<string>(url, { signal, timeout: this.o.takeTimeoutMs ?? JOB_TAKE_TIMEOUT_MS });
      if (res.status === 204) return { kind: 'empty' };
      if (res.status === 400) {
        this.o.log.debug('Received 400 status, expected when FlashBoot is enabled.');
        return { kind: 'empty' };
      }
      if (res.status === 429) {
        this.o.log.warn('job-take answered 429 Too Many Requests; pausing 5 s.');
        return { kind: 'throttled' };
      }
      if (res.status < 200 || res.status >= 300) {
        return { kind: 'error', message: `job-take answered HTTP ${res.status}: ${String(res.data).slice(0, 200)}` };
      }
      const ct = res.headers['content-type'];
      return parseJobs(typeof res.data === 'string' ? res.data : '', typeof ct === 'string' ? ct : undefined);
    } catch (e) {
      if (signal.aborted) return { kind: 'empty' };
      const ax = e as AxiosError;
      // The long-poll bound ran out: start a new poll at once (spec §4.3).
      if (ax.code === 'ECONNABORTED' || ax.code === 'ETIMEDOUT') return { kind: 'empty' };
      return { kind: 'error', message: `${ax.code ?? 'Error'}: ${ax.message}` };
    }
  }

  /**
   * A malformed job of a job-take-batch answer (take.ts): with an id it is posted FAILED with the reason (the
   * platform handed it to this worker, so it must get a final state); without one it can only be logged.
   */
  private refuseMalformed(bad: MalformedJob): void {
    this.stats.malformedJobs++;
    const id = bad.id;
    if (id === undefined) {
      this.o.log.error(`Skipped a malformed job: ${bad.reason}.`);
      return;
    }
    this.o.log.error(`Failed a malformed job: ${bad.reason}.`, id);
    const posting: Promise<void> = (async () => {
      const outcome = await postResult(this.o.client, this.o.urls.jobDone(id, false), id, serializeResult({ error: `malformed job: ${bad.reason}` }), this.o.retry, this.o.log);
      if (outcome.ok) this.stats.failed++;
      else this.lost(id, outcome.error);
    })().finally(() => this.active.delete(posting));
    this.active.add(posting);
  }

  /** Counts and logs a result that never reached the platform. */
  private lost(jobId: string, why: string | undefined): void {
    this.stats.resultsLost++;
    this.o.log.error(`The result of job ${jobId} is lost: ${why ?? 'not acknowledged'}.`, jobId);
  }

  private setHeld(id: string, held: boolean): void {
    if (held) this.held.add(id);
    else this.held.delete(id);
    this.o.heartbeat?.setJobs([...this.held]);
  }

  /** Runs one job and posts its result (spec §5). Never throws. */
  private async runJob(job: Job): Promise<void> {
    const { log, urls, client } = this.o;
    this.setHeld(job.id, true);
    log.info('Started.', job.id);
    let finished = false;
    let progressChain: Promise<unknown> = Promise.resolve();
    /** The job streamed (job-stream posts): its final post carries `isStream=true`, as a generator's does. */
    let streamed = false;
    let refresh = false;
    const jobAbort = new AbortController();
    this.running.set(job.id, jobAbort);
    const ctx: HandlerContext = {
      signal: jobAbort.signal,
      progress: (output: unknown) => {
        if (finished) return;
        progressChain = progressChain.then(async () => {
          if (finished) return;
          let bytes: Buffer;
          try {
            bytes = Buffer.from(JSON.stringify({ status: 'IN_PROGRESS', output }));
          } catch (e) {
            log.warn(`Progress update dropped (not JSON-serialisable): ${(e as Error).message}`, job.id);
            return;
          }
          await postResult(client, urls.jobDone(job.id, false), job.id, bytes, PROGRESS_RETRY, log, 'progress update');
        });
      },
      stream: async (output: unknown) => {
        streamed = true;
        const bytes = serializeResult({ output });
        await postResult(client, urls.jobStream(job.id), job.id, bytes, this.o.retry, log, 'stream chunk');
      },
      rawJson: (bytes: Buffer) => new RawJson(bytes),
      refreshWorker: () => void (refresh = true),
    };

    let body: ResultBody;
    try {
      body = resultFromOutput(await this.o.handler(job, ctx));
    } catch (e) {
      body = resultFromError(e, this.o.identity);
      log.error(`Captured Handler Exception: ${String(body.error)}`, job.id);
    }
    finished = true;
    this.running.delete(job.id);
    await progressChain; // the final result is always the last post (spec §19 Q6)
    if (jobAbort.signal.aborted) {
      // Stopped through job-stop: the platform has already decided the job's state; post nothing (spec §8).
      this.stats.stopped++;
      log.info('Job stopped.', job.id);
      this.setHeld(job.id, false);
      return;
    }
    if (refresh) body.stopPod = true;
    let bytes: Buffer[];
    try {
      bytes = serializeResultParts(body);
    } catch (e) {
      // The SDK posts nothing here and the job hangs until it times out (spec §19 Q3); we fail it instead.
      body = { error: `handler output is not JSON-serialisable: ${(e as Error).message}`, ...(body.stopPod ? { stopPod: true as const } : {}) };
      bytes = serializeResultParts(body);
    }
    // After job-stream posts the final job-done carries isStream=true, as runpod-python's for a generator handler
    // (rp_job.py `handle_job`: `send_result(..., is_stream=True)`; rp_http.py appends `&isStream=true`).
    const doneUrl = urls.jobDone(job.id, streamed);
    let failed = body.error !== undefined;
    let outcome = await postResult(client, doneUrl, job.id, bytes, this.o.retry, log);
    const status = outcome.status ?? 0;
    if (!outcome.ok && status >= 400 && status < 500) {
      // Refused (e.g. 400 for a body over RunPod's limit): one small FAILED body instead, so the job gets a final state.
      const size = bytes.reduce((n, b) => n + b.length, 0);
      const fallback = refusedResultBody(status, size, job.id, body.stopPod === true);
      log.warn(`job-done refused the result (HTTP ${status}, ${size} bytes); posting a FAILED result instead: ${String(fallback.error)}`, job.id);
      outcome = await postResult(client, doneUrl, job.id, serializeResult(fallback), this.o.retry, log, 'FAILED fallback of a refused result');
      if (outcome.ok) this.stats.resultsRefused++;
      failed = true;
    }
    if (outcome.ok) {
      if (failed) this.stats.failed++;
      else this.stats.completed++;
      log.info('Finished.', job.id);
    } else {
      this.lost(job.id, outcome.error);
    }
    this.setHeld(job.id, false);
  }
}
