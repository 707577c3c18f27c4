/**
 * Uploads a job's images to an S3-compatible bucket and presigns GET URLs for them (the 7-day default lifetime is
 * runpod-python `rp_upload.py`'s; docs/runpod-conventions.md, "S3-compatible upload conventions").
 *
 * - Each image goes to `[<objectPath>/]<job id>/<index>.<ext>` with its sniffed `Content-Type` (object-keys.ts), at
 *   most `concurrency` (4) at a time (`p-map`).
 * - Retries: the SDK's own (standard mode, 3 attempts, as runpod-python's boto3 client), then `p-retry` around each
 *   object on network errors, timeouts, 429 and 5xx. Any other failure, or the last retry's, fails the whole upload
 *   with {@link S3UploadError} (`S3 upload of image 2 to <bucket>/<key> failed: <reason>`), so the job fails with
 *   the reason: never a silent loss. Every message is scrubbed of the credentials.
 *
 * The AWS SDK (~85 ms and ~30 MB to load) is imported on first use, so base64-only workers never load it.
 */
import pMap from 'p-map';
import pRetry, { AbortError } from 'p-retry';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Log } from '../../log.js';
import { S3UploadError } from '../../errors/index.js';
import { plural } from '../format.js';
import type { BucketTarget } from './bucket.js';
import { jobKeyPrefix, objectKey, sniffImage } from './object-keys.js';

/** Default number of uploads of one job running at the same time. */
export const DEFAULT_UPLOAD_CONCURRENCY = 4;

/** Tuning of {@link S3Uploader}. */
export interface S3UploaderOptions {
  /** Uploads of one job at the same time; default {@link DEFAULT_UPLOAD_CONCURRENCY}. */
  concurrency?: number;
  /** Attempts of the SDK's own retry (standard mode) per request; default 3 (as RunPod's boto3 client). */
  sdkAttempts?: number;
  /** p-retry retries around each object after the SDK gave up (network errors, timeouts, 429, 5xx); default 2. */
  retries?: number;
  /** First p-retry delay, ms, doubled each retry; default 500. */
  minDelayMs?: number;
  /** Cap of one p-retry delay, ms; default 5000. */
  maxDelayMs?: number;
  /** Time to open a connection, ms; default 10000. */
  connectTimeoutMs?: number;
  /** Time without data on an open request before it fails, ms; default 60000. */
  requestTimeoutMs?: number;
}

/** One upload: a job's images and where they go. */
export interface UploadRequest {
  target: BucketTarget;
  jobId: string;
  /** Decoded image bytes, in output order; the index in this list is the index in the key. */
  images: readonly Buffer[];
  /** Lifetime of the presigned GET URLs, seconds (at most 604800, SigV4's maximum). */
  expiresS: number;
  /** Aborts the uploads (job stopped). */
  signal?: AbortSignal;
  /** Prepended to the keys (the request's `s3Config.objectPath`, checked by plan.ts `parseObjectPath`). */
  keyPrefix?: string;
}

type SdkModules = {
  s3: typeof import('@aws-sdk/client-s3');
  presigner: typeof import('@aws-sdk/s3-request-presigner');
};

let sdkModules: Promise<SdkModules> | undefined;

/** Loads the AWS SDK once, on first use. */
function loadSdk(): Promise<SdkModules> {
  sdkModules ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/s3-request-presigner')]).then(([s3, presigner]) => ({ s3, presigner }));
  return sdkModules;
}

/** Error details the SDK puts on its errors (service errors have an HTTP status; network errors a code). */
interface SdkErrorLike {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The one-line reason of an SDK or network error, e.g. `InvalidAccessKeyId (HTTP 403): The AWS Access Key Id …`. */
function describeSdkError(e: unknown): { reason: string; retryable: boolean } {
  const err = (e ?? {}) as SdkErrorLike;
  const status = err.$metadata?.httpStatusCode;
  const name = typeof err.name === 'string' && err.name !== '' ? err.name : 'Error';
  const message = (typeof err.message === 'string' ? err.message : String(e)).replace(/\s+/g, ' ').trim();
  const code = typeof err.code === 'string' && !message.includes(err.code) ? ` (${err.code})` : '';
  if (status !== undefined) {
    const unknownMessage = message === '' || message === 'UnknownError';
    return { reason: `${name} (HTTP ${status})${unknownMessage ? '' : `: ${message}`}`, retryable: status >= 500 || status === 429 };
  }
  // No HTTP status: the request did not get an answer (connection refused/reset, DNS, timeout).
  return { reason: `${name === 'Error' ? '' : `${name}: `}${message}${code}`, retryable: true };
}

/**
 * Uploads images to S3-compatible buckets and presigns GET URLs for them. One instance per worker: the client
 * of the env bucket is kept (keep-alive connections); a job's own `s3Config` gets a client for that job only.
 */
export class S3Uploader {
  readonly #opts: Required<S3UploaderOptions>;
  readonly #log: Log;
  #envClient: { target: BucketTarget; client: Promise<S3Client> } | undefined;

  constructor(log: Log, opts: S3UploaderOptions = {}) {
    this.#log = log;
    this.#opts = {
      concurrency: Math.max(1, opts.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY),
      sdkAttempts: Math.max(1, opts.sdkAttempts ?? 3),
      retries: Math.max(0, opts.retries ?? 2),
      minDelayMs: opts.minDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 5000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
    };
  }

  async #createClient(target: BucketTarget): Promise<S3Client> {
    const { s3 } = await loadSdk();
    return new s3.S3Client({
      endpoint: target.endpoint,
      region: target.region,
      forcePathStyle: target.forcePathStyle,
      credentials: target.credentials(),
      maxAttempts: this.#opts.sdkAttempts,
      retryMode: 'standard',
      // Checksums only where S3 requires them: several S3-compatible stores refuse the SDK's newer default ones.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: this.#opts.connectTimeoutMs, requestTimeout: this.#opts.requestTimeoutMs },
    });
  }

  /** The client of a target: the kept one for the env bucket, a new one otherwise (`owned`: destroy it after). */
  async #client(target: BucketTarget): Promise<{ client: S3Client; owned: boolean }> {
    if (target.source === 'env') {
      if (this.#envClient?.target !== target) this.#envClient = { target, client: this.#createClient(target) };
      return { client: await this.#envClient.client, owned: false };
    }
    return { client: await this.#createClient(target), owned: true };
  }

  /**
   * Uploads `images` to `<target bucket>/<job id>/<index>.<ext>` with their sniffed `Content-Type`, at most
   * `concurrency` at a time, and returns one presigned GET URL per image (same order).
   * @throws S3UploadError `S3 upload of image <i> to <bucket>/<key> failed: <reason>` for the first image that
   *   failed for good (the others are then stopped); the reason never contains the credentials.
   * @throws the signal's reason when `signal` was aborted.
   */
  async uploadImages(req: UploadRequest): Promise<string[]> {
    const { target, jobId, images } = req;
    if (images.length === 0) return [];
    const { s3, presigner } = await loadSdk();
    const { client, owned } = await this.#client(target);
    // The first image that fails for good stops the others (their requests are aborted).
    const stop = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, stop.signal]) : stop.signal;
    const started = performance.now();
    let failure: S3UploadError | undefined;
    const uploadOne = async (body: Buffer, index: number): Promise<string | undefined> => {
      if (signal.aborted) return undefined;
      const kind = sniffImage(body);
      const key = objectKey(jobId, index, kind.ext, req.keyPrefix);
      let attempts = 0;
      /** The last attempt's reason, credentials removed. */
      let reason: string | undefined;
      try {
        await pRetry(
          async (attempt) => {
            attempts = attempt;
            try {
              await client.send(new s3.PutObjectCommand({ Bucket: target.bucket, Key: key, Body: body, ContentType: kind.contentType, ContentLength: body.length }), { abortSignal: signal });
            } catch (e) {
              if (signal.aborted) throw new AbortError('aborted');
              const described = describeSdkError(e);
              reason = target.redact(described.reason);
              // AbortError: p-retry gives up at once (a refusal such as a wrong key is not retried).
              throw described.retryable ? new Error(reason) : new AbortError(reason);
            }
          },
          {
            retries: this.#opts.retries,
            factor: 2,
            minTimeout: this.#opts.minDelayMs,
            maxTimeout: this.#opts.maxDelayMs,
            signal,
            onFailedAttempt: ({ attemptNumber, retriesLeft }) => {
              if (retriesLeft > 0) this.#log.warn(`S3 upload of image ${index} to ${target.bucket}/${key} failed (attempt ${attemptNumber}, ${retriesLeft} retries left): ${reason}`, jobId);
            },
          },
        );
      } catch (e) {
        if (signal.aborted) return undefined;
        reason ??= target.redact(describeSdkError(e).reason);
        failure ??= new S3UploadError(`S3 upload of image ${index} to ${target.bucket}/${key} failed: ${reason}${attempts > 1 ? ` (${plural(attempts, 'attempt')})` : ''}`);
        stop.abort();
        return undefined;
      }
      return presigner.getSignedUrl(client, new s3.GetObjectCommand({ Bucket: target.bucket, Key: key }), { expiresIn: req.expiresS });
    };
    let urls: Array<string | undefined>;
    try {
      urls = await pMap(images, uploadOne, { concurrency: this.#opts.concurrency });
    } finally {
      if (owned) client.destroy();
    }
    req.signal?.throwIfAborted();
    if (failure) throw failure;
    const bytes = images.reduce((n, b) => n + b.length, 0);
    this.#log.info(
      `Uploaded ${plural(images.length, 'image')} (${bytes} bytes) to ${target.bucket}/${jobKeyPrefix(jobId)}/ (${target.source === 'env' ? 'BUCKET_*' : 's3Config'}) in ${Math.round(performance.now() - started)} ms`,
      jobId,
    );
    return urls as string[];
  }

  /** Closes the kept client of the env bucket (its keep-alive sockets). */
  async close(): Promise<void> {
    const kept = this.#envClient;
    this.#envClient = undefined;
    if (kept) (await kept.client).destroy();
  }
}
