/**
 * The job-take loop: job-take → handler → job-done, up to `concurrency()` jobs at once (job-take-batch when more
 * than one slot is free, none while every slot is busy), a graceful drain on stop, and the per-job stop channel
 * alongside. It knows no wire: every platform call goes through the {@link Platform} it receives.
 *
 * A slot frees as soon as its handler returns: the result post and the next job-take do not wait on each other (the
 * backend never idles for the post's round trip). The job stays held (heartbeat, `job_in_progress=1`) until its
 * post ended, and at most `concurrency()` posts run beside the handlers (a slow platform cannot pile up results).
 *
 * Take-ahead: a handler may say when it will return (`HandlerContext.endsIn`). Once a running job is due
 * within `takeAheadMs` (about one platform round trip), one more job is taken and held, not started, until a slot
 * frees: the backend then starts it without waiting for a job-take. A held job is like a running one for the
 * platform (heartbeat, `job_in_progress=1`); a job-stop drops it with nothing posted; a drain runs and posts it; its
 * handler starts only when its slot frees — or at once with `checksWhileHeld`, for a handler that does its checks
 * first and then awaits `HandlerContext.slot()` before it uses the backend (and starts any per-job timeout).
 * Sources: runpod-python `rp_scale.py` (`JobScaler.get_jobs`, `monitor_stop_signals`) and `rp_job.py`.
 */
import { withBatchId, type Log } from '../../log.js';
import type { Platform, TakeOutcome, MalformedJob } from '../platform/platform.js';
import { serializeResult, type WorkerIdentity } from '../result.js';
import { firstThenRetry } from '../retry.js';
import type { Handler, Job } from '../types.js';
import { runJob } from './run-job.js';
import { pause, TOO_MANY_REQUESTS_PAUSE_MS } from './pause.js';
import { lost, newStats, type WorkerStats } from './stats.js';
import { watchStopSignals } from './stop-channel.js';

/**
 * Back-off after repeated job-take errors: 100 ms doubling, capped at 5 s (runpod-python retries at once, a hot
 * loop; docs/runpod-protocol.md, "Quirks to decide on (faithful vs. fixed)").
 */
export const TAKE_BACKOFF_MIN_MS = 100;
export const TAKE_BACKOFF_MAX_MS = 5_000;

/** What the loop needs. */
export interface LoopOptions {
  platform: Platform;
  handler: Handler;
  log: Log;
  identity: WorkerIdentity;
  /** Called before each job-take (e.g. to wait until the backend is ready again). Throwing ends the loop with that error. */
  beforeTake?: (signal: AbortSignal) => Promise<void>;
  /** How many jobs may run at once, read before every job-take (runpod-python's `concurrency_modifier`). Default 1. */
  concurrency?: () => number;
  /** Pause after a job-take 429, ms (default {@link TOO_MANY_REQUESTS_PAUSE_MS}). */
  throttlePauseMs?: number;
  /** Called whenever the set of held job ids changes (the heartbeat sends them). */
  onHeld?: (ids: readonly string[]) => void;
  /**
   * Take-ahead, ms: a running job due to end within this time (by its handler's `endsIn`) lets one more job be taken
   * and held until a slot frees. About one platform round trip; 0 (the default) turns take-ahead off.
   */
  takeAheadMs?: number;
  /**
   * The handler awaits `HandlerContext.slot()` before it uses the backend: a held job's handler is called at once, so
   * that its checks run while it waits (and a refusal is posted without waiting for a slot). Default false: a held
   * job's handler is called when its slot frees.
   */
  checksWhileHeld?: boolean;
}

/** A job taken ahead, waiting for a slot; `open` gives it the slot. */
interface WaitingJob {
  job: Job;
  open: () => void;
}

/** A running job's announced end (`performance.now()` ms), its take-ahead timer, and whether take-ahead time came. */
interface DueEnd {
  endsAt: number;
  timer?: NodeJS.Timeout;
  now?: boolean;
}

/**
 * Resolves two turns of the event loop from now. undici writes a request on a kept-alive socket one turn after it is
 * made (its check of the idle socket), so work that waits for this runs after the requests made in this turn are
 * written: the loop's own bookkeeping stays off a job's way to A1111 and to job-done.
 */
function afterWrites(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** A job-take answer that is an error; retried with back-off. */
class TakeError extends Error {}

/** The job-take loop of one worker. */
export class JobLoop {
  readonly stats: WorkerStats = newStats();
  /** The running jobs' abort controllers, by job id. */
  private readonly running = new Map<string, AbortController>();
  /** Every job the worker holds (handler running or result being posted): the heartbeat's list. */
  private readonly held = new Set<string>();
  /** Jobs whose handler runs now (each takes a slot). */
  private handlers = 0;
  /**
   * Jobs out of their slot whose result post has not ended: the handler returned, or said it is done with the
   * backend (`HandlerContext.slotDone`) and shapes its output.
   */
  private posting = 0;
  /** Jobs running now and result posts in flight. */
  private readonly active = new Set<Promise<void>>();
  /** Jobs taken ahead, waiting for a slot (held; handler not started, or past its checks), in take order. */
  private readonly waiting: WaitingJob[] = [];
  /**
   * Running jobs' announced end (`performance.now()` ms), the timer that wakes the loop at take-ahead time, and
   * whether that time has come (set by the timer: a timer may fire a fraction of a ms before `performance.now()`
   * reaches its time).
   */
  private readonly due = new Map<string, DueEnd>();
  /** Resolves the loop's wait for a free slot. */
  private wakeUp: (() => void) | undefined;
  /** The held jobs changed since the heartbeat's copy was last updated. */
  private heldChanged = false;

  constructor(private readonly o: LoopOptions) {}

  /** Wakes the loop when it waits for a free slot: a job finished, or `concurrency()` may have risen. */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  /**
   * Takes and runs jobs until `stop` aborts, then waits until every running job has posted its result.
   * @throws whatever `beforeTake` throws while `stop` is not aborted (e.g. the backend never became ready)
   */
  async run(stop: AbortSignal): Promise<void> {
    const stopPollEnd = new AbortController();
    const stopPoll = watchStopSignals(this.o.platform, this.o.log, AbortSignal.any([stop, stopPollEnd.signal]), (id) => this.stopJob(id));
    try {
      while (!stop.aborted) {
        const outcome = await this.nextTake(stop);
        if (outcome === undefined) continue;
        if (outcome.kind === 'jobs') {
          this.start(outcome.jobs, outcome.malformed);
          // The loop's next turn (and its job-take) comes after the jobs' A1111 requests are written, when their
          // checks need no I/O: the loop's own work is not on a job's way to A1111.
          await afterWrites();
        } else if (outcome.kind === 'throttled') await pause(this.o.throttlePauseMs ?? TOO_MANY_REQUESTS_PAUSE_MS, stop);
      }
      // Drain: every running job, and every job held for a slot, runs and posts its result.
      while (this.active.size > 0 || this.waiting.length > 0) {
        this.startWaiting();
        await Promise.all([...this.active]);
      }
    } finally {
      stopPollEnd.abort();
      await stopPoll;
    }
  }

  /**
   * One turn of the loop with the job-take's error back-off (p-retry: 100 ms doubling to 5 s, reset by any
   * answer that is not an error). Returns undefined when stopped before a job-take was made.
   */
  private async nextTake(stop: AbortSignal): Promise<TakeOutcome | undefined> {
    // A job-take that raced with stop still counts: its jobs run (the platform considers them ours).
    let answer: TakeOutcome | undefined;
    try {
      return await firstThenRetry(async () => (answer = await this.turn(stop)), {
        retries: Infinity,
        minDelayMs: TAKE_BACKOFF_MIN_MS,
        maxDelayMs: TAKE_BACKOFF_MAX_MS,
        signal: stop,
        shouldRetry: (error) => error instanceof TakeError,
        onFailedAttempt: (error) => {
          if (!(error instanceof TakeError)) return;
          this.stats.takeErrors++;
          this.o.log.error(`Failed to get job. | ${error.message}`);
        },
      });
    } catch (e) {
      if (stop.aborted) return answer;
      throw e;
    }
  }

  /**
   * `beforeTake`, then a job-take for the free slots, after a wait for one while every slot is busy (the wait is part
   * of the attempt: one attempt per job-take). Undefined when stopped first.
   */
  private async turn(stop: AbortSignal): Promise<TakeOutcome | undefined> {
    let count: number;
    for (;;) {
      await this.o.beforeTake?.(stop);
      if (stop.aborted) return undefined;
      this.startWaiting();
      const free = this.freeSlots(this.concurrency());
      const ahead = free < 0 ? 0 : Math.max(0, this.dueSoon() - this.waiting.length);
      count = Math.max(0, free) + ahead;
      if (count > 0) break;
      // Every slot is busy: no job-take until a handler returns or is due soon, a post ends or the concurrency rises.
      await this.waitForSlot(stop);
    }
    const outcome = await this.o.platform.take(count, this.held.size > 0, stop);
    if (outcome.kind === 'error') throw new TakeError(outcome.message);
    return outcome;
  }

  private concurrency(): number {
    return Math.max(1, this.o.concurrency?.() ?? 1);
  }

  /** Running jobs due to end within the take-ahead time. */
  private dueSoon(): number {
    const ahead = this.o.takeAheadMs ?? 0;
    if (ahead <= 0) return 0;
    const horizon = performance.now() + ahead;
    let n = 0;
    for (const d of this.due.values()) if (d.now === true || d.endsAt <= horizon) n++;
    return n;
  }

  /** Records a running job's announced end and wakes the loop when it comes within the take-ahead time. */
  private endsIn(id: string, ms: number): void {
    const ahead = this.o.takeAheadMs ?? 0;
    // A report that arrives after the handler returned would leave an entry no handlerDone removes.
    if (ahead <= 0 || !this.running.has(id)) return;
    const prev = this.due.get(id);
    if (prev?.timer) clearTimeout(prev.timer);
    const d: DueEnd = { endsAt: performance.now() + ms, now: ms <= ahead };
    if (d.now === true) this.wake();
    else
      d.timer = setTimeout(() => {
        d.now = true;
        this.wake();
      }, ms - ahead).unref();
    this.due.set(id, d);
  }

  /** Gives slots to held jobs while a slot is free. */
  private startWaiting(): void {
    while (this.waiting.length > 0 && this.freeSlots(this.concurrency()) > 0) this.waiting.shift()!.open();
  }

  /**
   * Slots free for a job-take: `concurrency` minus the running handlers, less any posts beyond `concurrency`
   * (so at most 2 × `concurrency` jobs are held, and at most one result per slot waits for its post).
   */
  private freeSlots(concurrency: number): number {
    return concurrency - this.handlers - Math.max(0, this.posting - concurrency);
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

  /** Starts the jobs of one job-take answer. A job of a take that raced with stop is still run: the platform counts it ours. */
  private start(jobs: readonly Job[], malformed: readonly MalformedJob[]): void {
    for (const bad of malformed) this.refuseMalformed(bad);
    this.stats.jobsTaken += jobs.length;
    this.o.log.info(`Jobs in queue: ${jobs.length}`);
    for (const job of jobs) {
      this.setHeld(job.id, true);
      const inSlot = this.waiting.length === 0 && this.freeSlots(this.concurrency()) > 0;
      if (!inSlot) this.o.log.info('Held until a slot frees.', job.id);
      this.launch(job, inSlot);
    }
  }

  /**
   * Runs a job: its handler in a free slot, or, for a job held for a slot, once the slot frees (with
   * `checksWhileHeld`: at once, its backend work gated by `HandlerContext.slot()`); then posts its result.
   */
  private launch(job: Job, inSlot: boolean): void {
    const abort = new AbortController();
    this.running.set(job.id, abort);
    let slotState: 'waiting' | 'in' | 'out' = inSlot ? 'in' : 'waiting';
    let giveSlot = (): void => undefined;
    const slot = inSlot ? undefined : new Promise<void>((resolve) => (giveSlot = resolve));
    const waiting: WaitingJob = {
      job,
      open: () => {
        slotState = 'in';
        this.handlers++;
        giveSlot();
      },
    };
    if (inSlot) this.handlers++;
    else this.waiting.push(waiting);
    /** The job leaves its slot (backend work done, or handler returned): the slot goes to a held job or a job-take. */
    const leaveSlot = (): void => {
      if (slotState === 'out') return;
      if (slotState === 'in') this.handlers--;
      else this.dropWaiting(job.id); // refused by its checks while held: it never needed a slot
      slotState = 'out';
      clearTimeout(this.due.get(job.id)?.timer);
      this.due.delete(job.id);
      this.posting++;
      this.startWaiting();
      // The result's own shaping and post, when they need no I/O, go out before the job-take, so the platform reads
      // the result before the next long-poll.
      void afterWrites().then(() => this.wake());
    };
    let handlerRuns = true;
    const handlerDone = (): void => {
      if (!handlerRuns) return;
      handlerRuns = false;
      // From here on a stop signal finds no job: the result is posted.
      this.running.delete(job.id);
      leaveSlot();
    };
    const running: Promise<void> = withBatchId(job.batchId, () =>
      runJob(job, {
        platform: this.o.platform,
        handler: this.o.handler,
        log: this.o.log,
        identity: this.o.identity,
        stats: this.stats,
        signal: abort.signal,
        handlerDone,
        slot,
        slotDone: leaveSlot,
        callEarly: this.o.checksWhileHeld === true,
        ...((this.o.takeAheadMs ?? 0) > 0 ? { endsIn: (ms: number) => slotState === 'in' && this.endsIn(job.id, ms) } : {}),
      }),
    ).finally(() => {
      handlerDone();
      this.posting--;
      this.setHeld(job.id, false);
      this.active.delete(running);
      this.startWaiting();
      this.wake();
    });
    this.active.add(running);
  }

  /** Removes a held job from the slot queue; true when it was there. */
  private dropWaiting(id: string): boolean {
    const w = this.waiting.findIndex((h) => h.job.id === id);
    if (w >= 0) this.waiting.splice(w, 1);
    return w >= 0;
  }

  /**
   * Aborts a running or held job on the platform's request; nothing will be posted for it (run-job.ts: a held job
   * never reaches the backend, its handler ends at `slot()` or is never called).
   */
  private stopJob(id: string): void {
    // Held for a slot: it will never get one (the platform has decided the job's state).
    if (this.dropWaiting(id)) this.wake();
    const ac = this.running.get(id);
    if (!ac) {
      this.o.log.debug(`No in-progress job for stop signal ${id}.`);
      return;
    }
    this.o.log.info('Stopping job.', id);
    ac.abort(new Error('job stopped by the platform (cancelled or timed out)'));
  }

  /**
   * A malformed job of a job-take-batch answer: with an id it is posted FAILED with the reason (the platform handed
   * it to this worker, so it must get a final state); without one it can only be logged.
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
      const outcome = await this.o.platform.done(id, [serializeResult({ error: `malformed job: ${bad.reason}` })], false);
      if (outcome.ok) this.stats.failed++;
      else lost(this.stats, this.o.log, id, outcome.error);
    })().finally(() => this.active.delete(posting));
    this.active.add(posting);
  }

  /** Updates the held jobs; the heartbeat's copy follows after the writes of this turn (several changes: one update). */
  private setHeld(id: string, held: boolean): void {
    if (held) this.held.add(id);
    else this.held.delete(id);
    if (this.heldChanged) return;
    this.heldChanged = true;
    void afterWrites().then(() => {
      this.heldChanged = false;
      this.o.onHeld?.([...this.held]);
    });
  }
}
