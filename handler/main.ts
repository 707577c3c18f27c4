/**
 * CLI entry of the worker: flags and env → {@link Config} → one of the modes, first match wins (runpod-python
 * `runpod/serverless/__init__.py` `start`; docs/runpod-protocol.md, "Process entry and mode selection"):
 * `--rp_serve_api` (local endpoint), `RUNPOD_REALTIME_PORT` (realtime, refused), local one-shot (`--test_input` or
 * `./test_input.json`, or no `RUNPOD_WEBHOOK_GET_JOB`), platform (the runtime of `runpod/`). Here the A1111 pool is
 * wired into the runtime: its readiness, warm-up, capacity and failure become the runtime's callbacks.
 *
 * Exit codes: 0 done (or drained after SIGTERM/SIGINT); 1 job failed (local mode), a start-up check failed, A1111
 * never ready, A1111 exited, the warm-up failed, or a fatal error (in platform mode each of these is first reported
 * to RunPod as unhealthy); 2 bad configuration.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Log } from './log.js';
import { A1111Pool } from './a1111/pool.js';
import { warmUp } from './a1111/warmup.js';
import type { LocalEndpoint } from './endpoint/index.js';
import { createA1111Handler } from './jobs/handler.js';
import {
  createHttpPlatform,
  readTestInput,
  runLocalJob,
  RUNPOD_VERSION,
  startWorker,
  userAgent,
  WORKER_NAME,
  WORKER_VERSION,
  type Handler,
  type Platform,
  type StartWorkerOptions,
  type UrlTemplates,
  type WorkerIdentity,
} from './runpod/index.js';

/** `hostname`, `worker_id` and `runpod_version` of handler-error bodies (runpod-python `rp_job.py`). */
function identity(cfg: Config): WorkerIdentity {
  return { hostname: cfg.runpod.podHostname, workerId: cfg.runpod.podId || 'unknown', version: RUNPOD_VERSION };
}

async function runLocal(cfg: Config, log: Log, handler: Handler, pool: A1111Pool): Promise<number> {
  let raw: unknown;
  try {
    raw = await readTestInput(cfg.args.test_input, log);
  } catch {
    return 1;
  }
  if (raw === null) {
    log.warn('test_input.json not found, exiting.');
    return 1;
  }
  try {
    await pool.start();
  } catch (e) {
    log.error((e as Error).message);
    return 1;
  }
  const out = await runLocalJob(raw, handler, log, identity(cfg));
  pool.close();
  // Wait until the (possibly large) result is flushed: the process exits right after.
  await new Promise<void>((resolve, reject) => process.stdout.write(Buffer.concat([out.bytes, Buffer.from('\n')]), (e) => (e ? reject(e) : resolve())));
  log.info('Local testing complete, exiting.');
  return out.exitCode;
}

/**
 * Warns when `A1111_READY_TIMEOUT_S` does not fit in RunPod's start-up limit (`RUNPOD_INIT_TIMEOUT`, else 7 min):
 * RunPod would then mark the worker unhealthy before the worker can report why.
 */
function checkReadyDeadline(cfg: Config, log: Log): void {
  const init = cfg.runpod.initTimeout;
  const ready = Math.round(cfg.a1111.readyTimeoutMs / 1000);
  if (ready >= init.seconds) {
    log.warn(
      `A1111_READY_TIMEOUT_S=${ready} does not fit in RunPod's start-up limit of ${init.seconds} s (${init.fromEnv ? 'RUNPOD_INIT_TIMEOUT' : 'RunPod default, 7 min; RUNPOD_INIT_TIMEOUT raises it'}): ` +
        'RunPod may mark this worker unhealthy before it reports why. Keep A1111_READY_TIMEOUT_S below it, with room for the warm-up.',
    );
  }
}

/** Before each job-take: wait until an A1111 backend is ready again (at once when one is). */
async function waitForBackend(pool: A1111Pool, log: Log, signal: AbortSignal): Promise<void> {
  if (pool.readyCount > 0 && !pool.failed) return;
  if (!pool.failed) {
    log.warn(
      pool.backends.length > 1
        ? 'No A1111 backend is ready (each was unreachable during a job); waiting for one before taking another job.'
        : 'A1111 was unreachable during the last job; waiting for it before taking another job.',
    );
  }
  await pool.waitAnyReady(signal);
}

/**
 * Runs the worker runtime on `platform` with the A1111 pool as its backend: one job per ready backend, readiness and
 * warm-up before the first job-take, and the pool's failure (warm-up failed, A1111 exited) as a fatal end.
 * @returns the exit code once the worker has stopped
 */
function runWorker(cfg: Config, log: Log, handler: Handler, pool: A1111Pool, platform: Platform, extra: Partial<StartWorkerOptions>): Promise<number> {
  let unsubscribe = (): void => undefined;
  const worker = startWorker({
    platform,
    handler,
    log,
    identity: identity(cfg),
    concurrency: () => pool.readyCount,
    takeAheadMs: cfg.runpod.takeAheadMs,
    // The A1111 handler awaits ctx.slot() after its checks: a job taken ahead is checked while the GPU finishes.
    checksWhileHeld: true,
    beforeTake: (signal) => waitForBackend(pool, log, signal),
    ready: async (signal) => void (await pool.start(signal)),
    onDrained: () => {
      unsubscribe();
      pool.close();
    },
    ...extra,
  });
  unsubscribe = pool.onChange(() => worker.wake());
  void pool.whenFailed().then((e) => worker.fail(e, `A1111 cannot be used: ${e.message}`));
  return worker.done;
}

/** The HTTP platform for `templates`, as `workerId` with `apiKey` (heartbeat, unhealthy report). */
function httpPlatform(cfg: Config, log: Log, templates: UrlTemplates, who: { workerId: string; apiKey: string | undefined; podId: string | undefined }): Platform {
  return createHttpPlatform({
    templates,
    ...who,
    userAgent: userAgent(cfg.runpod.uaIntegration),
    retry: cfg.resultRetry,
    pingIntervalMs: cfg.runpod.pingIntervalMs,
    log,
  });
}

/** Platform mode: the start-up checks, then the worker; a fatal end is reported to RunPod as unhealthy. */
function runPlatform(cfg: Config, log: Log, handler: Handler, pool: A1111Pool): Promise<number> {
  const r = cfg.runpod;
  checkReadyDeadline(cfg, log);
  const templates = { getJob: r.webhookGetJob, postOutput: r.webhookPostOutput, postStream: r.webhookPostStream, ping: r.webhookPing };
  const platform = httpPlatform(cfg, log, templates, { workerId: r.workerId, apiKey: r.apiKey, podId: r.podId });
  return runWorker(cfg, log, handler, pool, platform, { startupChecks: cfg.startupChecks, reportUnhealthy: true });
}

/**
 * `--rp_serve_api`: the local RunPod endpoint (public API + worker API) and the real worker pointed at it through
 * the `RUNPOD_WEBHOOK_*` templates the platform would inject, so the local path is the production path.
 */
async function runServeApi(cfg: Config, log: Log, handler: Handler, pool: A1111Pool): Promise<number> {
  let endpoint: LocalEndpoint;
  // Loaded only in this mode: the endpoint (fastify, swagger-ui, static files) and the schemas of its docs are
  // ~20 MiB of a platform worker's resident memory that it never uses (npm run bench, "Memory").
  const [{ startEndpoint }, { EXAMPLE_REQUESTS, JOB_INPUT_SCHEMAS }] = await Promise.all([import('./endpoint/index.js'), import('./a1111/input-schemas.js')]);
  try {
    endpoint = await startEndpoint({
      host: cfg.api.host,
      port: cfg.api.port,
      apiKey: cfg.api.apiKey,
      retentionRunMs: cfg.api.retentionRunMs,
      retentionSyncMs: cfg.api.retentionSyncMs,
      webhookRetryDelayMs: cfg.api.webhookRetryDelayMs,
      log,
      // sd-proxy-server's admin API (POST /admin/register/image …) adds and removes A1111 backends at run time.
      backends: {
        list: () => pool.backends.map((b) => b.url),
        register: (u) => pool.add(u),
        unregister: (u) => pool.remove(u),
      },
      playground: true,
      // The API docs at /docs describe the job input with the bundled request schemas; test_input.json is the example.
      apiDocs: { inputSchemas: JOB_INPUT_SCHEMAS, examples: EXAMPLE_REQUESTS },
    });
  } catch (e) {
    log.error(`Cannot start the local endpoint on ${cfg.api.host}:${cfg.api.port}: ${(e as Error).message}`);
    return 1;
  }
  log.info(
    `Local RunPod endpoint at ${endpoint.url} (POST /run, POST /runsync, GET /status/{id}, also under /v2/{endpointId}/; admin: POST /admin/register/image, /admin/unregister/image, /admin/servers)${cfg.api.apiKey ? '; requests need Authorization: Bearer $RUNPOD_API_KEY' : ''}.`,
  );
  const workerId = cfg.runpod.podId || 'local-worker';
  const env = endpoint.workerEnv();
  const templates = { getJob: env.RUNPOD_WEBHOOK_GET_JOB, postOutput: env.RUNPOD_WEBHOOK_POST_OUTPUT, postStream: env.RUNPOD_WEBHOOK_POST_STREAM, ping: env.RUNPOD_WEBHOOK_PING };
  // The worker API of the local endpoint needs no key; a placeholder lets the heartbeat run as on the platform.
  const platform = httpPlatform(cfg, log, templates, { workerId, apiKey: cfg.runpod.apiKey || 'local', podId: workerId });
  const code = await runWorker(cfg, log, handler, pool, platform, {});
  await endpoint.close();
  return code;
}

/** Every secret the process knows, for log redaction: RunPod keys, bucket keys, A1111 basic-auth password. */
function secretValues(cfg: Config): string[] {
  const bucket = cfg.output.bucket;
  return [cfg.runpod.apiKey, cfg.api.apiKey, cfg.a1111.auth?.password, bucket?.accessKeyId, bucket?.secretAccessKey].filter(
    (v): v is string => typeof v === 'string' && v !== '',
  );
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let cfg: Config;
  try {
    cfg = loadConfig(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`configuration error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  // In local mode stdout carries only the result JSON; logs go to stderr.
  const out = cfg.mode === 'local' ? process.stderr : process.stdout;
  const log = createLogger({ level: cfg.logLevel, json: cfg.logJson, secrets: secretValues(cfg), out });
  // RunPod's banner (runpod-python `serverless/__init__.py`) with the runpod_version this worker reports; then this package's own version.
  out.write(`--- Starting Serverless Worker |  Version ${RUNPOD_VERSION} ---\n`);
  log.info(`${WORKER_NAME} ${WORKER_VERSION} (RunPod worker protocol of runpod-python ${RUNPOD_VERSION}).`);

  // One A1111 per GPU (A1111_URLS), each warmed up once when it first becomes ready (not in local one-shot mode).
  const pool = new A1111Pool(cfg.a1111, log, cfg.mode === 'local' ? {} : { prepare: (client, signal) => warmUp(cfg.a1111, log, client, signal) });
  const urls = cfg.a1111.urls ?? [cfg.a1111.url];
  log.info(urls.length > 1 ? `A1111 backends: ${urls.join(', ')} (one job per ready backend).` : `A1111 at ${urls[0]}.`);
  if (cfg.a1111.urlIgnored) log.warn('A1111_URLS is set: A1111_URL is ignored.');
  // start.sh exports A1111_PID: readiness waits then stop as soon as that process exits (fail fast).
  if (cfg.a1111.pid !== undefined && urls.length === 1) log.info(`Watching A1111 process ${cfg.a1111.pid} (A1111_PID).`);
  const handler: Handler = createA1111Handler({ client: pool, limits: cfg.limits, log, output: cfg.output });

  switch (cfg.mode) {
    case 'local':
      return runLocal(cfg, log, handler, pool);
    case 'platform':
      return runPlatform(cfg, log, handler, pool);
    case 'serve_api':
      return runServeApi(cfg, log, handler, pool);
    case 'realtime':
      log.error('RUNPOD_REALTIME_PORT (realtime mode) is not supported by this worker; unset it to run in platform mode.');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fatal: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
