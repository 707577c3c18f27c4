/**
 * Result posts to the RunPod platform (job-done, job-stream, progress updates) through the worker's
 * {@link PlatformClient}, retried on p-retry's schedule (`../retry.ts`).
 */
import type { ResultRetryConfig } from '../../config.js';
import type { Log } from '../../log.js';
import { ResultPostError } from '../../errors/index.js';
import { firstThenRetry } from '../retry.js';
import type { PostOutcome } from './platform.js';
import { WireError, type PlatformClient } from './wire.js';

/** RunPod's headers of a result post (runpod-python `rp_http.py` `_transmit`). */
const POST_HEADERS = (jobId: string): Record<string, string> => ({
  'content-type': 'application/x-www-form-urlencoded',
  charset: 'utf-8',
  'x-request-id': jobId,
});

/** True for failures worth retrying: transport errors (no response), HTTP 429 and 5xx. */
export function isRetryablePostError(err: unknown): boolean {
  if (err instanceof ResultPostError) return err.status === null || err.status === 429 || err.status >= 500;
  return true;
}

/**
 * POSTs a serialised result to a job-done or job-stream URL with RunPod's headers (docs/runpod-protocol.md, "Result reporting (job-done)"):
 * `Content-Type: application/x-www-form-urlencoded`, `charset: utf-8`, `X-Request-ID: <job id>`.
 * Retries transport errors, 429 and 5xx with exponential backoff (`retry`: by default 6 retries,
 * 2 s doubling to a 30 s cap, 90 s in all — a deliberate improvement over the SDK's 3 attempts on 5xx only, docs/runpod-protocol.md, "Result reporting (job-done)");
 * any other status fails at once. A body given as chunks is streamed (with its `Content-Length`), never joined.
 * Never throws: a give-up is logged at ERROR with the job id and returned (with the last status); the caller
 * decides whether the result is lost (a refused job result gets one FAILED fallback first, see `worker/run-job.ts`).
 */
export async function postResult(
  client: PlatformClient,
  url: string,
  jobId: string,
  body: Buffer | readonly Buffer[],
  retry: ResultRetryConfig,
  log: Log,
  what = 'job result',
): Promise<PostOutcome> {
  let attempts = 0;
  const parts = Buffer.isBuffer(body) ? [body] : body;
  const attempt = async (): Promise<void> => {
    attempts++;
    let status: number;
    try {
      status = await client.post(url, parts, POST_HEADERS(jobId), retry.timeoutMs);
    } catch (e) {
      const code = e instanceof WireError ? e.code : 'ERROR';
      throw new ResultPostError(`${code}: ${(e as Error).message}`, null);
    }
    if (status < 200 || status >= 300) throw new ResultPostError(`HTTP ${status}`, status);
  };
  try {
    await firstThenRetry(attempt, {
      retries: retry.retries,
      minDelayMs: retry.minDelayMs,
      maxDelayMs: retry.maxDelayMs,
      shouldRetry: isRetryablePostError,
      onFailedAttempt: (error, attemptNumber, retriesLeft) =>
        log.warn(`Failed to post ${what} (attempt ${attemptNumber}, ${retriesLeft} retries left): ${(error as Error).message}`, jobId),
    });
    return { ok: true, attempts };
  } catch (e) {
    const msg = (e as Error).message;
    log.error(`Failed to return ${what} of job ${jobId}; giving up after ${attempts} attempt(s): ${msg}.`, jobId);
    return { ok: false, attempts, error: msg, status: e instanceof ResultPostError ? e.status : null };
  }
}
