/**
 * Every error class of the worker, in one place (ARCHITECTURE.md, "Errors"). Which RunPod outcome each one
 * becomes is decided in one table, `outcome.ts`.
 */

/**
 * The job input is refused before anything reaches A1111: an unknown or forbidden route, a method
 * mismatch, or a payload that fails its JSON Schema. `message` is one line that names every
 * offending field, its value and what is allowed.
 */
export class JobInputError extends Error {
  override name = 'JobInputError';
}

/** Why one image (or URL) was refused; the caller adds the field path. */
export class ImageRefusal extends Error {
  override name = 'ImageRefusal';
}

/** A bucket's settings are unusable (no bucket name, a bad URL…). The message names the variable or field. */
export class BucketConfigError extends Error {
  override name = 'BucketConfigError';
}

/** An upload failed for good. `message`: `S3 upload of image <i> to <bucket>/<key> failed: <reason>`; no credentials. */
export class S3UploadError extends Error {
  override name = 'S3UploadError';
}

/**
 * How a call failed:
 * - `http`: A1111 answered a non-2xx status;
 * - `timeout`: no complete answer within the request timeout (A1111 hangs);
 * - `unreachable`: connection refused or reset — A1111 is down or its process died;
 * - `bad_response`: a 2xx answer that is not the JSON the route promises;
 * - `aborted`: the job was stopped by its caller.
 */
export type A1111ErrorKind = 'http' | 'timeout' | 'unreachable' | 'bad_response' | 'aborted';

/**
 * Every A1111 failure, normalised (A1111 `modules/api/api.py` `api_middleware`). `message` is one line:
 * `A1111 <status> on <METHOD> <route>: <error>: <detail> <errors>` for HTTP errors (FastAPI's 422 `detail[]`
 * rendered as `loc: msg` items), `A1111 unreachable on …`, `A1111 timeout on …`, `A1111 <status> on …: answer is …`.
 */
export class A1111Error extends Error {
  override name = 'A1111Error';
  constructor(
    message: string,
    readonly kind: A1111ErrorKind,
    /** HTTP status, or null when there was no answer. */
    readonly status: number | null,
    readonly method: string,
    /** Path called, e.g. `/sdapi/v1/txt2img`. */
    readonly route: string,
    /** A1111's `error` (exception class), `detail` and `errors` fields when its body had them. */
    readonly a1111: { error?: string; detail?: unknown; errors?: unknown } = {},
  ) {
    super(message);
  }
}

/**
 * The A1111 process (`A1111_PID`) has exited: waiting for it to become ready is pointless. Thrown by
 * {@link A1111Client.waitReady} as soon as it notices, instead of waiting out `A1111_READY_TIMEOUT_S`; the worker
 * then exits 1 so that RunPod replaces it. Its message starts with `A1111 process <pid> exited;`.
 */
export class A1111ExitedError extends A1111Error {
  override name = 'A1111ExitedError';
  constructor(
    /** The exited process id (`A1111_PID`). */
    readonly pid: number,
    url: string,
  ) {
    super(
      `A1111 process ${pid} exited; not waiting for ${url} any longer (A1111_READY_TIMEOUT_S would only delay the exit). Its own output (lines prefixed [a1111]) says why.`,
      'unreachable',
      null,
      'GET',
      '/sdapi/v1/sd-models',
    );
  }
}

/** Thrown by the parsers when a 2xx answer does not have the list's shape. */
export class ShapeError extends Error {}

/** Thrown when a document is not a usable OpenAPI description. */
export class OpenApiError extends Error {
  override name = 'OpenApiError';
}

/** A configuration error: names the variable or flag, the value and what is allowed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** An HTTP answer that counts as a failed result post. */
export class ResultPostError extends Error {
  override name = 'ResultPostError';
  constructor(
    message: string,
    /** HTTP status, or null for a transport error. */
    readonly status: number | null,
  ) {
    super(message);
  }
}

/** The warm-up generation failed (thrown by the worker loop's warm-up; check `a1111_warmup`). */
export class WarmupError extends Error {
  override name = 'WarmupError';
}

/** A start-up check failed (check `gpu`, `memory` or `disk`); `message` names the measured value and the threshold. */
export class StartupCheckError extends Error {
  override name = 'StartupCheckError';
  constructor(
    readonly check: 'gpu' | 'memory' | 'disk',
    message: string,
  ) {
    super(message);
  }
}
