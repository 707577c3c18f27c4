/**
 * Outputs to S3-compatible storage (issue "Deployable", item 3; conventions spec §6, protocol spec §4.4, §16).
 *
 * - **Where**: the endpoint's `BUCKET_*` variables (RunPod's names, read by `config.ts`) or a job's own
 *   `s3Config: {accessId, accessSecret, bucketName, endpointUrl}` (RunPod passes it next to `id`/`input`).
 *   {@link resolveBucket} turns either into a {@link BucketTarget}: the bucket is `BUCKET_NAME` /
 *   `s3Config.bucketName`, else the one path segment of a path-style endpoint (`http://host:9000/<bucket>`), else
 *   the first label of a virtual-hosted endpoint (`https://<bucket>.s3.<region>.amazonaws.com`, which is then
 *   dropped from the endpoint); the region is `BUCKET_REGION`, else parsed from the host (`.s3.<region>.`,
 *   `s3-<region>.`, `<region>.digitaloceanspaces.com`, `<region>.linodeobjects.com`, R2 → `auto`), else
 *   `us-east-1`. Requests use path-style addressing (`<endpoint>/<bucket>/<key>`, `forcePathStyle`) except on
 *   `*.amazonaws.com`, where virtual-hosted addressing is used as AWS recommends.
 * - **What**: {@link S3Uploader.uploadImages} puts each image at `<job id>/<index>.<ext>` (`.png`, or `.jpg` /
 *   `.webp` when the bytes are JPEG / WebP, with the matching `Content-Type`), at most `concurrency` (4) at a time,
 *   and returns presigned GET URLs (default lifetime 7 days, RunPod's `rp_upload`).
 * - **Retries**: the SDK's own (standard mode, 3 attempts), then p-retry around each object on network errors,
 *   timeouts, 429 and 5xx. Any other failure, or the last retry's, fails the whole upload with
 *   {@link S3UploadError} (`S3 upload of image 2 to <bucket>/<key> failed: <reason>`), so the job fails with
 *   the reason: never a silent loss.
 * - **Secrets**: credentials live in a private field of {@link BucketTarget} (not printed by `console.log`,
 *   `util.inspect` or `JSON.stringify`), and every message is scrubbed of them.
 *
 * The AWS SDK (~85 ms and ~30 MB to load) is imported on first use, so base64-only workers never load it.
 */
import net from 'node:net';
import pRetry, { AbortError } from 'p-retry';
import type { S3Client } from '@aws-sdk/client-s3';
import type { OutputConfig } from '../../config.js';
import type { Log } from '../../log.js';
import { JobInputError } from '../../errors/index.js';
import { plural } from '../format.js';
import { BucketConfigError, S3UploadError } from '../../errors/index.js';

/** Settings of one bucket, as `config.ts` reads them from `BUCKET_*` (the shape of `OutputConfig.bucket`). */
export type BucketSettings = NonNullable<OutputConfig['bucket']>;

/** Where a bucket's settings came from; it decides the names used in messages. */
export type BucketSource = 'env' | 'job';

/** Region used when neither `BUCKET_REGION` nor the endpoint's host gives one (AWS's and MinIO's default). */
export const DEFAULT_REGION = 'us-east-1';

/** Default number of uploads of one job running at the same time. */
export const DEFAULT_UPLOAD_CONCURRENCY = 4;

const FIELD_NAMES: Record<BucketSource, { endpoint: string; bucket: string }> = {
  env: { endpoint: 'BUCKET_ENDPOINT_URL', bucket: 'BUCKET_NAME' },
  job: { endpoint: 's3Config.endpointUrl', bucket: 's3Config.bucketName' },
};

/**
 * A resolved bucket: endpoint (scheme, host, port; no path), bucket name, region and addressing style. The
 * credentials are kept in a private field: they do not show in logs, `util.inspect` or `JSON.stringify`.
 */
export class BucketTarget {
  readonly #credentials: { accessKeyId: string; secretAccessKey: string };

  constructor(
    /** The S3 service endpoint, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`. */
    readonly endpoint: string,
    /** The bucket name. */
    readonly bucket: string,
    /** The SigV4 signing region. */
    readonly region: string,
    /** True: `<endpoint>/<bucket>/<key>` (custom endpoints); false: `<bucket>.<host>/<key>` (`*.amazonaws.com`). */
    readonly forcePathStyle: boolean,
    /** `env` (`BUCKET_*`) or `job` (the job's `s3Config`). */
    readonly source: BucketSource,
    credentials: { accessKeyId: string; secretAccessKey: string },
  ) {
    this.#credentials = { ...credentials };
  }

  /** The access key id and secret, for the S3 client only. */
  credentials(): { accessKeyId: string; secretAccessKey: string } {
    return { ...this.#credentials };
  }

  /** Replaces the credentials wherever they appear in `text` by `[REDACTED]`. */
  redact(text: string): string {
    let out = text;
    for (const secret of [this.#credentials.secretAccessKey, this.#credentials.accessKeyId]) {
      if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
    }
    return out;
  }

  /** A description without credentials, e.g. `bucket "outputs" at http://127.0.0.1:9000 (path-style, us-east-1)`. */
  toString(): string {
    return `bucket ${JSON.stringify(this.bucket)} at ${this.endpoint} (${this.forcePathStyle ? 'path-style' : 'virtual-hosted'}, ${this.region})`;
  }

  /** `JSON.stringify` shows the description, never the credentials. */
  toJSON(): string {
    return this.toString();
  }
}

/**
 * Splits a virtual-hosted S3 host name into its bucket (first label) and the service host, when the rest of
 * the name is a known S3 service host: `s3.…` / `s3-…` (AWS, Wasabi, Backblaze B2, Scaleway…),
 * `<region>.digitaloceanspaces.com`, `<region>.linodeobjects.com` or `<account>.r2.cloudflarestorage.com`.
 * @returns undefined for IP addresses and host names that are not virtual-hosted.
 */
export function splitVirtualHost(hostname: string): { bucket: string; serviceHost: string } | undefined {
  const host = hostname.toLowerCase();
  if (net.isIP(host.replace(/^\[|\]$/g, '')) !== 0) return undefined;
  const dot = host.indexOf('.');
  if (dot <= 0) return undefined;
  const bucket = host.slice(0, dot);
  const rest = host.slice(dot + 1);
  const known =
    (/^s3[.-]/.test(rest) && rest.split('.').length >= 3) ||
    /^[a-z0-9-]+\.digitaloceanspaces\.com$/.test(rest) ||
    /^[a-z0-9-]+\.linodeobjects\.com$/.test(rest) ||
    /^[a-z0-9]+\.r2\.cloudflarestorage\.com$/.test(rest);
  return known ? { bucket, serviceHost: rest } : undefined;
}

/**
 * The signing region a service host names, as RunPod's `rp_upload` parses it (spec §16), or undefined:
 * `s3.<region>.…` (also `s3.dualstack.<region>.…`), `s3-<region>.amazonaws.com`, `<region>.digitaloceanspaces.com`,
 * `<region>.linodeobjects.com`; `auto` for Cloudflare R2; `us-east-1` for `s3.amazonaws.com` and
 * `s3-external-1.amazonaws.com`. A label right before the registered domain's last label is not a region
 * (`s3.wasabisys.com` names none).
 */
export function regionFromHost(hostname: string): string | undefined {
  const labels = hostname.toLowerCase().split('.');
  if (labels.length < 2) return undefined;
  const host = labels.join('.');
  if (host === 's3.amazonaws.com' || host === 's3-external-1.amazonaws.com') return 'us-east-1';
  if (host.endsWith('.r2.cloudflarestorage.com')) return 'auto';
  const regional = /^(?:[^.]+\.)*?([a-z0-9-]+)\.(?:digitaloceanspaces|linodeobjects)\.com$/.exec(host);
  if (regional) return regional[1];
  for (let i = 0; i < labels.length - 2; i++) {
    const label = labels[i]!;
    if (label === 's3') {
      let j = i + 1;
      if (labels[j] === 'dualstack') j++;
      // The region label must not be the registered domain (the label before the last one).
      if (j < labels.length - 2) return labels[j];
      return undefined;
    }
    const dash = /^s3-(.+)$/.exec(label);
    if (dash && dash[1] !== 'accelerate' && dash[1] !== 'website') return dash[1] === 'external-1' ? 'us-east-1' : dash[1];
  }
  return undefined;
}

/**
 * Resolves a bucket's settings (from `BUCKET_*` or a job's `s3Config`) into a {@link BucketTarget}; see the
 * module comment for the rules.
 * @param settings endpoint URL, credentials, optional bucket name and region.
 * @param source `env` or `job`: only changes the names used in messages.
 * @throws BucketConfigError naming the variable or field: not an http(s) URL, `user:password@`, a query or a
 *   fragment in the URL, a path deeper than `/<bucket>`, a path naming another bucket than `BUCKET_NAME`, or no
 *   bucket name at all. (A virtual-hosted label other than `BUCKET_NAME` is not an error: the host is then taken
 *   as the service host, e.g. a custom `files.s3.example.com`.)
 *   Messages never contain the credentials.
 */
export function resolveBucket(settings: BucketSettings, source: BucketSource): BucketTarget {
  const names = FIELD_NAMES[source];
  let url: URL;
  try {
    url = new URL(settings.endpointUrl.trim());
  } catch {
    throw new BucketConfigError(`${names.endpoint} is not a URL (allowed: http(s)://host[:port][/bucket])`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BucketConfigError(`${names.endpoint} must be an http:// or https:// URL, got a ${JSON.stringify(url.protocol)} URL`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new BucketConfigError(`${names.endpoint} must not contain user:password@ (the credentials go in their own ${source === 'env' ? 'variables' : 'fields'}; the value is not shown)`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new BucketConfigError(`${names.endpoint} must not have a query or a fragment (allowed: http(s)://host[:port][/bucket])`);
  }
  const segments = url.pathname.split('/').filter((s) => s !== '');
  if (segments.length > 1) {
    throw new BucketConfigError(`${names.endpoint} has the path ${JSON.stringify(url.pathname)}: only a bucket name is allowed there (http(s)://host[:port]/<bucket>)`);
  }
  let pathBucket: string | undefined;
  if (segments.length === 1) {
    try {
      pathBucket = decodeURIComponent(segments[0]!);
    } catch {
      throw new BucketConfigError(`${names.endpoint} has an invalid %-escape in its path`);
    }
  }
  const named = settings.bucketName?.trim() || undefined;
  if (named !== undefined && pathBucket !== undefined && named !== pathBucket) {
    throw new BucketConfigError(`${names.endpoint} and ${names.bucket} name different buckets (${JSON.stringify(pathBucket)} and ${JSON.stringify(named)})`);
  }
  // A virtual-hosted name (<bucket>.s3.<region>.amazonaws.com…) gives the bucket unless another name is given:
  // then the host is taken as the service host itself (e.g. a custom "files.s3.example.com").
  let host = url.hostname;
  let hostBucket: string | undefined;
  const vhost = pathBucket === undefined ? splitVirtualHost(url.hostname) : undefined;
  if (vhost && (named === undefined || named === vhost.bucket)) {
    hostBucket = vhost.bucket;
    host = vhost.serviceHost;
  }
  const bucket = named ?? pathBucket ?? hostBucket;
  if (bucket === undefined) {
    throw new BucketConfigError(
      `no bucket name: set ${names.bucket}, or put the bucket in ${names.endpoint} (virtual-hosted https://<bucket>.s3.<region>.amazonaws.com, or path-style http(s)://host[:port]/<bucket>)`,
    );
  }
  if (bucket.includes('/')) throw new BucketConfigError(`${names.bucket} must not contain "/"`);
  const endpoint = `${url.protocol}//${host}${url.port ? `:${url.port}` : ''}`;
  const region = settings.region?.trim() || regionFromHost(host) || DEFAULT_REGION;
  const aws = host.toLowerCase().endsWith('.amazonaws.com');
  return new BucketTarget(endpoint, bucket, region, !aws, source, { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey });
}

/**
 * Reads a job's RunPod `s3Config` (protocol spec §4.4, §17: `{accessId, accessSecret, bucketName, endpointUrl}`).
 * `accessId`, `accessSecret` and `endpointUrl` are required non-empty strings; `bucketName` is an optional
 * string (else the bucket comes from the URL). Other keys are ignored (RunPod may add some, e.g. `objectPath`).
 * @returns the settings, or undefined when `value` is undefined or null (no per-job bucket).
 * @throws JobInputError naming the field (values are never shown: they may be secrets).
 */
export function parseJobS3Config(value: unknown): BucketSettings | undefined {
  if (value === undefined || value === null) return undefined;
  const shape = '{"accessId", "accessSecret", "bucketName", "endpointUrl"}';
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new JobInputError(`s3Config must be an object ${shape}, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const obj = value as Record<string, unknown>;
  const need = (key: string): string => {
    const v = Object.hasOwn(obj, key) ? obj[key] : undefined;
    if (typeof v !== 'string' || v.trim() === '') {
      throw new JobInputError(`s3Config.${key} must be a non-empty string (s3Config is ${shape}; values are not shown)`);
    }
    return v;
  };
  const accessKeyId = need('accessId');
  const secretAccessKey = need('accessSecret');
  const endpointUrl = need('endpointUrl');
  const b = Object.hasOwn(obj, 'bucketName') ? obj.bucketName : undefined;
  if (b !== undefined && b !== null && typeof b !== 'string') {
    throw new JobInputError(`s3Config.bucketName must be a string, got ${typeof b}`);
  }
  const bucketName = typeof b === 'string' && b.trim() !== '' ? b.trim() : undefined;
  return { endpointUrl, accessKeyId, secretAccessKey, ...(bucketName ? { bucketName } : {}) };
}

/** An image's file extension and MIME type, from its first bytes. */
export interface ImageKind {
  /** `png`, `jpg`, `webp`, or `bin` when the bytes are none of these. */
  ext: 'png' | 'jpg' | 'webp' | 'bin';
  /** `image/png`, `image/jpeg`, `image/webp` or `application/octet-stream`. */
  contentType: string;
}

/** Sniffs PNG / JPEG / WebP by their magic bytes (A1111's `samples_format` decides what it sends). */
export function sniffImage(bytes: Uint8Array): ImageKind {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) {
    return { ext: 'png', contentType: 'image/png' };
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { ext: 'jpg', contentType: 'image/jpeg' };
  if (b.length >= 12 && Buffer.from(b.subarray(0, 4)).toString('latin1') === 'RIFF' && Buffer.from(b.subarray(8, 12)).toString('latin1') === 'WEBP') {
    return { ext: 'webp', contentType: 'image/webp' };
  }
  return { ext: 'bin', contentType: 'application/octet-stream' };
}

/**
 * The object key prefix of a job: its id with every character outside `[A-Za-z0-9._-]` replaced by `_`
 * (`.`/`..`/empty become `_`), so a key never has path tricks whatever the id. RunPod ids pass unchanged.
 */
export function jobKeyPrefix(jobId: string): string {
  const safe = jobId.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '' || safe === '.' || safe === '..' ? '_' : safe;
}

/** The object key of image `index` of a job: `[<keyPrefix = s3Config.objectPath>/]<job id>/<index>.<ext>`. */
export function objectKey(jobId: string, index: number, ext: ImageKind['ext'], keyPrefix?: string): string {
  return `${keyPrefix ? `${keyPrefix}/` : ''}${jobKeyPrefix(jobId)}/${index}.${ext}`;
}

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
  /** Prepended to the keys (the request's `s3Config.objectPath`, checked by output.ts `parseObjectPath`). */
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

/** An attempt's failure as p-retry sees it. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
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
    const stop = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, stop.signal]) : stop.signal;
    const urls: string[] = new Array<string>(images.length);
    const started = performance.now();
    let next = 0;
    let failure: S3UploadError | undefined;
    const uploadOne = async (index: number): Promise<void> => {
      const body = images[index]!;
      const kind = sniffImage(body);
      const key = objectKey(jobId, index, kind.ext, req.keyPrefix);
      let attempts = 0;
      try {
        await pRetry(
          async () => {
            attempts++;
            if (signal.aborted) throw new AbortError('aborted');
            try {
              await client.send(new s3.PutObjectCommand({ Bucket: target.bucket, Key: key, Body: body, ContentType: kind.contentType, ContentLength: body.length }), { abortSignal: signal });
            } catch (e) {
              if (signal.aborted) throw new AbortError('aborted');
              const { reason, retryable } = describeSdkError(e);
              throw new AttemptError(target.redact(reason), retryable);
            }
          },
          {
            retries: this.#opts.retries,
            factor: 2,
            minTimeout: this.#opts.minDelayMs,
            maxTimeout: this.#opts.maxDelayMs,
            signal,
            shouldRetry: ({ error }) => error instanceof AttemptError && error.retryable,
            onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
              if (retriesLeft > 0 && error instanceof AttemptError && error.retryable) {
                this.#log.warn(`S3 upload of image ${index} to ${target.bucket}/${key} failed (attempt ${attemptNumber}, ${retriesLeft} retries left): ${error.message}`, jobId);
              }
            },
          },
        );
      } catch (e) {
        if (signal.aborted) return;
        const reason = e instanceof AttemptError ? e.message : target.redact(describeSdkError(e).reason);
        failure ??= new S3UploadError(`S3 upload of image ${index} to ${target.bucket}/${key} failed: ${reason}${attempts > 1 ? ` (${plural(attempts, 'attempt')})` : ''}`);
        stop.abort();
        return;
      }
      urls[index] = await presigner.getSignedUrl(client, new s3.GetObjectCommand({ Bucket: target.bucket, Key: key }), { expiresIn: req.expiresS });
    };
    const lane = async (): Promise<void> => {
      while (!signal.aborted && next < images.length) await uploadOne(next++);
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#opts.concurrency, images.length) }, lane));
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
    return urls;
  }

  /** Closes the kept client of the env bucket (its keep-alive sockets). */
  async close(): Promise<void> {
    const kept = this.#envClient;
    this.#envClient = undefined;
    if (kept) (await kept.client).destroy();
  }
}
