/**
 * The worker's whole life ({@link startWorker}): start-up checks, heartbeat, the wait for the backend, the job-take
 * loop, signals (SIGTERM/SIGINT drain), the drain and, on a fatal end, the unhealthy report before exit code 1.
 * What the backend is (A1111 here) stays outside: its readiness, warm-up and failure come in as callbacks, and every
 * platform call goes through the {@link Platform} given (as graphile-worker's loop gets its job calls injected).
 */
import { A1111ExitedError, type StartupCheckError } from '../../errors/index.js';
import type { Log } from '../../log.js';
import type { StartupCheckConfig } from '../../config.js';
import { runStartupChecks } from '../checks/startup-checks.js';
import type { HeartbeatHandle, Platform } from '../platform/platform.js';
import { classifyFatal } from '../platform/unhealthy.js';
import type { WorkerIdentity } from '../result.js';
import type { Handler } from '../types.js';
import { JobLoop } from './loop.js';
import type { WorkerStats } from './stats.js';
import { WorkerStates, type StateChange, type WorkerState } from './states.js';

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** Where jobs come from and results go (RunPod's HTTP protocol, or an in-memory platform in tests). */
  platform: Platform;
  handler: Handler;
  log: Log;
  /** `hostname`, `worker_id`, `runpod_version` of handler-error bodies. */
  identity: WorkerIdentity;
  /** How many jobs may run at once, read before every job-take. Default 1. Call {@link WorkerHandle.wake} when it rises. */
  concurrency?: () => number;
  /** Called before each job-take (e.g. to wait until the backend is back). Throwing (while not stopping) is a fatal end. */
  beforeTake?: (signal: AbortSignal) => Promise<void>;
  /** Run first, before the heartbeat (platform mode); a failure is logged, reported unhealthy and ends with exit code 1. */
  startupChecks?: StartupCheckConfig;
  /**
   * Waits until the backend can take jobs (readiness, warm-up), after the heartbeat started. `signal` aborts when
   * the worker is stopped meanwhile. Throwing (while not stopping) is a fatal end.
   */
  ready?: (signal: AbortSignal) => Promise<void>;
  /** Called once no job runs any more, before the heartbeat stops (release the backend: stop probes, close pools). */
  onDrained?: () => void;
  /** Called on every state change, the first (`starting`) included. */
  onState?: (change: StateChange) => void;
  /** Signals that drain the worker (a second one exits at once with code 1). Default SIGTERM and SIGINT; `[]` for none. */
  signals?: readonly NodeJS.Signals[];
  /** Send the unhealthy report on a fatal end (platform mode). Default false. */
  reportUnhealthy?: boolean;
  /** Pause after a job-take 429, ms (default 5000). */
  throttlePauseMs?: number;
  /**
   * Take-ahead, ms (default 0, off): once a running job's handler says it ends within this time
   * (`HandlerContext.endsIn`), the next job is taken and held until a slot frees. About one platform round trip.
   */
  takeAheadMs?: number;
  /**
   * The handler awaits `HandlerContext.slot()` before it uses the backend, so a held job's handler is called at once
   * and its checks run while it waits (default false: called when its slot frees).
   */
  checksWhileHeld?: boolean;
}

/** A started worker. */
export interface WorkerHandle {
  /** The state now. */
  readonly state: WorkerState;
  readonly stats: WorkerStats;
  /** Resolves with the exit code once the worker is `stopped`: 0, or 1 after a fatal end. */
  readonly done: Promise<number>;
  /** Graceful stop: no more job-takes, an in-flight job-take is aborted, running jobs finish and post their results. */
  stop(reason: string): void;
  /** Fatal end: stops as {@link stop} does (logging `reason`), then ends with exit code 1 and the unhealthy report. */
  fail(error: Error, reason?: string): void;
  /** Wakes the loop when it waits for a free slot (the concurrency may have risen). */
  wake(): void;
  /** Calls `fn` on every state change from now on; returns the unsubscribe function. */
  onState(fn: (change: StateChange) => void): () => void;
}

/**
 * Starts the worker. It is `starting` at once; {@link WorkerHandle.done} resolves when it is `stopped`.
 * Never rejects for the worker's own failures (they become exit code 1); rejects only on a bug.
 */
export function startWorker(o: StartWorkerOptions): WorkerHandle {
  const { log, platform } = o;
  const states = new WorkerStates(log);
  if (o.onState) states.listen(o.onState);
  const stopper = new AbortController();
  let fatal: Error | undefined;
  let heartbeat: HeartbeatHandle | null = null;
  const loop = new JobLoop({
    platform,
    handler: o.handler,
    log,
    identity: o.identity,
    ...(o.beforeTake ? { beforeTake: o.beforeTake } : {}),
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.throttlePauseMs !== undefined ? { throttlePauseMs: o.throttlePauseMs } : {}),
    ...(o.takeAheadMs !== undefined ? { takeAheadMs: o.takeAheadMs } : {}),
    ...(o.checksWhileHeld !== undefined ? { checksWhileHeld: o.checksWhileHeld } : {}),
    onHeld: (ids) => heartbeat?.setJobs(ids),
  });

  const stop = (reason: string): void => {
    if (stopper.signal.aborted) return;
    log.info(`Stopping worker: ${reason}.`);
    stopper.abort(new Error(reason));
    if (states.state !== 'draining' && states.state !== 'stopped') states.to('draining', { reason });
  };

  /** Logs the fatal error and returns it, or returns undefined when the end was a stop. */
  const fatalEnd = (e: unknown): Error | undefined => {
    const err = fatal ?? (e as Error);
    if (!fatal && stopper.signal.aborted) return undefined;
    // A1111 exited (A1111_PID): say so first, so the log names the cause rather than a readiness deadline.
    log.error(err instanceof A1111ExitedError ? `${err.message} Exiting with code 1.` : `Worker cannot continue: ${err.message}`);
    return err;
  };

  const failedChecks = async (failed: StartupCheckError): Promise<number> => {
    log.error('Worker is unhealthy, exiting.');
    o.onDrained?.();
    if (o.reportUnhealthy) await platform.reportUnhealthy(failed.check, `${failed.name}: ${failed.message}`);
    states.to('stopped', { reason: failed.message, exitCode: 1, cause: failed });
    return 1;
  };

  const lifecycle = async (): Promise<number> => {
    states.to('starting');
    if (o.startupChecks) {
      const failed = await runStartupChecks(o.startupChecks, log);
      if (failed) return failedChecks(failed);
    }
    heartbeat = platform.startHeartbeat();
    const unwatch = watchSignals(o.signals ?? ['SIGTERM', 'SIGINT'], log, stop);
    let cause: Error | undefined;
    try {
      await o.ready?.(stopper.signal);
      if (!stopper.signal.aborted) {
        states.to('ready');
        states.to('running');
      }
      await loop.run(stopper.signal);
      const s = loop.stats;
      log.info(
        `Worker stopped: ${s.jobsTaken} job(s) taken, ${s.completed} completed, ${s.failed} failed, ${s.stopped} stopped, ${s.resultsLost} result(s) lost.`,
      );
      if (fatal) throw fatal;
    } catch (e) {
      cause = fatalEnd(e);
    }
    if (states.state !== 'draining') states.to('draining', { reason: cause?.message ?? 'stopped' });
    o.onDrained?.();
    await heartbeat?.stop();
    if (cause && o.reportUnhealthy) {
      const { check, reason } = classifyFatal(cause);
      await platform.reportUnhealthy(check, reason);
    }
    unwatch();
    const exitCode = cause ? 1 : 0;
    states.to('stopped', { exitCode, ...(cause ? { cause, reason: cause.message } : {}) });
    return exitCode;
  };

  const done = lifecycle();
  return {
    get state() {
      return states.state;
    },
    stats: loop.stats,
    done,
    stop,
    fail(error: Error, reason = error.message) {
      fatal ??= error;
      stop(reason);
    },
    wake: () => loop.wake(),
    onState: (fn) => states.listen(fn),
  };
}

/**
 * Drains on the first of `signals`; a second one exits the process at once with code 1 (a stuck drain can still
 * be ended by hand). Returns the function that removes the handlers.
 */
function watchSignals(signals: readonly NodeJS.Signals[], log: Log, stop: (reason: string) => void): () => void {
  let received = 0;
  const handle = (sig: NodeJS.Signals): void => {
    received++;
    if (received > 1) {
      log.warn(`${sig} received again; exiting now.`);
      process.exit(1);
    }
    log.info(`${sig} received. Shutting down.`);
    stop(sig);
  };
  for (const s of signals) process.on(s, handle);
  return () => {
    for (const s of signals) process.off(s, handle);
  };
}
