/**
 * CLI entry of the worker: flags and env → {@link Config} → one of the modes (protocol spec §1 step 5):
 * `--rp_serve_api` (local endpoint), `RUNPOD_REALTIME_PORT` (realtime), local one-shot (`--test_input` or
 * `./test_input.json`, or no `RUNPOD_WEBHOOK_GET_JOB`), platform (job-take loop).
 *
 * Exit codes: 0 done (or drained after SIGTERM/SIGINT); 1 job failed (local mode), A1111 never ready, or a
 * fatal error; 2 bad configuration.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Log } from './log.js';
import { A1111ExitedError, type A1111Client } from './a1111/client.js';
import { A1111Pool } from './a1111/pool.js';
import { startEndpoint, type LocalEndpoint } from './endpoint/index.js';
import { createA1111Handler } from './jobs/handler.js';
import { createPlatformClient } from './runpod/http.js';
import { Heartbeat } from './runpod/heartbeat.js';
import { runLocalJob } from './runpod/local.js';
import type { Handler } from './runpod/types.js';
import { resolveUrls } from './runpod/urls.js';
import { RUNTIME_VERSION, userAgent } from './runpod/version.js';
import { WorkerRuntime } from './runpod/worker.js';

function identity(cfg: Config): { hostname: string; workerId: string; version: string } {
  return { hostname: cfg.runpod.podHostname, workerId: cfg.runpod.podId || 'unknown', version: RUNTIME_VERSION };
}

/** Reads the local job: `--test_input` wins over `./test_input.json` (spec §13.2). Returns null when neither exists. */
async function readTestInput(cfg: Config, log: Log): Promise<unknown> {
  if (cfg.args.test_input !== undefined) return JSON.parse(cfg.args.test_input);
  let text: string;
  try {
    text = await readFile('test_input.json', 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    log.error(`test_input.json is not valid JSON: ${(e as Error).message}`);
    throw e;
  }
}

async function runLocal(cfg: Config, log: Log, handler: Handler, pool: A1111Pool): Promise<number> {
  let raw: unknown;
  try {
    raw = await readTestInput(cfg, log);
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

/** The webhook templates a worker loop is pointed at (the platform's, or the local endpoint's). */
interface Templates {
  RUNPOD_WEBHOOK_GET_JOB: string | undefined;
  RUNPOD_WEBHOOK_POST_OUTPUT: string | undefined;
  RUNPOD_WEBHOOK_POST_STREAM: string | undefined;
  RUNPOD_WEBHOOK_PING: string | undefined;
}

/**
 * The job-take loop with its heartbeat, readiness wait and signal handling; shared by platform mode and
 * `--rp_serve_api` (there pointed at the local endpoint through the same templates).
 * Resolves to the exit code once the loop has drained.
 */
async function runWorkerLoop(
  cfg: Config,
  log: Log,
  handler: Handler,
  pool: A1111Pool,
  templates: Templates,
  who: { workerId: string; apiKey: string | undefined; podId: string | undefined },
): Promise<number> {
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
    { pingUrl: urls.ping, apiKey: who.apiKey, podId: who.podId, intervalMs: cfg.runpod.pingIntervalMs, version: RUNTIME_VERSION, userAgent: ua },
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
    }
  }
  unsubscribe();
  pool.close();
  await heartbeat?.stop();
  return code;
}

/**
 * The warm-up generation (`A1111_WARMUP`): once, after readiness and before the first job-take, so the checkpoint
 * is really loaded (A1111 opens its port before the model is loaded, spec a1111 §2.2). Logs its duration.
 * @throws Error with A1111's message when it fails (the worker then exits 1)
 */
async function warmUp(cfg: Config, log: Log, a1111: A1111Client, signal: AbortSignal): Promise<void> {
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
    throw new Error(`A1111 warm-up failed${where}: ${(e as Error).message}`);
  }
  log.info(`A1111 warm-up${where} (txt2img ${payload.steps ?? '?'} step(s), ${payload.width ?? '?'}×${payload.height ?? '?'}) took ${Math.round(performance.now() - t0)} ms.`);
}

function runPlatform(cfg: Config, log: Log, handler: Handler, pool: A1111Pool): Promise<number> {
  const r = cfg.runpod;
  return runWorkerLoop(
    cfg,
    log,
    handler,
    pool,
    {
      RUNPOD_WEBHOOK_GET_JOB: r.webhookGetJob,
      RUNPOD_WEBHOOK_POST_OUTPUT: r.webhookPostOutput,
      RUNPOD_WEBHOOK_POST_STREAM: r.webhookPostStream,
      RUNPOD_WEBHOOK_PING: r.webhookPing,
    },
    { workerId: r.workerId, apiKey: r.apiKey, podId: r.podId },
  );
}

/**
 * `--rp_serve_api`: the local RunPod endpoint (public API + worker API) and the real worker loop pointed at it
 * through the `RUNPOD_WEBHOOK_*` templates the platform would inject, so the local path is the production path.
 */
async function runServeApi(cfg: Config, log: Log, handler: Handler, pool: A1111Pool): Promise<number> {
  let endpoint: LocalEndpoint;
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
    });
  } catch (e) {
    log.error(`Cannot start the local endpoint on ${cfg.api.host}:${cfg.api.port}: ${(e as Error).message}`);
    return 1;
  }
  log.info(
    `Local RunPod endpoint at ${endpoint.url} (POST /run, POST /runsync, GET /status/{id}, also under /v2/{endpointId}/; admin: POST /admin/register/image, /admin/unregister/image, /admin/servers)${cfg.api.apiKey ? '; requests need Authorization: Bearer $RUNPOD_API_KEY' : ''}.`,
  );
  const workerId = cfg.runpod.podId || 'local-worker';
  const code = await runWorkerLoop(
    cfg,
    log,
    handler,
    pool,
    endpoint.workerEnv(),
    // The worker API of the local endpoint needs no key; a placeholder lets the heartbeat run as on the platform.
    { workerId, apiKey: cfg.runpod.apiKey || 'local', podId: workerId },
  );
  await endpoint.close();
  return code;
}

/** Every secret the process knows, for log redaction: RunPod keys, bucket keys, A1111 basic-auth password. */
function secretValues(cfg: Config): string[] {
  const env = process.env;
  return [
    cfg.runpod.apiKey,
    cfg.api.apiKey,
    cfg.a1111.auth?.password,
    env.BUCKET_ACCESS_KEY_ID,
    env.BUCKET_SECRET_ACCESS_KEY,
  ].filter((v): v is string => typeof v === 'string' && v !== '');
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
  const log = createLogger({
    level: cfg.logLevel,
    json: cfg.logJson,
    secrets: secretValues(cfg),
    out: cfg.mode === 'local' ? process.stderr : process.stdout,
  });
  (cfg.mode === 'local' ? process.stderr : process.stdout).write(`--- Starting Serverless Worker |  Version ${RUNTIME_VERSION} ---\n`);

  // One A1111 per GPU (A1111_URLS), each warmed up once when it first becomes ready (not in local one-shot mode).
  const pool = new A1111Pool(cfg.a1111, log, cfg.mode === 'local' ? {} : { prepare: (client, signal) => warmUp(cfg, log, client, signal) });
  const urls = cfg.a1111.urls ?? [cfg.a1111.url];
  log.info(urls.length > 1 ? `A1111 backends: ${urls.join(', ')} (one job per ready backend).` : `A1111 at ${urls[0]}.`);
  if ((process.env.A1111_URLS ?? '').trim() !== '' && (process.env.A1111_URL ?? '').trim() !== '') log.warn('A1111_URLS is set: A1111_URL is ignored.');
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
