/**
 * The {@link Platform} that speaks RunPod's worker protocol over HTTP, as runpod-python 1.12 does: job-take and
 * job-take-batch long-polls (`rp_job.get_job`), job-done / job-stream posts (`rp_http.py`), the job-stop poll
 * (`rp_job.get_stop_signals`), the heartbeat thread (`rp_ping.py`) and the unhealthy report (`rp_fitness.py`).
 * Every URL comes from the `RUNPOD_WEBHOOK_*` templates (`urls.ts`). See docs/runpod-protocol.md.
 */
import type { ResultRetryConfig } from '../../config.js';
import type { Log } from '../../log.js';
import { RUNPOD_VERSION } from '../version.js';
import { Heartbeat } from './heartbeat.js';
import type { Platform, StopPoll, TakeOutcome } from './platform.js';
import { postResult } from './post.js';
import { parseJobs, parseStopIds } from './take.js';
import { reportUnhealthy } from './unhealthy.js';
import { resolveUrls, type UrlTemplates } from './urls.js';
import { PlatformClient, WireError } from './wire.js';

/** Bound of one job-take or job-stop long-poll, ms (runpod-python `rp_scale.get_jobs`: `wait_for(timeout=90)`). */
export const JOB_TAKE_TIMEOUT_MS = 90_000;

/** Progress posts are best effort: few retries so they never hold back the final result for long. */
const PROGRESS_RETRY: ResultRetryConfig = { retries: 1, minDelayMs: 500, maxDelayMs: 500, timeoutMs: 10_000 };

/** Options of {@link createHttpPlatform}. */
export interface HttpPlatformOptions {
  /** The `RUNPOD_WEBHOOK_*` templates (the platform's, or the local endpoint's). */
  templates: UrlTemplates;
  /** Substituted for `$RUNPOD_POD_ID` / `$ID` in the templates. */
  workerId: string;
  /** `RUNPOD_AI_API_KEY`, sent raw as `Authorization`; without it there is no heartbeat and no unhealthy report. */
  apiKey: string | undefined;
  /** `RUNPOD_POD_ID`; without it there is no heartbeat. */
  podId: string | undefined;
  /** The User-Agent of every request. */
  userAgent: string;
  /** How job-done / job-stream posts are retried. */
  retry: ResultRetryConfig;
  /** Heartbeat interval, ms (≥ 1000). */
  pingIntervalMs: number;
  log: Log;
  /** Long-poll bound of job-take and job-stop, ms (default {@link JOB_TAKE_TIMEOUT_MS}). */
  takeTimeoutMs?: number;
}

/** True when the long-poll bound ran out: not a failure, just a new poll. */
function isPollTimeout(e: unknown): boolean {
  return e instanceof WireError && e.code === 'ETIMEDOUT';
}

/** `CODE: message` of a transport failure. */
function failure(e: unknown): string {
  return `${e instanceof WireError ? e.code : 'Error'}: ${(e as Error).message}`;
}

/** Creates the HTTP platform. Nothing is sent until a method is called. */
export function createHttpPlatform(o: HttpPlatformOptions): Platform {
  const { log } = o;
  const urls = resolveUrls(o.templates, o.workerId);
  const client = new PlatformClient(o.apiKey, o.userAgent);
  const timeout = o.takeTimeoutMs ?? JOB_TAKE_TIMEOUT_MS;
  const jobStop = urls.jobStop;

  const take = async (count: number, jobInProgress: boolean, signal: AbortSignal): Promise<TakeOutcome> => {
    const url = urls.jobTake(jobInProgress, count);
    try {
      const res = await client.get(url, { signal, timeoutMs: timeout });
      if (res.status === 204) return { kind: 'empty' };
      if (res.status === 400) {
        log.debug('Received 400 status, expected when FlashBoot is enabled.');
        return { kind: 'empty' };
      }
      if (res.status === 429) {
        log.warn('job-take answered 429 Too Many Requests; pausing 5 s.');
        return { kind: 'throttled' };
      }
      if (res.status < 200 || res.status >= 300) {
        return { kind: 'error', message: `job-take answered HTTP ${res.status}: ${res.text.slice(0, 200)}` };
      }
      return parseJobs(res.text, res.contentType);
    } catch (e) {
      // Stopped, or the long-poll bound ran out: start a new poll at once.
      if (signal.aborted || isPollTimeout(e)) return { kind: 'empty' };
      return { kind: 'error', message: failure(e) };
    }
  };

  const stopSignals = async (signal: AbortSignal): Promise<StopPoll> => {
    if (jobStop === null) return { kind: 'empty' };
    try {
      const res = await client.get(jobStop, { signal, timeoutMs: timeout });
      if (res.status === 429) return { kind: 'throttled' };
      if (res.status === 204) return { kind: 'empty' };
      if (res.status >= 200 && res.status < 300) return { kind: 'ids', ids: parseStopIds(res.text) };
      return { kind: 'error', message: `job-stop answered HTTP ${res.status}` };
    } catch (e) {
      if (signal.aborted || isPollTimeout(e)) return { kind: 'empty' };
      return { kind: 'error', message: `Failed to get stop signals: ${failure(e)}` };
    }
  };

  return {
    take,
    done: (jobId, body, isStream, what) => postResult(client, urls.jobDone(jobId, isStream), jobId, body, o.retry, log, what),
    progress: (jobId, body) => postResult(client, urls.jobDone(jobId, false), jobId, body, PROGRESS_RETRY, log, 'progress update'),
    stream: (jobId, body) => postResult(client, urls.jobStream(jobId), jobId, body, o.retry, log, 'stream chunk'),
    hasStopChannel: jobStop !== null,
    stopSignals,
    startHeartbeat: () =>
      Heartbeat.start({ pingUrl: urls.ping, apiKey: o.apiKey, podId: o.podId, intervalMs: o.pingIntervalMs, version: RUNPOD_VERSION, userAgent: o.userAgent }, log),
    reportUnhealthy: (check, reason) => reportUnhealthy({ pingUrl: urls.ping, apiKey: o.apiKey, version: RUNPOD_VERSION, userAgent: o.userAgent }, check, reason, log),
  };
}
