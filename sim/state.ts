/**
 * A1111's generation queue lock and its process-global `shared.state`
 * (docs/a1111-api.md, "Concurrency, queue lock, progress"): one generation at a time, FIFO waiters (no 429), and the
 * progress numbers of `GET /sdapi/v1/progress` computed from the clock.
 */

/** Epoch time in ms with sub-ms precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * FIFO mutex standing in for `modules.call_queue.queue_lock` (docs/a1111-api.md, "Concurrency, queue lock, progress").
 * Waiters are served in arrival order; nobody is ever rejected.
 */
export class QueueLock {
  private tail: Promise<void> = Promise.resolve();
  private count = 0;

  /** Requests holding or waiting for the lock. */
  get pending(): number {
    return this.count;
  }

  /** Waits for the lock; resolves with an idempotent release function. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const prev = this.tail;
    this.tail = prev.then(() => mine);
    this.count++;
    return prev.then(() => {
      let done = false;
      return () => {
        if (done) return;
        done = true;
        this.count--;
        release();
      };
    });
  }
}

/** How a simulated wait ended. */
export type WaitResult = 'done' | 'interrupted' | 'skipped';

/** `shared.state.dict()` (A1111 `modules/shared_state.py`). */
export interface StateDict {
  skipped: boolean;
  interrupted: boolean;
  stopping_generation: boolean;
  job: string;
  job_count: number;
  job_timestamp: string;
  job_no: number;
  sampling_step: number;
  sampling_steps: number;
}

/** `ProgressResponse` of `GET /sdapi/v1/progress` (A1111 `modules/api/models.py`). */
export interface ProgressResponse {
  progress: number;
  /** seconds */
  eta_relative: number;
  state: StateDict;
  /** base64 PNG of the live preview, or null */
  current_image: string | null;
  textinfo: string | null;
}

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * The simulated `shared.state`. Sampling progress is derived from the clock:
 * during a pass, `sampling_step = floor((now - passStart) / stepMs)`.
 */
export class SharedState {
  skipped = false;
  interrupted = false;
  stoppingGeneration = false;
  job = '';
  jobCount = 0;
  jobTimestamp = '0';
  jobNo = 0;
  samplingSteps = 0;
  textinfo: string | null = null;
  /** epoch ms of `begin()` */
  timeStart = 0;
  /** returns the base64 live preview for the current pass, or null */
  previewProvider: (() => string | null) | null = null;
  /** set on shutdown: every wait ends at once as 'interrupted' */
  closed = false;

  private fixedStep = 0;
  private pass: { startedAt: number; steps: number; stepMs: number } | null = null;
  private waiter: ((r: WaitResult) => void) | null = null;

  /** `state.begin(job)`: resets flags and counters, `job_count = -1` until processing refines it. */
  begin(job: string): void {
    this.samplingSteps = 0;
    this.fixedStep = 0;
    this.pass = null;
    this.timeStart = nowMs();
    this.jobCount = -1;
    this.jobNo = 0;
    this.jobTimestamp = timestamp(new Date());
    this.skipped = false;
    this.interrupted = false;
    this.stoppingGeneration = false;
    this.textinfo = null;
    this.job = job;
    this.previewProvider = null;
  }

  /** `state.end()`: job and job_count cleared; other fields keep their last values (as in A1111). */
  end(): void {
    this.freezePass(false);
    this.job = '';
    this.jobCount = 0;
    this.previewProvider = null;
  }

  /** `state.nextjob()`: next job number, sampling step back to 0. */
  nextjob(): void {
    this.freezePass(false);
    this.jobNo++;
    this.fixedStep = 0;
  }

  /** `POST /interrupt`: ends the running wait and stops further batches. */
  interrupt(): void {
    this.interrupted = true;
    this.waiter?.('interrupted');
  }

  /** `POST /skip`: ends the running pass; the next batch starts normally. */
  skip(): void {
    this.skipped = true;
    this.waiter?.('skipped');
  }

  /** Starts a sampling pass of `steps` steps at `stepMs` each. */
  startPass(steps: number, stepMs: number): void {
    this.samplingSteps = steps;
    this.fixedStep = 0;
    this.pass = { startedAt: nowMs(), steps, stepMs };
  }

  /** Ends the current pass; a completed pass leaves `sampling_step == sampling_steps`. */
  finishPass(completed: boolean): void {
    this.freezePass(completed);
  }

  private freezePass(completed: boolean): void {
    if (!this.pass) return;
    this.fixedStep = completed ? this.pass.steps : this.samplingStep();
    this.pass = null;
  }

  /** Current sampling step (live during a pass). */
  samplingStep(now = nowMs()): number {
    if (!this.pass) return this.fixedStep;
    const { startedAt, steps, stepMs } = this.pass;
    if (stepMs <= 0) return steps;
    return Math.max(0, Math.min(steps, Math.floor((now - startedAt) / stepMs)));
  }

  /**
   * Waits `ms` milliseconds unless interrupted/skipped first (flags already set
   * end the wait immediately).
   */
  wait(ms: number): Promise<WaitResult> {
    if (this.closed || this.interrupted) return Promise.resolve('interrupted');
    if (this.skipped) return Promise.resolve('skipped');
    return new Promise((resolve) => {
      const finish = (r: WaitResult) => {
        clearTimeout(timer);
        if (this.waiter === finish) this.waiter = null;
        resolve(r);
      };
      const timer = setTimeout(() => finish('done'), Math.max(0, ms));
      this.waiter = finish;
    });
  }

  /** Waits `ms` milliseconds ignoring interrupt/skip (e.g. a model load); ends early only on shutdown. */
  async uninterruptible(ms: number): Promise<void> {
    const end = nowMs() + ms;
    while (!this.closed) {
      const left = end - nowMs();
      if (left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(left, 50)));
    }
  }

  /** `shared.state.dict()` at time `now`. */
  dict(now = nowMs()): StateDict {
    return {
      skipped: this.skipped,
      interrupted: this.interrupted,
      stopping_generation: this.stoppingGeneration,
      job: this.job,
      job_count: this.jobCount,
      job_timestamp: this.jobTimestamp,
      job_no: this.jobNo,
      sampling_step: this.samplingStep(now),
      sampling_steps: this.samplingSteps,
    };
  }

  /**
   * The body of `GET /sdapi/v1/progress` (docs/a1111-api.md, "Concurrency, queue lock, progress"):
   * idle (`job_count == 0`) → progress 0, eta 0, no image; otherwise
   * `progress = 0.01 + job_no/job_count + (1/job_count)·step/steps` (capped at 1)
   * and `eta_relative = elapsed/progress − elapsed` (seconds).
   */
  progress(skipCurrentImage: boolean, now = nowMs()): ProgressResponse {
    const state = this.dict(now);
    if (this.jobCount === 0) {
      return { progress: 0, eta_relative: 0, state, current_image: null, textinfo: this.textinfo };
    }
    let progress = 0.01;
    if (this.jobCount > 0) progress += this.jobNo / this.jobCount;
    if (this.samplingSteps > 0) progress += ((1 / this.jobCount) * state.sampling_step) / this.samplingSteps;
    const elapsed = (now - this.timeStart) / 1000;
    const eta = elapsed / progress;
    const etaRelative = eta - elapsed;
    progress = Math.min(progress, 1);
    let currentImage: string | null = null;
    if (!skipCurrentImage && this.previewProvider && (state.sampling_step >= 1 || this.jobNo > 0)) {
      currentImage = this.previewProvider();
    }
    return { progress, eta_relative: etaRelative, state, current_image: currentImage, textinfo: this.textinfo };
  }
}
