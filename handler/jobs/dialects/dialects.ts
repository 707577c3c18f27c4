/**
 * Request dialects (issue "The seed systems' request shapes"): the request shapes of other Stable Diffusion
 * systems our users come from, each chosen by `input.api.endpoint` and translated into one A1111 call.
 *
 * - A1111 native (`/sdapi/v1/*`, routes.ts) and the official worker's bare txt2img input are not dialects: their
 *   payload is A1111's own.
 * - SDCN task API (seed 001; sdcn.ts): `/txt2img`, `/img2img`, `/interrogate`.
 * - OpenAI-style images API (seeds 002 and 003; openai.ts): `/v1/images/generations`, `/v1/images/edits`.
 *
 * A dialect validates the payload against its own schema (`schemas/<dialect>-*.json`, messages naming its own
 * fields), checks the names it owns (checkpoints, LoRAs) under its own field names, and returns the A1111 route
 * and payload with what it has checked. The handler then runs the A1111 checks (request model, caps, settings,
 * images, names) on the translated payload as for a native job — nothing reaches A1111 unvalidated, and nothing
 * the dialect checked is checked twice — calls A1111 and hands the answer back to the dialect once, to build the
 * output in the dialect's shape.
 */
import type { LimitsConfig } from '../../config.js';
import type { A1111Lists } from '../../a1111/lists.js';
import { JobInputError } from '../../errors/index.js';
import type { Log } from '../../log.js';
import type { OutputMode } from '../input/envelope.js';
import { checkNamedValues, type NamedValue } from '../input/names.js';
import type { RouteSpec } from '../input/routes.js';

/** What a dialect's translation may use. */
export interface DialectContext {
  /** A1111's name lists (cached), for {@link checkNamedValues} (names.ts). */
  lists: A1111Lists;
  /** `STRICT_NAMES`: unknown names fail the job (true) or are logged as warnings (false). */
  strictNames: boolean;
  /** The worker's input limits (for checks a dialect makes before translation). */
  limits: LimitsConfig;
  /** The job's stop signal. */
  signal: AbortSignal;
  log: Log;
  jobId: string;
}

/** What the dialect's output builder gets besides A1111's answer. */
export interface ReshapeInfo {
  /**
   * True when the images in `answer.images` were uploaded to S3 and are presigned URLs; false when they are
   * A1111's base64 strings.
   */
  uploaded: boolean;
  /** The job's start time (ms since the epoch), e.g. for OpenAI's `created`. */
  startedAtMs: number;
}

/** A translated request. */
export interface Translation {
  /** The A1111 route to call (one of routes.ts `ROUTES`). */
  route: RouteSpec;
  /** The A1111 payload; it is then checked like a native payload of `route`. */
  payload: Record<string, unknown>;
  /**
   * Where the images go when the dialect decides it (OpenAI's `response_format`: `url` → `s3`, `b64_json` →
   * `base64`); undefined: as for a native job (the input's `"output"`, else a bucket when one is available).
   */
  output?: OutputMode;
  /** The request field that decided {@link output}, for messages, e.g. `response_format "url"`. */
  outputField?: string;
  /**
   * What the dialect has already checked under its own field names, which the A1111 checks of the translated
   * payload then skip: names (by kind and value; names.ts `checkNames`) and image fields whose base64 it checked
   * (A1111 paths such as `init_images[0]`; images.ts `checkImages`).
   */
  checked?: { names?: readonly NamedValue[]; images?: readonly string[] };
  /**
   * Builds the dialect's output from A1111's parsed answer (`{images, parameters, info}` for txt2img/img2img,
   * `{caption}` for interrogate). Must not throw for a well-formed A1111 answer.
   */
  reshape(answer: Record<string, unknown>, info: ReshapeInfo): unknown;
}

/** One request dialect. */
export interface Dialect {
  /** Its name in messages and logs, e.g. `SDCN`. */
  readonly name: string;
  /** The `input.api.endpoint` values it owns, exactly as sent (e.g. `/txt2img`); all take POST. */
  readonly endpoints: readonly string[];
  /**
   * Validates `payload` (the job's `input.payload`) and translates it.
   * @throws JobInputError naming the dialect's field, the value and what is allowed
   * @throws A1111Error when A1111 cannot be reached for a name list
   */
  translate(endpoint: string, payload: unknown, ctx: DialectContext): Promise<Translation>;
}

/**
 * Checks names a dialect owns against A1111's live lists (names.ts `checkNamedValues`), every message prefixed with
 * how the dialect names the request (`SDCN POST /txt2img: `); unknown soft names are logged as warnings.
 * @throws JobInputError `<where>: <field>: "x" is not …` (the issues of `checkNamedValues`)
 * @throws A1111Error when A1111 cannot be reached for a list
 */
export async function checkDialectNames(values: readonly NamedValue[], where: string, ctx: DialectContext): Promise<void> {
  try {
    const warnings = await checkNamedValues(values, ctx.lists, { strict: ctx.strictNames, signal: ctx.signal });
    for (const w of warnings) ctx.log.warn(`${where}: ${w}`, ctx.jobId);
  } catch (e) {
    if (e instanceof JobInputError) throw new JobInputError(`${where}: ${e.message}`);
    throw e;
  }
}
