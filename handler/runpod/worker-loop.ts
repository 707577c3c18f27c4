/**
 * The worker's lifecycle in platform mode and under `--rp_serve_api`: heartbeat, A1111 readiness and warm-up, the
 * job-take loop, signal handling and, on a fatal end, the unhealthy report (protocol spec §9.3) before exit code 1.
 */
import type { Config } from '../config.js';
import type { Log } from '../log.js';
import { type A1111Client } from '../a1111/client.js';
import { A1111ExitedError } from '../errors/index.js';
import type { A1111Pool } from '../a1111/pool.js';
import { createPlatformClient } from './http.js';
import { Heartbeat } from './heartbeat.js';
import type { Handler } from './types.js';
import { resolveUrls } from './urls.js';
import { classifyFatal, reportUnhealthy, type UnhealthyTarget } from './unhealthy.js';
import { WarmupError } from '../errors/index.js';
import { RUNPOD_VERSION, userAgent } from './version.js';
import { WorkerRuntime } from './worker.js';

/** `hostname`, `worker_id` and `runpod_version` of error bodies (spec §5.4). */
export function identity(cfg: Config): { hostname: string; workerId: string; version: string } {
  return { hostname: cfg.runpod.podHostname, workerId: cfg.runpod.podId || 'unknown', version: RUNPOD_VERSION };
}

/** The webhook templates a worker loop is pointed at (the platform's, or the local endpoint's). */
export interface Templates {
  RUNPOD_WEBHOOK_GET_JOB: string | undefined;
  RUNPOD_WEBHOOK_POST_OUTPUT: string | undefined;
  RUNPOD_WEBHOOK_POST_STREAM: string | undefined;
  RUNPOD_WEBHOOK_PING: string | undefined;
}

/** Who the loop runs as, and whether a fatal end is reported to RunPod. */
export interface LoopIdentity {
  workerId: string;
  apiKey: string | undefined;
  podId: string | undefined;
  /**
   * true (platform mode): before exiting 1, send the unhealthy report to the ping URL (`unhealthy.ts`). false under
   * `--rp_serve_api` (the local endpoint is not RunPod).
   */
  reportUnhealthy: boolean;
}

/**
 * The job-take loop with its heartbeat, readiness wait and signal handling; shared by platform mode and
 * `--rp_serve_api` (there pointed at the local endpoint through the same templates).
 * On a fatal end (no A1111 by `A1111_READY_TIMEOUT_S`, A1111's process exited, the warm-up failed, any other error
 * out of the loop) it logs the cause, stops the heartbeat and, when `who.reportUnhealthy`, sends the unhealthy report
 * (at most 2 s) so that the report is the last thing RunPod hears.
 * @returns the exit code once the loop has drained: 0, or 1 after a fatal end
 */
export async function runWorkerLoop(cfg: Config, log: Log, handler: Handler, pool: A1111Pool, templates: Templates, who: LoopIdentity): Promise<number> {
  const urls = resolveUrls(
    {
      getJob: templates.RUNPOD_WEBHOOK_GET_JOB,
      postOutput: templates.RUNPOD_WEBHOOK_POST_OUTPUT,
      postStream: templates.RUNPOD_WEBHOOK_POST_STREAM,
      ping: templates.RUNPOD_WEBHOOK_PING,
    },
    who.workerId,
  );
  const ua = userAgent(cfg.runpod.uaIntegration);
  const heartbeat = Heartbeat.start(
    { pingUrl: urls.ping, apiKey: who.apiKey, podId: who.podId, intervalMs: cfg.runpod.pingIntervalMs, version: RUNPOD_VERSION, userAgent: ua },
    log,
  );
  const runtime = new WorkerRuntime({
    urls,
    client: createPlatformClient(who.apiKey, ua),
    handler,
    retry: cfg.resultRetry,
    log,
    identity: identity(cfg),
    heartbeat,
    // One job per ready A1111 backend (job-take-batch when several are free).
    concurrency: () => pool.readyCount,
    beforeTake: async (signal) => {
      if (pool.readyCount > 0 && !pool.failed) return;
      if (!pool.failed) {
        log.warn(
          pool.backends.length > 1
            ? 'No A1111 backend is ready (each was unreachable during a job); waiting for one before taking another job.'
            : 'A1111 was unreachable during the last job; waiting for it before taking another job.',
        );
      }
      await pool.waitAnyReady(signal);
    },
  });
  const unsubscribe = pool.onChange(() => runtime.wake());
  let signals = 0;
  const handle = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn(`${sig} received again; exiting now.`);
      process.exit(1);
    }
    log.info(`${sig} received. Shutting down.`);
    runtime.stop(sig);
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);

  let code = 0;
  let cause: Error | undefined;
  // A warm-up failure or A1111's exit (A1111_PID) while jobs run: stop taking jobs, drain, exit 1.
  let fatal: Error | undefined;
  void pool.whenFailed().then((e) => {
    fatal = e;
    runtime.stop(`A1111 cannot be used: ${e.message}`);
  });
  try {
    await pool.start(runtime.stopSignal);
    await runtime.run();
    if (fatal) throw fatal;
  } catch (e) {
    const err = fatal ?? (e as Error);
    if (fatal || !runtime.isStopping) {
      // A1111 exited (A1111_PID): say so first, so the log names the cause rather than a readiness deadline.
      log.error(err instanceof A1111ExitedError ? `${err.message} Exiting with code 1.` : `Worker cannot continue: ${err.message}`);
      code = 1;
      cause = err;
    }
  }
  unsubscribe();
  pool.close();
  await heartbeat?.stop();
  if (cause && who.reportUnhealthy) {
    const { check, reason } = classifyFatal(cause);
    await reportUnhealthy(unhealthyTarget(cfg, urls.ping, who.apiKey), check, reason, log);
  }
  return code;
}

/**
 * The warm-up generation (`A1111_WARMUP`): once, after readiness and before the first job-take, so the checkpoint
 * is really loaded (A1111 opens its port before the model is loaded, spec a1111 §2.2). Logs its duration.
 * @throws WarmupError with A1111's message when it fails (the worker then exits 1, reporting check `a1111_warmup`)
 */
export async function warmUp(cfg: Config, log: Log, a1111: A1111Client, signal: AbortSignal): Promise<void> {
  const payload = cfg.a1111.warmup;
  const where = (cfg.a1111.urls?.length ?? 1) > 1 ? ` at ${a1111.config.url}` : '';
  if (payload === null) {
    log.info(`A1111 warm-up disabled (A1111_WARMUP=false)${where}.`);
    return;
  }
  const t0 = performance.now();
  try {
    await a1111.call('POST', '/sdapi/v1/txt2img', payload, { signal });
  } catch (e) {
    throw new WarmupError(`A1111 warm-up failed${where}: ${(e as Error).message}`);
  }
  log.info(`A1111 warm-up${where} (txt2img ${payload.steps ?? '?'} step(s), ${payload.width ?? '?'}×${payload.height ?? '?'}) took ${Math.round(performance.now() - t0)} ms.`);
}

/**
 * Where the unhealthy report goes: the heartbeat's ping URL (worker id substituted), key and User-Agent.
 * @param pingUrl the resolved ping URL, or null when `RUNPOD_WEBHOOK_PING` is unset (then nothing is sent)
 */
export function unhealthyTarget(cfg: Config, pingUrl: string | null, apiKey: string | undefined = cfg.runpod.apiKey): UnhealthyTarget {
  return { pingUrl, apiKey, version: RUNPOD_VERSION, userAgent: userAgent(cfg.runpod.uaIntegration) };
}
