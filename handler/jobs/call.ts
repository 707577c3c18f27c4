/**
 * The A1111 call of a checked job: the least-busy ready backend is leased, the payload posted unchanged, and, while
 * a generation runs, A1111's `/progress` relayed as progress updates and live previews as stream chunks.
 */
import { A1111Error } from '../errors/index.js';
import type { Log } from '../log.js';
import type { A1111Client } from '../a1111/client.js';
import type { Lease } from '../a1111/pool.js';
import { startProgressWatch, type ProgressReport } from '../a1111/progress.js';
import type { A1111Request } from './dialects/index.js';
import type { A1111Answer } from './output/output.js';
import type { JobOptions } from './input/envelope.js';
import type { RouteSpec } from './input/routes.js';
import type { JobContext } from './job.js';
import type { JobServices } from './services.js';

/**
 * Largest preview sent as a stream chunk, base64 characters: RunPod's stream chunks are at most 1 MB
 * (docs/runpod-protocol.md, "Streaming (generator handlers)").
 */
const MAX_PREVIEW_CHARS = 1_000_000;

/**
 * First progress poll of a job whose runtime wants its end's estimate (take-ahead), ms, doubling until sampling has
 * begun: a fast model's generation (LCM, Turbo: 0.3–1 s) must be seen well before its end.
 */
export const ETA_POLL_MS = 50;

/**
 * Leases the least-busy ready backend for a job. A refresh-* job makes the cached lists and request models stale:
 * they are dropped here, as the job goes to A1111.
 * @throws A1111Error `unreachable` when no backend is ready (`A1111 unreachable: no backend ready (<url> <state>, …)`)
 */
export function leaseBackend(route: RouteSpec, s: JobServices): Lease {
  if (route.name.startsWith('refresh-')) {
    s.lists.invalidate();
    s.models.invalidate();
  }
  const lease = s.pool.acquire();
  if (lease) return lease;
  const states = s.pool.backends.map((b) => `${b.url} ${b.state}`).join(', ') || 'none registered';
  throw new A1111Error(`A1111 unreachable: no backend ready (${states})`, 'unreachable', null, route.method, route.path);
}

/**
 * Calls A1111 on the leased backend and gives the lease back as soon as A1111 has answered. The files A1111 may
 * save for the job (`save_images`, grids, init images) are removed in the background afterwards (output/files.ts).
 * @throws A1111Error as `A1111Client.call`
 */
export async function callA1111(request: A1111Request, lease: Lease, jobId: string, ctx: JobContext, s: JobServices): Promise<A1111Answer> {
  const { route, payload } = request;
  const files = s.outputFiles.mayWrite(route, payload, lease.backend.url) ? await s.outputFiles.begin(jobId, lease.backend) : undefined;
  try {
    return await callWithProgress(lease.client, route, payload, request.options, jobId, ctx, s.log);
  } finally {
    lease.release();
    // The backend is free: a held job starts on it while this one's output is shaped and posted.
    ctx.slotDone?.();
    if (files) void s.outputFiles.end(files);
  }
}

/**
 * Calls A1111 for a job. While a generation runs, polls `/progress` every `PROGRESS_INTERVAL_MS` and sends
 * `{progress, eta_relative, step, steps, job_no, job_count}` updates; with `preview`, streams live previews
 * (`{"preview": <base64>, step, steps, …}` chunks) at most once per `PREVIEW_INTERVAL_MS`. A job's `timeout_s`
 * (capped by `MAX_JOB_TIMEOUT_S`) replaces `A1111_REQUEST_TIMEOUT_S` for this call.
 * @throws A1111Error as `A1111Client.call`
 */
async function callWithProgress(
  client: A1111Client,
  route: RouteSpec,
  payload: unknown,
  options: JobOptions,
  jobId: string,
  ctx: JobContext,
  log: Log,
): Promise<A1111Answer> {
  const cfg = client.config;
  const timeout =
    options.timeoutS !== undefined
      ? { timeoutMs: Math.min(Math.round(options.timeoutS * 1000), cfg.maxJobTimeoutMs), timeoutName: options.timeoutS * 1000 > cfg.maxJobTimeoutMs ? 'timeout_s, capped by MAX_JOB_TIMEOUT_S' : 'timeout_s' }
      : {};
  const body = route.method === 'POST' ? (payload ?? {}) : undefined;
  if (!route.generates || cfg.progressIntervalMs <= 0) return client.call(route.method, route.path, body, { signal: ctx.signal, ...timeout });
  let streams: Promise<void> = Promise.resolve();
  const watch = startProgressWatch(client, {
    intervalMs: cfg.progressIntervalMs,
    ...(ctx.endsIn ? { etaPollMs: ETA_POLL_MS } : {}),
    signal: ctx.signal,
    log,
    jobId,
    onProgress: (report) => {
      ctx.progress(report);
      // Sampling has begun (progress > 0): eta_relative estimates the rest (docs/a1111-api.md, `/sdapi/v1/progress`).
      if (report.progress > 0) ctx.endsIn?.(report.eta_relative * 1000);
    },
    ...(options.preview
      ? {
          preview: {
            intervalMs: cfg.previewIntervalMs,
            onPreview: (image: string, report: ProgressReport) => {
              if (image.length > MAX_PREVIEW_CHARS) return;
              streams = streams.then(() => ctx.stream({ preview: image, ...report }));
            },
          },
        }
      : {}),
  });
  try {
    return await client.call(route.method, route.path, body, { signal: ctx.signal, ...timeout });
  } finally {
    await watch.stop();
    await streams;
  }
}
