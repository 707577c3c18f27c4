/**
 * Which S3-compatible bucket a job's images go to: the endpoint's `BUCKET_*` settings (RunPod's names, read by
 * `config.ts` into `OutputConfig.bucket`) or a job's own `s3Config: {accessId, accessSecret, bucketName,
 * endpointUrl}` (RunPod passes it next to `id`/`input`: docs/runpod-protocol.md, "Job JSON shape (job-take
 * response / handler argument)").
 *
 * {@link resolveBucket} turns either into a {@link BucketTarget}: the bucket is `BUCKET_NAME` /
 * `s3Config.bucketName`, else the one path segment of a path-style endpoint (`http://host:9000/<bucket>`), else the
 * first label of a virtual-hosted endpoint (`https://<bucket>.s3.<region>.amazonaws.com`, which is then dropped from
 * the endpoint); the region is `BUCKET_REGION`, else parsed from the host as runpod-python `rp_upload.py` does
 * (plus Linode and R2), else `us-east-1`. Requests use path-style addressing (`<endpoint>/<bucket>/<key>`) except on
 * `*.amazonaws.com`, where virtual-hosted addressing is used as AWS recommends.
 *
 * Credentials live in a private field of {@link BucketTarget} (not printed by `console.log`, `util.inspect` or
 * `JSON.stringify`); no message of this module contains them.
 */
import net from 'node:net';
import type { OutputConfig } from '../../config.js';
import { BucketConfigError, JobInputError } from '../../errors/index.js';

/** Settings of one bucket, as `config.ts` reads them from `BUCKET_*` (the shape of `OutputConfig.bucket`). */
export type BucketSettings = NonNullable<OutputConfig['bucket']>;

/** Where a bucket's settings came from; it decides the names used in messages. */
export type BucketSource = 'env' | 'job';

/** Region used when neither `BUCKET_REGION` nor the endpoint's host gives one (AWS's and MinIO's default). */
export const DEFAULT_REGION = 'us-east-1';

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
 * The signing region a service host names, as runpod-python `rp_upload.py` parses it, or undefined:
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
 * Reads a job's RunPod `s3Config`, `{accessId, accessSecret, bucketName, endpointUrl}` (docs/runpod-protocol.md,
 * "Platform (public queue API) facts").
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
