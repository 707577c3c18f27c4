/**
 * The local RunPod endpoint emulator: one HTTP server speaking the platform's public queue API
 * (docs/runpod-protocol.md, "Platform (public queue API) facts") to clients such as `runpod-sdk` or curl, and the
 * worker protocol (job-take, job-done, job-stream, job-stop, ping) to a worker started with
 * {@link LocalEndpoint.workerEnv}. Jobs live in memory; nothing is persisted.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { silentLog, type Log } from '../log.js';
import { registerAdminApi, type BackendRegistry } from './admin.js';
import { FaultInjector, type EndpointFaultOptions, type EndpointStats, type ScriptedFault } from './faults.js';
import { registerApiDocs, type ApiDocsOptions } from './docs/index.js';
import { readRawBody } from './http.js';
import { JobStore } from './jobs.js';
import { registerPublicApi } from './public-api.js';
import type { WorkerApiRecord } from './recorder.js';
import { registerPlayground } from './playground/index.js';
import { HttpError, parseRunRequest } from './request.js';
import { WebhookSender } from './webhook.js';
import { registerWorkerApi, type WorkerApiCounters } from './worker-api.js';

/** Options of {@link startEndpoint}; every field is optional. */
export interface EndpointOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** TCP port; default 8000; 0 picks a free port. */
  port?: number;
  /**
   * `RUNPOD_API_KEY`: when set (non-empty), every public route requires `Authorization: Bearer <key>` or the raw
   * key (RunPod docs serverless/endpoints/send-requests.mdx), else 401 `{"error": ...}`. The worker API is never
   * checked.
   */
  apiKey?: string;
  /** Endpoint id used in {@link LocalEndpoint.workerEnv} and logs; default `local`. Any id is served. */
  endpointId?: string;
  /** How long a `/run` job's final result is kept, ms; then `/status` answers 404. Default 30 min (RunPod's). */
  retentionRunMs?: number;
  /** The same for `/runsync` jobs, ms. Default 60 s (RunPod's). */
  retentionSyncMs?: number;
  /** Delay between webhook attempts, ms (3 attempts in all). Default 10 000 (RunPod's). */
  webhookRetryDelayMs?: number;
  /** Bound of one webhook attempt, ms. Default 10 000. */
  webhookTimeoutMs?: number;
  /** How long an empty job-take / job-stop is held before 204, ms. Default 20 000. */
  takeHoldMs?: number;
  /** How long `/stream` holds when there is no new chunk and the job is not final, ms. Default 1000. */
  streamHoldMs?: number;
  /** `policy.executionTimeout` of jobs that give none, ms. Default 600 000 (RunPod's). Not bounded by the 5 s minimum. */
  executionTimeoutDefaultMs?: number;
  /** Largest final job-done body of a `/run` job, bytes; default 10 MB (RunPod's `/run` payload limit). */
  resultLimitRunBytes?: number;
  /** The same for a `/runsync` job (id `sync-…`); default 20 MB. */
  resultLimitSyncBytes?: number;
  /** Status of a refused over-limit job-done: 400 (default, as the platform answers) or 413. */
  resultTooLargeStatus?: 400 | 413;
  /** Where the emulator logs; default silent. */
  log?: Log;
  /**
   * Seeded fault injection on the worker API (tests, soak): job-take answers 500 / 429 / garbage / reset before
   * any job is assigned, job-done answers 500 / reset before the result is recorded. Default: none.
   */
  faults?: EndpointFaultOptions;
  /**
   * Record every worker-API request (kind, worker and job ids, URL, query, headers, size, times, answer), read with
   * {@link LocalEndpoint.requests}. For tests and the bench; default false (the list grows without bound).
   */
  recordRequests?: boolean;
  /** Keep each recorded request's body as text too (implies `recordRequests`); default false. */
  recordBodies?: boolean;
  /**
   * Platform round-trip delay: every worker-API request is handled this many ms after it arrived (with its body),
   * as if the platform were that far away. Default 0.
   */
  latencyMs?: number;
  /**
   * The worker's A1111 backends: when given, sd-proxy-server's admin API is served for development
   * (`POST /admin/register/image`, `POST /admin/unregister/image`, `POST /admin/servers`; see `admin.ts`), behind
   * `apiKey` like the public API. Default: no admin routes.
   */
  backends?: BackendRegistry;
  /** Serve the playground page at `/` (what `--rp_serve_api` does). Default false. */
  playground?: boolean;
  /** Serve the OpenAPI description and the interactive docs at `/docs` (what `--rp_serve_api` does). Default: not served. */
  apiDocs?: ApiDocsOptions;
}

/** A running emulator. */
export interface LocalEndpoint {
  /** `http://host:port`, no trailing slash (a wildcard host is given as loopback). */
  url: string;
  /** The port listened on (useful with `port: 0`). */
  port: number;
  /**
   * The `RUNPOD_WEBHOOK_*` templates a worker needs, exactly as the platform injects them (docs/runpod-protocol.md,
   * "Process entry and mode selection"):
   * GET_JOB `${url}/v2/${endpointId}/job-take/$ID?gpu=local`, POST_OUTPUT `…/job-done/$RUNPOD_POD_ID/$ID?gpu=local`,
   * POST_STREAM `…/job-stream/$RUNPOD_POD_ID/$ID?gpu=local`, PING `…/ping/$RUNPOD_POD_ID?gpu=local`.
   */
  workerEnv(): { RUNPOD_WEBHOOK_GET_JOB: string; RUNPOD_WEBHOOK_POST_OUTPUT: string; RUNPOD_WEBHOOK_POST_STREAM: string; RUNPOD_WEBHOOK_PING: string };
  /** Worker-API counters: requests, injected faults by kind, results recorded, duplicate and late final posts. */
  stats(): EndpointStats;
  /**
   * Queues jobs as `/run` (or `/runsync` with `sync`) would, all in one step, so that one held job-take-batch can
   * get several of them. Each body is `{input, webhook?, policy?, s3Config?}` as for `/run`.
   * @returns the job ids, in order
   * @throws HttpError 400 for an invalid body (then nothing is queued)
   */
  submit(bodies: readonly unknown[], opts?: { sync?: boolean }): string[];
  /**
   * Tells the worker running job `id` to stop it (its next job-stop poll gets the id) without changing the job's
   * state. Prefer `/cancel`, which does this too. Returns false when the job is not IN_PROGRESS.
   */
  stopJob(id: string): boolean;
  /** Queues a scripted fault for the next requests of a worker-API route (see {@link ScriptedFault}). */
  injectFault(fault: ScriptedFault): void;
  /**
   * The worker-API requests received so far, in arrival order; the same objects on every call (their answer is
   * filled in when sent). Empty unless `recordRequests` or `recordBodies` is set.
   */
  requests(): readonly WorkerApiRecord[];
  /**
   * Resolves with the first recorded request, answered already or answered later, for which `match` is true;
   * rejects after `timeoutMs` (default 30 s) with an error naming `what`. Needs `recordRequests` or `recordBodies`.
   */
  waitForRequest(match: (rec: WorkerApiRecord) => boolean, what: string, timeoutMs?: number): Promise<WorkerApiRecord>;
  /** Stops the timers, answers held long-polls (204 / current status), abandons webhook retries, closes the server. */
  close(): Promise<void>;
}

/** The defaults of {@link EndpointOptions}. */
export const ENDPOINT_DEFAULTS = {
  host: '127.0.0.1',
  port: 8000,
  endpointId: 'local',
  retentionRunMs: 30 * 60_000,
  retentionSyncMs: 60_000,
  webhookRetryDelayMs: 10_000,
  webhookTimeoutMs: 10_000,
  takeHoldMs: 20_000,
  streamHoldMs: 1_000,
  executionTimeoutDefaultMs: 600_000,
} as const;

/** `http://host:port` for clients: wildcard hosts become loopback, IPv6 literals get brackets. */
function clientUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** The `{"error"}` answer for any error reaching fastify (never fastify's own error shape). */
function installErrorHandling(app: FastifyInstance, log: Log): void {
  app.setErrorHandler((err: FastifyError | HttpError | Error, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.message });
    const code = (err as FastifyError).statusCode;
    if (typeof code === 'number' && code >= 400 && code < 500) return reply.code(code).send({ error: err.message });
    log.error(`Internal error on ${req.method} ${req.url}: ${err.stack ?? err.message}`);
    return reply.code(500).send({ error: `internal error: ${err.message}` });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }));
}

/**
 * Starts the emulator and resolves once it listens.
 * @throws the listen error (e.g. `EADDRINUSE`) after releasing everything it created
 */
export async function startEndpoint(opts: EndpointOptions = {}): Promise<LocalEndpoint> {
  const o = { ...ENDPOINT_DEFAULTS, ...stripUndefined(opts) };
  const log = opts.log ?? silentLog;
  const faults = new FaultInjector(opts.faults);
  const webhooks = new WebhookSender({ retryDelayMs: o.webhookRetryDelayMs, timeoutMs: o.webhookTimeoutMs, log });
  const store = new JobStore({
    retentionRunMs: o.retentionRunMs,
    retentionSyncMs: o.retentionSyncMs,
    log,
    onFinal: (job) => {
      if (job.request.webhook !== undefined) webhooks.send(job.request.webhook, store.webhookBody(job), job.id);
      if (job.request.webhookV2 !== undefined) webhooks.send(job.request.webhookV2, store.webhookBody(job, 'webhookV2'), job.id);
    },
  });

  const app = Fastify({
    logger: false,
    exposeHeadRoutes: false,
    // At close every held long-poll has been answered (store.close): a connection still open belongs to a client
    // that gave up on its request (an aborted long-poll) and must not keep the process alive.
    forceCloseConnections: true,
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).code(400).send({ error: err.message });
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', readRawBody);
  installErrorHandling(app, log);
  registerPublicApi(app, { store, log, apiKey: opts.apiKey, streamHoldMs: o.streamHoldMs, executionTimeoutDefaultMs: o.executionTimeoutDefaultMs });
  const counters: WorkerApiCounters = { refusedResults: 0, streamFinalJobIds: [], stopPodJobIds: [] };
  const records: WorkerApiRecord[] = [];
  const answeredListeners = new Set<(rec: WorkerApiRecord) => void>();
  const recordBodies = opts.recordBodies === true;
  registerWorkerApi(app, {
    store,
    log,
    takeHoldMs: o.takeHoldMs,
    faults,
    counters,
    ...(opts.recordRequests === true || recordBodies ? { records, onAnswered: (rec: WorkerApiRecord) => answeredListeners.forEach((l) => l(rec)) } : {}),
    recordBodies,
    latencyMs: Math.max(0, opts.latencyMs ?? 0),
    ...(opts.resultLimitRunBytes !== undefined ? { resultLimitRunBytes: opts.resultLimitRunBytes } : {}),
    ...(opts.resultLimitSyncBytes !== undefined ? { resultLimitSyncBytes: opts.resultLimitSyncBytes } : {}),
    ...(opts.resultTooLargeStatus !== undefined ? { resultTooLargeStatus: opts.resultTooLargeStatus } : {}),
  });
  if (opts.backends) registerAdminApi(app, { registry: opts.backends, apiKey: opts.apiKey });
  const pageOpts = { endpointId: o.endpointId, ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}) };
  if (opts.apiDocs) await registerApiDocs(app, { ...opts.apiDocs, ...pageOpts });
  if (opts.playground === true) await registerPlayground(app, pageOpts);

  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (e) {
    store.close();
    webhooks.close();
    await app.close().catch(() => undefined);
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const url = clientUrl(o.host, port);
  const base = `${url}/v2/${o.endpointId}`;
  log.info(`Local RunPod endpoint ${o.endpointId} listening on ${url} (public API at ${base}/run; worker API at ${base}/job-take/…).`);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    workerEnv: () => ({
      RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?gpu=local`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?gpu=local`,
      RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=local`,
      RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID?gpu=local`,
    }),
    stats() {
      const r = store.resultCounters();
      return {
        ...faults.counters(),
        resultsRecorded: r.recorded,
        duplicateResults: r.duplicate,
        duplicateJobIds: r.duplicateJobIds,
        lateResults: r.late,
        refusedResults: counters.refusedResults,
        streamFinalJobIds: [...counters.streamFinalJobIds],
        stopPodJobIds: [...counters.stopPodJobIds],
      };
    },
    submit(bodies, submitOpts = {}) {
      const requests = bodies.map((b) => parseRunRequest(b, o.executionTimeoutDefaultMs));
      return store.submit(requests, submitOpts.sync === true).map((job) => job.id);
    },
    stopJob: (id) => store.requestStop(id),
    injectFault: (fault) => faults.inject(fault),
    requests: () => records,
    waitForRequest(match, what, timeoutMs = 30_000) {
      const seen = records.find((r) => r.status !== undefined && match(r));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const listener = (rec: WorkerApiRecord): void => {
          if (!match(rec)) return;
          answeredListeners.delete(listener);
          clearTimeout(timer);
          resolve(rec);
        };
        const timer = setTimeout(() => {
          answeredListeners.delete(listener);
          reject(new Error(`no ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
        answeredListeners.add(listener);
      });
    },
    close() {
      closing ??= (async () => {
        store.close();
        webhooks.close();
        await app.close();
        log.info(`Local RunPod endpoint ${o.endpointId} closed.`);
      })();
      return closing;
    },
  };
}

/** `o` without its undefined fields (so they do not override defaults). */
function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
