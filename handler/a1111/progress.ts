/**
 * Progress polling of a running A1111 generation (docs/a1111-api.md, "Concurrency, queue lock, progress"): `GET /sdapi/v1/progress` does not take the
 * queue lock, so it can be called while txt2img/img2img runs.
 */
import type { Log } from '../log.js';
import { followSignal, type FollowedSignal } from '../http-call.js';
import type { A1111Client } from './client.js';

/** One progress report, as the worker forwards it to RunPod (`{"status":"IN_PROGRESS","output": …}`). */
export interface ProgressReport {
  /** 0–1, A1111's `progress` (global: with the queue lock it describes the current job). */
  progress: number;
  /** Estimated seconds left (A1111's `eta_relative`). */
  eta_relative: number;
  /** Sampling step of the current batch, and its total. */
  step: number;
  steps: number;
  /** Batch number (0-based) and batch count (`n_iter`, doubled by hires fix). */
  job_no: number;
  job_count: number;
}

/** Options of {@link watchProgress}. */
export interface WatchOptions {
  /** Poll interval, ms (`PROGRESS_INTERVAL_MS`). */
  intervalMs: number;
  /**
   * Until sampling has begun (a report with `progress` > 0, whose `eta_relative` estimates the end), poll after
   * this many ms, doubling up to `intervalMs`: take-ahead needs the end's estimate early, and a generation of a fast
   * model can end within one `intervalMs`. Default: `intervalMs` (the first poll one interval in).
   */
  etaPollMs?: number;
  /** Called with each report whose `progress` is higher than the last one sent (reports never go backwards). */
  onProgress(report: ProgressReport): void;
  /** Live previews: asked for at most once per `intervalMs` (`PREVIEW_INTERVAL_MS`); `image` is A1111's base64. */
  preview?: { intervalMs: number; onPreview(image: string, report: ProgressReport): void };
  /** The job's signal: the watch stops when it aborts (the job was stopped). */
  signal: AbortSignal;
  log: Log;
  jobId: string;
}

interface RawProgress {
  progress?: unknown;
  eta_relative?: unknown;
  current_image?: unknown;
  state?: { sampling_step?: unknown; sampling_steps?: unknown; job_no?: unknown; job_count?: unknown };
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A started {@link startProgressWatch}. */
export interface ProgressWatch {
  /** Ends the watch (before its first poll, or aborting the poll in flight); resolves once it has stopped. */
  stop(): Promise<void>;
}

/** Why a watch's polls stop when {@link ProgressWatch.stop} is called (a given reason: a bare `abort()` builds a DOMException). */
const STOPPED = new Error('progress watch stopped');

/**
 * Polls progress until `stop()` is called or `signal` (the job's) aborts. Reports only while A1111 is generating
 * (`job_count > 0`) and only when `progress` rose, so a poller of `/status` sees progress rise monotonically. Errors
 * are logged at DEBUG and the next poll goes on; one poll at a time.
 *
 * The first poll comes one interval in (a generation shorter than that has no progress worth reporting), or sooner
 * when the end's estimate is wanted (`etaPollMs`). Until then the watch is one timer: most calls of a fast model end
 * before it, and nothing else is set up for them (an abort controller, listeners and a promise chain per job were
 * measurable per job, `npm run bench`).
 */
export function startProgressWatch(client: A1111Client, o: WatchOptions): ProgressWatch {
  const first = Math.min(o.etaPollMs ?? o.intervalMs, o.intervalMs);
  let polls: { followed: FollowedSignal; loop: Promise<void> } | undefined;
  const timer = setTimeout(() => {
    const followed = followSignal(o.signal);
    polls = { followed, loop: pollLoop(client, { ...o, signal: followed.controller.signal }, first) };
  }, first);
  return {
    stop: () => {
      clearTimeout(timer);
      if (!polls) return Promise.resolve();
      polls.followed.end();
      polls.followed.controller.abort(STOPPED);
      return polls.loop;
    },
  };
}

/** The polls of {@link startProgressWatch}, from its first; `untilEstimate`: the first wait, ms, doubled after each poll until sampling has begun. */
async function pollLoop(client: A1111Client, o: WatchOptions, untilEstimate: number): Promise<void> {
  let last = -1;
  let lastPreview = -Infinity;
  while (!o.signal.aborted) {
    const started = performance.now();
    const wantPreview = o.preview !== undefined && started - lastPreview >= o.preview.intervalMs;
    try {
      const res = await client.call('GET', `/sdapi/v1/progress?skip_current_image=${wantPreview ? 'false' : 'true'}`, undefined, {
        signal: o.signal,
        timeoutMs: Math.max(1000, o.intervalMs * 5),
        noInterrupt: true,
      });
      const raw = JSON.parse(res.body.toString('utf8')) as RawProgress;
      const report: ProgressReport = {
        progress: Math.min(1, Math.max(0, num(raw.progress))),
        eta_relative: Math.max(0, num(raw.eta_relative)),
        step: num(raw.state?.sampling_step),
        steps: num(raw.state?.sampling_steps),
        job_no: num(raw.state?.job_no),
        job_count: num(raw.state?.job_count),
      };
      if (!o.signal.aborted && report.job_count > 0) {
        if (report.progress > last) {
          last = report.progress;
          o.onProgress(report);
        }
        if (wantPreview && typeof raw.current_image === 'string' && raw.current_image.length > 0) {
          lastPreview = started;
          o.preview!.onPreview(raw.current_image, report);
        }
      }
    } catch (e) {
      if (o.signal.aborted) break;
      o.log.debug(`Progress poll failed: ${(e as Error).message}`, o.jobId);
    }
    const every = last > 0 ? o.intervalMs : untilEstimate;
    untilEstimate = Math.min(untilEstimate * 2, o.intervalMs);
    await pause(every - (performance.now() - started), o.signal);
  }
}

/** Waits `ms` (nothing when ≤ 0), or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
