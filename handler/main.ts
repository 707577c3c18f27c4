/**
 * CLI entry of the worker: flags and env → {@link Config} → one of the modes (protocol spec §1 step 5):
 * `--rp_serve_api` (local endpoint), `RUNPOD_REALTIME_PORT` (realtime), local one-shot (`--test_input` or
 * `./test_input.json`, or no `RUNPOD_WEBHOOK_GET_JOB`), platform (start-up checks, then the job-take loop of
 * `runpod/worker-loop.ts`).
 *
 * Exit codes: 0 done (or drained after SIGTERM/SIGINT); 1 job failed (local mode), a start-up check failed, A1111
 * never ready, A1111 exited, the warm-up failed, or a fatal error (in platform mode each of these is first reported
 * to RunPod as unhealthy, `runpod/unhealthy.ts`); 2 bad configuration.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Log } from './log.js';
import { A1111Pool } from './a1111/pool.js';
import { startEndpoint, type LocalEndpoint } from './endpoint/index.js';
import { createA1111Handler } from './jobs/handler.js';
import { runLocalJob } from './runpod/local.js';
import { loadStartupCheckConfig, runStartupChecks, type StartupCheckConfig } from './runpod/startup-checks.js';
import type { Handler } from './runpod/types.js';
import { reportUnhealthy } from './runpod/unhealthy.js';
import { resolvePingUrl } from './runpod/urls.js';
import { RUNPOD_VERSION, WORKER_NAME, WORKER_VERSION } from './runpod/version.js';
import { identity, runWorkerLoop, unhealthyTarget, warmUp } from './runpod/worker-loop.js';

/**
 * RunPod's documented start-up limit: "If cold start exceeds 7 minutes, the worker is marked unhealthy. Extend with
 * RUNPOD_INIT_TIMEOUT=800 (seconds)" (docs.runpod.io/serverless/development/optimization). Seconds.
 */
const RUNPOD_DEFAULT_INIT_TIMEOUT_S = 420;

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

/**
 * Warns when `A1111_READY_TIMEOUT_S` does not fit in RunPod's start-up limit (`RUNPOD_INIT_TIMEOUT`, else 7 min):
 * RunPod would then mark the worker unhealthy before the worker can report why.
 */
function checkReadyDeadline(cfg: Config, log: Log): void {
  const raw = (process.env.RUNPOD_INIT_TIMEOUT ?? '').trim();
  const init = /^\d+$/.test(raw) ? Number(raw) : RUNPOD_DEFAULT_INIT_TIMEOUT_S;
  const ready = Math.round(cfg.a1111.readyTimeoutMs / 1000);
  if (ready >= init) {
    log.warn(
      `A1111_READY_TIMEOUT_S=${ready} does not fit in RunPod's start-up limit of ${init} s (${raw ? 'RUNPOD_INIT_TIMEOUT' : 'RunPod default, 7 min; RUNPOD_INIT_TIMEOUT raises it'}): ` +
        'RunPod may mark this worker unhealthy before it reports why. Keep A1111_READY_TIMEOUT_S below it, with room for the warm-up.',
    );
  }
}

/**
 * Platform mode: the start-up checks (a failure is reported unhealthy and exits 1), then the worker loop, which
 * reports a fatal end (A1111 never ready, exited, warm-up failed) the same way.
 */
async function runPlatform(cfg: Config, log: Log, handler: Handler, pool: A1111Pool, checks: StartupCheckConfig): Promise<number> {
  const r = cfg.runpod;
  checkReadyDeadline(cfg, log);
  const failed = await runStartupChecks(checks, log);
  if (failed) {
    log.error('Worker is unhealthy, exiting.');
    pool.close();
    const ping = r.webhookPing === undefined ? null : resolvePingUrl(r.webhookPing, r.workerId);
    await reportUnhealthy(unhealthyTarget(cfg, ping), failed.check, `${failed.name}: ${failed.message}`, log);
    return 1;
  }
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
    { workerId: r.workerId, apiKey: r.apiKey, podId: r.podId, reportUnhealthy: true },
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
    { workerId, apiKey: cfg.runpod.apiKey || 'local', podId: workerId, reportUnhealthy: false },
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
  let checks: StartupCheckConfig;
  try {
    cfg = loadConfig(argv);
    checks = loadStartupCheckConfig(process.env, cfg.a1111.urls?.length ?? 1);
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
  // RunPod's banner (spec §1) with the runpod_version this worker reports; then this package's own version.
  (cfg.mode === 'local' ? process.stderr : process.stdout).write(`--- Starting Serverless Worker |  Version ${RUNPOD_VERSION} ---\n`);
  log.info(`${WORKER_NAME} ${WORKER_VERSION} (RunPod worker protocol of runpod-python ${RUNPOD_VERSION}).`);

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
      return runPlatform(cfg, log, handler, pool, checks);
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
