/**
 * One job from handler call to job-done: the handler's context (progress, stream, raw JSON, refresh), the result
 * body, and its post through the {@link Platform}. Sources: runpod-python `rp_job.py` (`run_job`, `handle_job`) and
 * `rp_http.py` (`send_result`, `stream_result`).
 */
import type { Log } from '../../log.js';
import type { Platform } from '../platform/platform.js';
import { RawJson, refusedResultBody, resultFromError, resultFromOutput, serializeResult, serializeResultParts, type WorkerIdentity } from '../result.js';
import type { Handler, HandlerContext, Job, ResultBody } from '../types.js';
import { lost, type WorkerStats } from './stats.js';
import { afterResultPosted } from './large-result-gc.js';
import { partsLength } from '../../parts.js';

/** What {@link runJob} needs. */
export interface RunJobContext {
  platform: Platform;
  handler: Handler;
  log: Log;
  identity: WorkerIdentity;
  stats: WorkerStats;
  /** Aborted when the platform stops the job (job-stop): nothing is posted then. */
  signal: AbortSignal;
  /** Called once the handler has returned or thrown (before the result is posted). */
  handlerDone?: () => void;
  /** The handler's estimate of the time left until it returns, ms ({@link HandlerContext.endsIn}); absent: take-ahead is off. */
  endsIn?: (ms: number) => void;
  /** Resolves when a held job gets its slot; undefined for a job started in a free slot. */
  slot: Promise<void> | undefined;
  /** The handler is done with the backend ({@link HandlerContext.slotDone}). */
  slotDone?: () => void;
  /**
   * Call the handler before the slot is there: it awaits {@link HandlerContext.slot} before its backend work.
   * False: the handler is called once the slot is there.
   */
  callEarly: boolean;
}

/** A job started in a free slot has it already. */
const IN_SLOT = Promise.resolve();

/** Resolves when `slot` does (at once when there is none to wait for); rejects with the signal's reason when `signal` aborts first. */
function slotOrStop(slot: Promise<void> | undefined, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  if (slot === undefined) return IN_SLOT;
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    void slot.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** The handler's context for one job; `state` records what the handler asked for. */
function handlerContext(job: Job, c: RunJobContext, state: { finished: boolean; streamed: boolean; refresh: boolean; progress: Promise<unknown> }): HandlerContext {
  const { platform, log } = c;
  return {
    signal: c.signal,
    progress: (output: unknown) => {
      if (state.finished) return;
      state.progress = state.progress.then(async () => {
        if (state.finished) return;
        let bytes: Buffer;
        try {
          bytes = Buffer.from(JSON.stringify({ status: 'IN_PROGRESS', output }));
        } catch (e) {
          log.warn(`Progress update dropped (not JSON-serialisable): ${(e as Error).message}`, job.id);
          return;
        }
        await platform.progress(job.id, bytes);
      });
    },
    stream: async (output: unknown) => {
      state.streamed = true;
      await platform.stream(job.id, serializeResult({ output }));
    },
    rawJson: (bytes: Buffer | readonly Buffer[]) => new RawJson(bytes),
    refreshWorker: () => void (state.refresh = true),
    ...(c.endsIn
      ? {
          endsIn: (ms: number) => {
            if (!state.finished && Number.isFinite(ms)) c.endsIn?.(Math.max(0, ms));
          },
        }
      : {}),
    slot: () => slotOrStop(c.slot, c.signal),
    slotDone: () => c.slotDone?.(),
  };
}

/** A held job stopped before its slot came: its handler never ran; nothing is posted. */
function droppedHeld(job: Job, c: RunJobContext): void {
  c.handlerDone?.();
  c.stats.stopped++;
  c.log.info('Job stopped.', job.id);
}

/** Runs one job and posts its result. Never throws. */
export async function runJob(job: Job, c: RunJobContext): Promise<void> {
  const { platform, log, stats } = c;
  const state = { finished: false, streamed: false, refresh: false, progress: Promise.resolve() as Promise<unknown> };
  let body: ResultBody;
  try {
    if (!c.callEarly) {
      const stopped = await slotOrStop(c.slot, c.signal).then(
        () => false,
        () => true,
      );
      if (stopped) return droppedHeld(job, c);
    }
    log.info('Started.', job.id);
    body = resultFromOutput(await c.handler(job, handlerContext(job, c, state)));
  } catch (e) {
    body = resultFromError(e, c.identity);
    // A stopped job's handler may end by throwing its stop reason (e.g. at `slot()`); nothing is posted for it.
    if (!c.signal.aborted) log.error(`Captured Handler Exception: ${String(body.error)}`, job.id);
  }
  state.finished = true;
  c.handlerDone?.();
  await state.progress; // the final result is always the last post
  if (c.signal.aborted) {
    // Stopped through job-stop: the platform has already decided the job's state; post nothing.
    stats.stopped++;
    log.info('Job stopped.', job.id);
    return;
  }
  if (state.refresh) body.stopPod = true;
  let bytes: Buffer[];
  try {
    bytes = serializeResultParts(body);
  } catch (e) {
    // runpod-python posts nothing here and the job hangs until it times out; this worker fails it instead.
    body = { error: `handler output is not JSON-serialisable: ${(e as Error).message}`, ...(body.stopPod ? { stopPod: true as const } : {}) };
    bytes = serializeResultParts(body);
  }
  // After job-stream posts the final job-done carries isStream=true, as runpod-python's for a generator handler
  // (rp_job.py `handle_job`: `send_result(..., is_stream=True)`; rp_http.py appends `&isStream=true`).
  let failed = body.error !== undefined;
  let outcome = await platform.done(job.id, bytes, state.streamed);
  const size = partsLength(bytes);
  afterResultPosted(size);
  const status = outcome.status ?? 0;
  if (!outcome.ok && status >= 400 && status < 500) {
    // Refused (e.g. 400 for a body over RunPod's limit): one small FAILED body instead, so the job gets a final state.
    const fallback = refusedResultBody(status, size, job.id, body.stopPod === true);
    log.warn(`job-done refused the result (HTTP ${status}, ${size} bytes); posting a FAILED result instead: ${String(fallback.error)}`, job.id);
    outcome = await platform.done(job.id, [serializeResult(fallback)], state.streamed, 'FAILED fallback of a refused result');
    if (outcome.ok) stats.resultsRefused++;
    failed = true;
  }
  if (outcome.ok) {
    if (failed) stats.failed++;
    else stats.completed++;
    log.info('Finished.', job.id);
  } else {
    lost(stats, log, job.id, outcome.error);
  }
}
