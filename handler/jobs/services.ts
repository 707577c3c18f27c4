/**
 * What the job handler keeps from one job to the next: the backend pool, A1111's name lists and request models
 * (cached), the output stage (the endpoint's bucket, the uploader) and the output-file cleaner, built once from
 * {@link A1111HandlerOptions}.
 */
import type { LimitsConfig, OutputConfig } from '../config.js';
import type { Log } from '../log.js';
import type { A1111Client } from '../a1111/client.js';
import { A1111Lists } from '../a1111/lists.js';
import { bundledModel } from '../a1111/openapi.js';
import { A1111Pool } from '../a1111/pool.js';
import type { ServerModel } from '../a1111/server-model.js';
import { ServerModels } from '../a1111/server-models.js';
import type { HostLookup } from './images/images.js';
import { OutputFiles } from './output/files.js';
import { OutputStage } from './output/output.js';
import type { S3UploaderOptions } from './output/s3.js';

/** What {@link createJobServices} (and so `createA1111Handler`) needs. */
export interface A1111HandlerOptions {
  /**
   * The A1111 backends: a pool (each job runs on its least-busy ready backend, progress and interrupt go there),
   * or one client (a pool of one, without health management).
   */
  client: A1111Client | A1111Pool;
  limits: LimitsConfig;
  log: Log;
  /** Resolves image URL hosts (only with `limits.allowImageUrls`); default the system resolver. Tests inject one. */
  lookup?: HostLookup;
  /** A1111's name lists (cached); default a new cache on `client`. */
  lists?: A1111Lists;
  /**
   * Where outputs go and how large they may be (`cfg.output`: `BUCKET_*`, `MAX_RESULT_MB`, `S3_URL_EXPIRES_S`).
   * Default: no endpoint bucket (jobs may still bring `s3Config`), 19 MiB, URLs valid 7 days.
   */
  output?: OutputConfig;
  /** Tuning of the S3 uploads (concurrency, retries, timeouts); tests shorten the retry delays. */
  s3?: S3UploaderOptions;
  /** The backends' request models (read from their `GET /openapi.json`); default a new cache. */
  models?: ServerModels;
  /** Removes the files A1111 saves for a job (`KEEP_OUTPUTS`, output/files.ts); default one from `output.keepOutputs`. */
  outputFiles?: OutputFiles;
}

/** The output settings used when {@link A1111HandlerOptions.output} is not given. */
export const DEFAULT_OUTPUT_CONFIG: OutputConfig = Object.freeze({ maxResultBytes: 19 * 1024 * 1024, urlExpiresS: 604_800 });

/** The handler's state shared by its jobs. */
export interface JobServices {
  readonly pool: A1111Pool;
  readonly lists: A1111Lists;
  readonly models: ServerModels;
  readonly limits: LimitsConfig;
  readonly log: Log;
  readonly lookup: HostLookup | undefined;
  /** `REFRESH_WORKER`: every result (FAILED ones included) carries `stopPod`. */
  readonly refreshWorker: boolean;
  /** Where a job's images go, and its output from A1111's answer (output/stage.ts). */
  readonly outputStage: OutputStage;
  readonly outputFiles: OutputFiles;
  /** The model a job is checked against: the ready backends' (common) model; the bundled one while none is ready. */
  modelForJob(): Promise<ServerModel>;
}

/**
 * Builds the handler's shared state (the output stage logs where outputs go, or why the endpoint's bucket is
 * unusable), and keeps each backend's request model fresh: read as soon as the backend is ready, again after a refresh-* job, and again
 * when a backend that went down is back (it may have restarted with other extensions).
 */
export function createJobServices(opts: A1111HandlerOptions): JobServices {
  const { log } = opts;
  const pool = opts.client instanceof A1111Pool ? opts.client : A1111Pool.fromClient(opts.client, log);
  const lists = opts.lists ?? new A1111Lists(pool.caller, log);
  const output = opts.output ?? DEFAULT_OUTPUT_CONFIG;
  const outputStage = new OutputStage({ output, log, ...(opts.s3 ? { s3: opts.s3 } : {}) });
  const models = opts.models ?? new ServerModels(log);
  const outputFiles = opts.outputFiles ?? new OutputFiles({ keep: output.keepOutputs === true, log });
  const prefetch = () => {
    for (const b of pool.backends) {
      if (b.state === 'ready') models.of(b).catch(() => undefined);
      else models.invalidate(b.url);
    }
  };
  pool.onChange(prefetch);
  prefetch();
  return {
    pool,
    lists,
    models,
    limits: opts.limits,
    log,
    lookup: opts.lookup,
    refreshWorker: output.refreshWorker === true,
    outputStage,
    outputFiles,
    modelForJob: () => {
      const ready = pool.backends.filter((b) => b.state === 'ready');
      return ready.length ? models.forJobs(ready) : Promise.resolve(bundledModel());
    },
  };
}
