/**
 * The one typed configuration of the worker, read once from the CLI flags and the environment.
 *
 * Every env var and flag is documented in README.md ("Configuration") with its default.
 * RunPod's names are kept where RunPod has one (docs/runpod-protocol.md: "Process entry and mode selection", "Flags (`argparse`, prog `runpod`)").
 */
import { parseArgs, type CliArgs } from './cli-args.js';
import { a1111Urls, envBool, envChoice, envInt, envNumber, parseApiAuth, parseBucket, parseWarmup, type Env } from './env-vars.js';
import { ConfigError } from './errors/index.js';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { resolveLogLevel, type RunpodLogLevel } from './log.js';

/** Which way the process runs (docs/runpod-protocol.md, "Process entry and mode selection" step 5; first match wins). */
export type Mode = 'serve_api' | 'realtime' | 'local' | 'platform';

/** RunPod platform settings (env vars the platform injects, docs/runpod-protocol.md: "Process entry and mode selection", "Heartbeat / ping"). */
export interface RunpodConfig {
  /** `RUNPOD_POD_ID`, or a random UUID when unset (docs/runpod-protocol.md, "Process entry and mode selection"). */
  workerId: string;
  /** `RUNPOD_POD_ID` as given (undefined when unset). */
  podId: string | undefined;
  /** `RUNPOD_POD_HOSTNAME` (used in error bodies, docs/runpod-protocol.md, "Handler exception → body"); `unknown` when unset. */
  podHostname: string;
  /** `RUNPOD_AI_API_KEY`: sent raw as `Authorization` to the platform (docs/runpod-protocol.md, "aiohttp session (job-take, job-done, job-stream, job-stop, progress)"). */
  apiKey: string | undefined;
  /** `RUNPOD_ENDPOINT_ID`: when set, logs are JSON lines (docs/runpod-protocol.md, "Logging format (stdout)"). */
  endpointId: string | undefined;
  /** `RUNPOD_WEBHOOK_GET_JOB` template (contains `$ID`). */
  webhookGetJob: string | undefined;
  /** `RUNPOD_WEBHOOK_POST_OUTPUT` template (contains `$RUNPOD_POD_ID` and `$ID`). */
  webhookPostOutput: string | undefined;
  /** `RUNPOD_WEBHOOK_POST_STREAM` template. */
  webhookPostStream: string | undefined;
  /** `RUNPOD_WEBHOOK_PING` template. */
  webhookPing: string | undefined;
  /** `RUNPOD_PING_INTERVAL` in ms (default 10000), clamped to ≥ 1000 (docs/runpod-protocol.md, "Quirks to decide on (faithful vs. fixed)" Q9). */
  pingIntervalMs: number;
  /**
   * `TAKE_AHEAD_MS` (default 250, 0 = off): once a generation is due to end within this time (A1111's
   * `eta_relative`), the next job is taken and held until the backend frees; about one platform round trip.
   */
  takeAheadMs: number;
  /** `RUNPOD_REALTIME_PORT` (0 = off). */
  realtimePort: number;
  /** `RUNPOD_REALTIME_CONCURRENCY` (default 1). */
  realtimeConcurrency: number;
  /** `RUNPOD_UA_INTEGRATION`: appended to the User-Agent as ` Integration/<v>`. */
  uaIntegration: string | undefined;
  /**
   * `RUNPOD_INIT_TIMEOUT`: RunPod's start-up limit, seconds ("If cold start exceeds 7 minutes, the worker is marked
   * unhealthy. Extend with RUNPOD_INIT_TIMEOUT", docs.runpod.io/serverless/development/optimization); 420 when unset
   * or not a whole number. `fromEnv`: the variable is set (not blank).
   */
  initTimeout: { seconds: number; fromEnv: boolean };
}

/** How result posts (job-done) are retried (network errors, 5xx, 429). */
export interface ResultRetryConfig {
  /** `RESULT_POST_RETRIES`: retries after the first attempt (default 6, so 7 attempts). */
  retries: number;
  /** `RESULT_POST_MIN_DELAY_MS`: first delay (default 2000), doubled each retry. */
  minDelayMs: number;
  /** `RESULT_POST_MAX_DELAY_MS`: cap of one delay (default 30000). With the defaults the wait totals 90 s. */
  maxDelayMs: number;
  /** `RESULT_POST_TIMEOUT_MS`: timeout of one attempt (default 60000). */
  timeoutMs: number;
}

/** The A1111 backend. */
export interface A1111Config {
  /** `A1111_URL` (default `http://127.0.0.1:3000`, the port RunPod's A1111 images use): this client's backend. */
  url: string;
  /**
   * `A1111_URLS` (comma-separated; or `[A1111_URL]`): every backend of the pod, one A1111 per GPU; `url` is the
   * first. Optional so that one-backend configs (tests) need not repeat `url`.
   */
  urls?: string[];
  /**
   * `A1111_READY_TIMEOUT_S`: deadline of the start-up readiness wait, seconds (default 360: inside RunPod's 7-minute
   * start-up limit, docs.runpod.io/serverless/development/optimization, with a minute left for the warm-up).
   */
  readyTimeoutMs: number;
  /** `A1111_READY_INTERVAL_MS`: pause between readiness tries (default 250, at most 250). */
  readyIntervalMs: number;
  /** `A1111_REQUEST_TIMEOUT_S`: per-request timeout, seconds (default 600). */
  requestTimeoutMs: number;
  /** `A1111_API_AUTH` (`user:password`, as A1111's `--api-auth`): sent as HTTP Basic; never logged. */
  auth?: { username: string; password: string };
  /**
   * `A1111_WARMUP`: the warm-up generation run once after readiness and before the first job-take, or null when
   * disabled (`false`). `true` (default) = 1 step, 64×64, `send_images: false`; a JSON object = that txt2img payload.
   */
  warmup: Record<string, unknown> | null;
  /** `PROGRESS_INTERVAL_MS`: progress poll interval while a generation runs (default 1000; 0 = no progress). */
  progressIntervalMs: number;
  /** `PREVIEW_INTERVAL_MS`: at most one live preview per this many ms for jobs with `"preview": true` (default 2000). */
  previewIntervalMs: number;
  /** `MAX_JOB_TIMEOUT_S`: cap of a job's own `timeout_s` (default: `A1111_REQUEST_TIMEOUT_S`). */
  maxJobTimeoutMs: number;
  /**
   * `STRICT_NAMES`: true = unknown prompt styles and `<lora:…>` tags fail the job too; false (default) = they are logged
   * warnings, as A1111 ignores them. Unknown samplers, schedulers, checkpoints and scripts are refused either way.
   */
  strictNames: boolean;
  /** `A1111_PID`: the A1111 process (set by `start.sh`); when it exits the worker fails fast instead of waiting out deadlines. */
  pid?: number;
  /** true when `A1111_URLS` and `A1111_URL` are both set (`A1111_URL` is then ignored; main.ts says so). */
  urlIgnored?: boolean;
}

/** Limits on job inputs: size and cost caps and the image/URL policy (README "What the worker refuses, and why"). */
export interface LimitsConfig {
  /** `MAX_IMAGES_PER_JOB`: `batch_size × n_iter` cap (default 16). */
  maxImagesPerJob: number;
  /** `MAX_INPUT_BYTES`: size of a job's `input` as JSON, bytes (default 20 MiB, RunPod's `/runsync` limit). */
  maxInputBytes: number;
  /** `MAX_PIXELS_PER_JOB`: `width × height × batch_size × n_iter`, hires scale included, px (default 16 Mpx = 16 × 1024²). */
  maxPixelsPerJob: number;
  /** `MAX_STEPS`: cap of `steps` (default 150). */
  maxSteps: number;
  /** `MAX_HR_STEPS`: cap of `hr_second_pass_steps` (default 150). */
  maxHrSteps: number;
  /** `MAX_INPUT_IMAGES`: number of input images in one job (`init_images`, `mask`, `image`, `imageList` items; default 16). */
  maxInputImages: number;
  /** `MAX_INPUT_IMAGE_BYTES`: decoded size of one input image, bytes (default 16 MiB). */
  maxInputImageBytes: number;
  /** `MAX_IMAGE_SIDE`: largest width or height of an input image, px (default 8192). */
  maxImageSide: number;
  /** `ALLOW_IMAGE_URLS`: accept http(s) image URLs (public addresses only) instead of base64 (default false: SSRF). */
  allowImageUrls: boolean;
  /**
   * `UNKNOWN_FIELDS`: `refuse` (default) fields the server's request model does not have, naming them with a "did you
   * mean" (A1111 silently ignores them, which hides typos); `warn`: pass them on and log a warning.
   */
  unknownFields?: 'refuse' | 'warn';
}

/** Where images go (issue "Deployable": outputs to S3-compatible storage). */
export interface OutputConfig {
  /**
   * The bucket from `BUCKET_ENDPOINT_URL`, `BUCKET_ACCESS_KEY_ID`, `BUCKET_SECRET_ACCESS_KEY` and `BUCKET_NAME`
   * (RunPod's names; the bucket may instead be the first label of a virtual-hosted endpoint URL), or undefined
   * when they are not all set. Never logged.
   */
  bucket?: { endpointUrl: string; accessKeyId: string; secretAccessKey: string; bucketName?: string; region?: string };
  /**
   * Largest result body (`{"output": …}`) posted to RunPod, bytes: `MAX_RESULT_MB` (MiB) when set, which then
   * applies to every job; else the `/runsync` limit below (used when a per-route limit is absent).
   */
  maxResultBytes: number;
  /**
   * `MAX_RESULT_MB_RUN` (MiB, default 9): the limit for `/run` jobs, under RunPod's 10 MB `/run` payload limit
   * (RunPod docs, serverless/endpoints/operation-reference.mdx). Absent when `MAX_RESULT_MB` is set.
   */
  maxResultBytesRun?: number;
  /**
   * `MAX_RESULT_MB_SYNC` (MiB, default 19): the limit for `/runsync` jobs (ids `sync-…`), under RunPod's 20 MB
   * `/runsync` payload limit (same page). Absent when `MAX_RESULT_MB` is set.
   */
  maxResultBytesSync?: number;
  /**
   * `REFRESH_WORKER` (default false): every result carries `"stopPod": true`, so RunPod replaces the worker after
   * each job (runpod-python's `refresh_worker` config of `runpod.serverless.start`, rp_job.py `handle_job`).
   */
  refreshWorker?: boolean;
  /** `S3_URL_EXPIRES_S`: lifetime of presigned GET URLs, seconds (default 604800 = 7 days, as RunPod's helper). */
  urlExpiresS: number;
  /**
   * `KEEP_OUTPUTS` (default false): keep the files A1111 saves for a job (`save_images: true`, grids, init images);
   * by default they are removed once A1111 answered (jobs/output/files.ts), so the pod's disk does not fill.
   */
  keepOutputs?: boolean;
}

/** Settings of the start-up checks (env vars named as runpod-python names them where it has a name). */
export interface StartupCheckConfig {
  /** `RUNPOD_SKIP_GPU_CHECK` (runpod-python's name): skip the `gpu` check. Default false. */
  skipGpu: boolean;
  /** `RUNPOD_SKIP_AUTO_SYSTEM_CHECKS` (runpod-python's name): skip `memory` and `disk`. Default false. */
  skipSystem: boolean;
  /** `RUNPOD_MIN_MEMORY_GB` (runpod-python's name and default): minimum available memory, GiB. Default 4. */
  minMemoryGb: number;
  /** `RUNPOD_MIN_DISK_PERCENT` (runpod-python's name and default): minimum free share of a folder's filesystem, %. Default 10. */
  minDiskPercent: number;
  /** `MIN_FREE_DISK_GB`: minimum free space in each disk-check folder, GiB. Default 1. */
  minFreeDiskGb: number;
  /**
   * `DISK_CHECK_PATHS` (comma-separated folders), or null for the defaults: A1111's folder (`A1111_DIR`, default
   * `/stable-diffusion-webui`: its `models/`, `outputs/` and caches), the network volume (`A1111_VOLUME`, default
   * `/runpod-volume`) and the temp folder (`os.tmpdir()`), those that exist.
   */
  diskPaths: string[] | null;
  /** `A1111_VOLUME` (as start.sh): the network volume's mount path; its folders are exempt from the % rule. */
  volumePath: string;
  /** `A1111_DIR` (as start.sh): A1111's folder. */
  a1111Dir: string;
  /** GPUs needed: one per A1111 backend (`A1111_URLS`; start.sh runs the i-th A1111 on GPU i). */
  gpusNeeded: number;
}

/** The whole configuration. */
export interface Config {
  mode: Mode;
  args: CliArgs;
  logLevel: RunpodLogLevel;
  /** JSON log lines (true when `RUNPOD_ENDPOINT_ID` is set). */
  logJson: boolean;
  runpod: RunpodConfig;
  resultRetry: ResultRetryConfig;
  a1111: A1111Config;
  limits: LimitsConfig;
  output: OutputConfig;
  /** The start-up checks of platform mode (runpod/checks/startup-checks.ts). */
  startupChecks: StartupCheckConfig;
  /**
   * Local endpoint (`--rp_serve_api`): host and port (`--rp_api_host`, default 127.0.0.1; `--rp_api_port`,
   * default 8000), and `RUNPOD_API_KEY`, which, when set, every public request must carry as `Bearer`.
   */
  api: {
    host: string;
    port: number;
    concurrency: number;
    apiKey: string | undefined;
    /** `LOCAL_ENDPOINT_RETENTION_RUN_MS`: how long a `/run` job's result is kept (default 30 min, as RunPod). */
    retentionRunMs: number;
    /** `LOCAL_ENDPOINT_RETENTION_SYNC_MS`: the same for `/runsync` jobs (default 60 s, as RunPod). */
    retentionSyncMs: number;
    /** `LOCAL_ENDPOINT_WEBHOOK_RETRY_MS`: pause between webhook attempts (default 10 s, as RunPod). */
    webhookRetryDelayMs: number;
  };
}

export { ConfigError } from './errors/index.js';
export { parseArgs, type CliArgs } from './cli-args.js';
export { DEFAULT_WARMUP } from './env-vars.js';

/** `MAX_RESULT_MB` (one limit for every job) or `MAX_RESULT_MB_RUN` / `MAX_RESULT_MB_SYNC`, in bytes (MiB × 1024²). */
function resultLimits(env: Env): Pick<OutputConfig, 'maxResultBytes' | 'maxResultBytesRun' | 'maxResultBytesSync'> {
  const mib = 1024 * 1024;
  if ((env.MAX_RESULT_MB ?? '').trim() !== '') return { maxResultBytes: envInt(env, 'MAX_RESULT_MB', 19, 1, 1000) * mib };
  const run = envInt(env, 'MAX_RESULT_MB_RUN', 9, 1, 1000) * mib;
  const sync = envInt(env, 'MAX_RESULT_MB_SYNC', 19, 1, 1000) * mib;
  return { maxResultBytes: sync, maxResultBytesRun: run, maxResultBytesSync: sync };
}

/**
 * Reads the start-up checks' settings.
 * @param backends how many A1111 backends the worker has (`A1111_URLS`)
 * @throws ConfigError naming the variable, its value and what is allowed (the worker exits 2)
 */
export function loadStartupCheckConfig(env: Env, backends: number): StartupCheckConfig {
  const list = (env.DISK_CHECK_PATHS ?? '').trim();
  const diskPaths = list === '' ? null : list.split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of diskPaths ?? []) {
    if (!path.isAbsolute(p)) throw new ConfigError(`DISK_CHECK_PATHS has ${JSON.stringify(p)}: allowed absolute folder paths, comma-separated`);
  }
  return {
    skipGpu: envBool(env, 'RUNPOD_SKIP_GPU_CHECK', false),
    skipSystem: envBool(env, 'RUNPOD_SKIP_AUTO_SYSTEM_CHECKS', false),
    minMemoryGb: envNumber('RUNPOD_MIN_MEMORY_GB', env.RUNPOD_MIN_MEMORY_GB, 4),
    minDiskPercent: envNumber('RUNPOD_MIN_DISK_PERCENT', env.RUNPOD_MIN_DISK_PERCENT, 10, 100),
    minFreeDiskGb: envNumber('MIN_FREE_DISK_GB', env.MIN_FREE_DISK_GB, 1),
    diskPaths,
    volumePath: (env.A1111_VOLUME ?? '').trim() || '/runpod-volume',
    a1111Dir: (env.A1111_DIR ?? '').trim() || '/stable-diffusion-webui',
    gpusNeeded: Math.max(1, backends),
  };
}

/** `RUNPOD_INIT_TIMEOUT` (see {@link RunpodConfig.initTimeout}); RunPod's default is 7 minutes. */
function initTimeout(env: Env): { seconds: number; fromEnv: boolean } {
  const raw = (env.RUNPOD_INIT_TIMEOUT ?? '').trim();
  return { seconds: /^\d+$/.test(raw) ? Number(raw) : 420, fromEnv: raw !== '' };
}

/**
 * Builds the {@link Config} from CLI arguments and the environment.
 * @param argv arguments after `node main.js`
 * @param env the environment (default `process.env`)
 * @throws ConfigError naming the variable or flag, its value and what is allowed.
 */
export function loadConfig(argv: readonly string[], env: Env = process.env): Config {
  const { args } = parseArgs(argv);
  if (args.test_input !== undefined) {
    try {
      JSON.parse(args.test_input);
    } catch (e) {
      throw new ConfigError(`--test_input is not valid JSON: ${(e as Error).message}`);
    }
  }
  const realtimePort = envInt(env, 'RUNPOD_REALTIME_PORT', 0, 0, 65535);
  let mode: Mode;
  if (args.rp_serve_api) mode = 'serve_api';
  else if (realtimePort !== 0) mode = 'realtime';
  else if (args.test_input || !env.RUNPOD_WEBHOOK_GET_JOB) mode = 'local';
  else mode = 'platform';

  let logLevel: RunpodLogLevel;
  try {
    // runpod-python 1.12's precedence: --rp_log_level, RUNPOD_LOG_LEVEL, RUNPOD_DEBUG_LEVEL, DEBUG (log.ts).
    logLevel = resolveLogLevel(args.rp_log_level, env.RUNPOD_LOG_LEVEL, env.RUNPOD_DEBUG_LEVEL);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const podId = env.RUNPOD_POD_ID;
  const pingRaw = envInt(env, 'RUNPOD_PING_INTERVAL', 10000, 0);
  const a1111ReadyS = envInt(env, 'A1111_READY_TIMEOUT_S', 360, 1);
  const a1111RequestS = envInt(env, 'A1111_REQUEST_TIMEOUT_S', 600, 1);
  const urls = a1111Urls(env);

  return {
    mode,
    args,
    logLevel,
    logJson: Boolean(env.RUNPOD_ENDPOINT_ID),
    runpod: {
      workerId: podId ?? randomUUID(),
      podId,
      podHostname: env.RUNPOD_POD_HOSTNAME || 'unknown',
      apiKey: env.RUNPOD_AI_API_KEY,
      endpointId: env.RUNPOD_ENDPOINT_ID || undefined,
      webhookGetJob: env.RUNPOD_WEBHOOK_GET_JOB || undefined,
      webhookPostOutput: env.RUNPOD_WEBHOOK_POST_OUTPUT || undefined,
      webhookPostStream: env.RUNPOD_WEBHOOK_POST_STREAM || undefined,
      webhookPing: env.RUNPOD_WEBHOOK_PING || undefined,
      pingIntervalMs: Math.max(1000, pingRaw),
      takeAheadMs: envInt(env, 'TAKE_AHEAD_MS', 250, 0, 60_000),
      realtimePort,
      realtimeConcurrency: envInt(env, 'RUNPOD_REALTIME_CONCURRENCY', 1, 1),
      uaIntegration: env.RUNPOD_UA_INTEGRATION || undefined,
      initTimeout: initTimeout(env),
    },
    resultRetry: {
      retries: envInt(env, 'RESULT_POST_RETRIES', 6, 0, 100),
      minDelayMs: envInt(env, 'RESULT_POST_MIN_DELAY_MS', 2000, 1),
      maxDelayMs: envInt(env, 'RESULT_POST_MAX_DELAY_MS', 30000, 1),
      timeoutMs: envInt(env, 'RESULT_POST_TIMEOUT_MS', 60000, 100),
    },
    a1111: {
      url: urls[0]!,
      urls,
      readyTimeoutMs: a1111ReadyS * 1000,
      readyIntervalMs: envInt(env, 'A1111_READY_INTERVAL_MS', 250, 1, 250),
      requestTimeoutMs: a1111RequestS * 1000,
      ...parseApiAuth(env.A1111_API_AUTH),
      warmup: parseWarmup(env.A1111_WARMUP),
      progressIntervalMs: envInt(env, 'PROGRESS_INTERVAL_MS', 1000, 0, 3_600_000),
      previewIntervalMs: envInt(env, 'PREVIEW_INTERVAL_MS', 2000, 100, 3_600_000),
      maxJobTimeoutMs: envInt(env, 'MAX_JOB_TIMEOUT_S', a1111RequestS, 1) * 1000,
      strictNames: envBool(env, 'STRICT_NAMES', false),
      ...(env.A1111_PID ? { pid: envInt(env, 'A1111_PID', 0, 1) } : {}),
      ...((env.A1111_URLS ?? '').trim() !== '' && (env.A1111_URL ?? '').trim() !== '' ? { urlIgnored: true } : {}),
    },
    limits: {
      maxImagesPerJob: envInt(env, 'MAX_IMAGES_PER_JOB', 16, 1, 1000),
      maxInputBytes: envInt(env, 'MAX_INPUT_BYTES', 20 * 1024 * 1024, 1024),
      maxPixelsPerJob: envInt(env, 'MAX_PIXELS_PER_JOB', 16 * 1024 * 1024, 4096),
      maxSteps: envInt(env, 'MAX_STEPS', 150, 1, 10_000),
      maxHrSteps: envInt(env, 'MAX_HR_STEPS', 150, 0, 10_000),
      maxInputImages: envInt(env, 'MAX_INPUT_IMAGES', 16, 0, 1000),
      maxInputImageBytes: envInt(env, 'MAX_INPUT_IMAGE_BYTES', 16 * 1024 * 1024, 1024),
      maxImageSide: envInt(env, 'MAX_IMAGE_SIDE', 8192, 64, 65536),
      allowImageUrls: envBool(env, 'ALLOW_IMAGE_URLS', false),
      unknownFields: envChoice(env, 'UNKNOWN_FIELDS', ['refuse', 'warn'] as const, 'refuse'),
    },
    output: {
      ...parseBucket(env),
      ...resultLimits(env),
      refreshWorker: envBool(env, 'REFRESH_WORKER', false),
      urlExpiresS: envInt(env, 'S3_URL_EXPIRES_S', 604_800, 1, 604_800),
      keepOutputs: envBool(env, 'KEEP_OUTPUTS', false),
    },
    startupChecks: loadStartupCheckConfig(env, urls.length),
    api: {
      host: args.rp_api_host ?? '127.0.0.1',
      port: args.rp_api_port ?? 8000,
      concurrency: args.rp_api_concurrency ?? 1,
      apiKey: env.RUNPOD_API_KEY || undefined,
      retentionRunMs: envInt(env, 'LOCAL_ENDPOINT_RETENTION_RUN_MS', 30 * 60_000, 1),
      retentionSyncMs: envInt(env, 'LOCAL_ENDPOINT_RETENTION_SYNC_MS', 60_000, 1),
      webhookRetryDelayMs: envInt(env, 'LOCAL_ENDPOINT_WEBHOOK_RETRY_MS', 10_000, 0),
    },
  };
}
