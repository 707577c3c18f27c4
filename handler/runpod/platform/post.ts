/**
 * HTTP to the RunPod platform (docs/runpod-protocol.md, "HTTP client conventions (all worker→platform traffic)"): one keep-alive axios instance with the raw-key
 * `Authorization`, and result posts (job-done, job-stream) retried with p-retry.
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import https from 'node:https';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import pRetry from 'p-retry';
import type { ResultRetryConfig } from '../../config.js';
import type { Log } from '../../log.js';
import { ResultPostError } from '../../errors/index.js';
import type { PostOutcome } from './platform.js';

/**
 * Creates the platform client: `Authorization: <key>` (raw, no `Bearer`, docs/runpod-protocol.md, "aiohttp session (job-take, job-done, job-stream, job-stop, progress)"), the User-Agent,
 * keep-alive agents, no status validation (callers read the status), bodies returned as text.
 */
export function createPlatformClient(apiKey: string | undefined, ua: string): AxiosInstance {
  const headers: Record<string, string> = { 'User-Agent': ua, 'Accept-Encoding': 'gzip, deflate' };
  if (apiKey !== undefined) headers.Authorization = apiKey;
  return axios.create({
    headers,
    httpAgent: new http.Agent({ keepAlive: true }),
    httpsAgent: new https.Agent({ keepAlive: true }),
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: (d: unknown) => d,
    maxBodyLength: Infinity,
    maxContentLength: Infinity,
    // Never let axios read proxy settings from the environment: platform traffic goes where the URL says.
    proxy: false,
    // No redirects: axios would route every request through follow-redirects, which keeps a copy of each
    // request body for replays (20 MB results twice in memory). The platform does not redirect these calls.
    maxRedirects: 0,
  });
}

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
  client: AxiosInstance,
  url: string,
  jobId: string,
  body: Buffer | readonly Buffer[],
  retry: ResultRetryConfig,
  log: Log,
  what = 'job result',
): Promise<PostOutcome> {
  let attempts = 0;
  const parts = Buffer.isBuffer(body) ? [body] : body;
  const length = parts.reduce((n, p) => n + p.length, 0);
  try {
    await pRetry(
      async () => {
        attempts++;
        let status: number;
        try {
          const data = parts.length === 1 ? parts[0] : Readable.from(parts, { objectMode: false });
          const res = await client.post(url, data, {
            headers: {
              'Content-Type': 'application/x-www-form-urlencoded',
              'Content-Length': String(length),
              charset: 'utf-8',
              'X-Request-ID': jobId,
            },
            timeout: retry.timeoutMs,
            transformRequest: (d: unknown) => d,
          });
          status = res.status;
        } catch (e) {
          const ax = e as AxiosError;
          throw new ResultPostError(`${ax.code ?? 'ERROR'}: ${ax.message}`, null);
        }
        if (status < 200 || status >= 300) throw new ResultPostError(`HTTP ${status}`, status);
      },
      {
        retries: retry.retries,
        factor: 2,
        minTimeout: retry.minDelayMs,
        maxTimeout: retry.maxDelayMs,
        shouldRetry: ({ error }) => isRetryablePostError(error),
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          log.warn(`Failed to post ${what} (attempt ${attemptNumber}, ${retriesLeft} retries left): ${error.message}`, jobId);
        },
      },
    );
    return { ok: true, attempts };
  } catch (e) {
    const msg = (e as Error).message;
    log.error(`Failed to return ${what} of job ${jobId}; giving up after ${attempts} attempt(s): ${msg}.`, jobId);
    return { ok: false, attempts, error: msg, status: e instanceof ResultPostError ? e.status : null };
  }
}
