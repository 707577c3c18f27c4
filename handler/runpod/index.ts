/**
 * RunPod's serverless worker runtime: the one front door of `handler/runpod/`. Nothing outside this folder imports
 * its inner files.
 *
 * - {@link startWorker}: the worker's life in named states (starting → ready → running → draining → stopped), with
 *   start-up checks, heartbeat, signals, the job-take loop and the drain; the backend's readiness and failure come
 *   in as callbacks.
 * - {@link Platform}: every call to RunPod behind one interface; {@link createHttpPlatform} is RunPod's HTTP
 *   protocol (docs/runpod-protocol.md); tests give the loop an in-memory one.
 * - {@link runLocalJob}: the local one-shot mode (`--test_input`, `test_input.json`).
 * - The handler contract ({@link Handler}, {@link Job}, {@link HandlerContext}) and result bodies ({@link RawJson}).
 */
export { startWorker, type StartWorkerOptions, type WorkerHandle } from './worker/start.js';
export type { StateChange, WorkerState } from './worker/states.js';
export type { WorkerStats } from './worker/stats.js';
export { TAKE_BACKOFF_MAX_MS, TAKE_BACKOFF_MIN_MS } from './worker/loop.js';
export { TOO_MANY_REQUESTS_PAUSE_MS } from './worker/pause.js';

export type { HeartbeatHandle, MalformedJob, Platform, PostOutcome, StopPoll, TakeOutcome } from './platform/platform.js';
export { createHttpPlatform, JOB_TAKE_TIMEOUT_MS, type HttpPlatformOptions } from './platform/http-platform.js';
export type { UrlTemplates } from './platform/urls.js';
export { classifyFatal, UNHEALTHY_REPORT_TIMEOUT_MS, type UnhealthyCheck, type UnhealthyOutcome } from './platform/unhealthy.js';

export { readTestInput, runLocalJob, type LocalOutcome } from './local.js';
export type { Handler, HandlerContext, Job, ResultBody } from './types.js';
export {
  isSyncJobId,
  platformResultLimit,
  RawJson,
  refusedResultBody,
  RUN_RESULT_LIMIT_BYTES,
  SYNC_RESULT_LIMIT_BYTES,
  type WorkerIdentity,
} from './result.js';
export { RUNPOD_VERSION, userAgent, WORKER_NAME, WORKER_VERSION } from './version.js';
