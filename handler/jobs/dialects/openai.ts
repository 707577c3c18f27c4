/**
 * The OpenAI-style images API dialect (seeds 002 and 003: LlamaEdge sd-api-server and sd-proxy-server):
 * `POST /v1/images/generations` → A1111 `POST /sdapi/v1/txt2img`, `POST /v1/images/edits` → `POST /sdapi/v1/img2img`.
 *
 * Two request shapes share each path, and are told apart by their fields:
 * - **sd-api-server's shape** (seed 003; OpenAI's fields plus stable-diffusion.cpp's): `prompt`, `negative_prompt`,
 *   `model`, `n`, `size`, `width`, `height`, `cfg_scale`, `sample_method`, `steps`, `seed`, `response_format`,
 *   `control_strength`, and for edits `image`, `mask`, `strength`. A payload with no field that only A1111 takes is
 *   this shape, and sd-api-server's documented defaults are written into the A1111 payload — `seed` 42,
 *   `sampler_name` "Euler a" (euler_a), `steps` 20, `cfg_scale` 7, `width`/`height` 512, `batch_size` 1 (n), and for
 *   edits `denoising_strength` 0.75 (strength) — since A1111's own defaults differ (random seed, "Euler", 50 steps)
 *   and a client written for sd-api-server expects its defaults. A `null` value counts as absent.
 * - **sd-proxy-server's shape** (seed 002): A1111's own txt2img body (img2img body for edits), which sd-proxy-server
 *   forwards to A1111 untouched. A payload with any A1111-only field (`sampler_name`, `sampler_index`, `scheduler`,
 *   `batch_size`, `n_iter`, `styles`, `override_settings`, `enable_hr`, `alwayson_scripts`, `init_images`, … — every
 *   property of `schemas/txt2img.json` / `img2img.json` that sd-api-server does not have) is this shape: nothing is
 *   added, A1111's defaults apply, as behind sd-proxy-server. Injecting sd-api-server's defaults there would be wrong:
 *   e.g. a `sampler_name` default would override the body's `sampler_index`.
 *
 * In both shapes the OpenAI fields present are translated: `size` "WxH" → `width`/`height` (winning over them, as
 * sd-api-server documents), `n` → `batch_size`, `sample_method` → `sampler_name` ({@link SAMPLE_METHODS}), `model` →
 * `override_settings.sd_model_checkpoint` (checked against A1111's checkpoints under the name `model`), a negative
 * `seed` → -1 (random: both seed systems document "negative means random"), `image` → `init_images: [image]`,
 * `strength` → `denoising_strength`, `response_format` `url` → images uploaded to S3 (`b64_json`, the default:
 * base64). Ignored: `control_strength` (only counts with `control_image`), `user` (OpenAI's end-user id). Refused:
 * `control_image` (ControlNet goes through `alwayson_scripts.controlnet`), `quality` and `style` (no A1111
 * equivalent), the unmappable sample methods, and any field given together with its A1111 counterpart.
 *
 * The schemas are `schemas/openai-generations.json` and `schemas/openai-edits.json`, each with the properties of
 * `txt2img.json` / `img2img.json` merged in at load time (the OpenAI file's definition wins where both define a
 * field). The translated payload then goes through the A1111 checks like a native one (jobs/checks.ts).
 *
 * Output ({@link openaiImagesResponse}): `{"created": <unix s>, "data": [{"b64_json": "…"} | {"url": "…"}, …]}`, one
 * item per A1111 image, with `revised_prompt` when the prompt A1111 used differs from the one sent (a prompt style
 * applied, for instance).
 */
import type { SchemaObject } from 'ajv';
import { checkDialectNames, type Dialect, type DialectContext, type ReshapeInfo, type Translation } from './dialects.js';
import { JobInputError } from '../../errors/index.js';
import { isObject, showValue } from '../format.js';
import { checkBase64Image, ImageRefusal, isHttpUrl } from '../images/images.js';
import type { NamedValue } from '../input/names.js';
import type { OutputMode } from '../input/envelope.js';
import { resolveRoute, type RouteSpec } from '../input/routes.js';
import { compileDialectSchema, type DialectValidator } from './schema.js';
import common from '../../../schemas/common.json' with { type: 'json' };
import txt2imgSchema from '../../../schemas/txt2img.json' with { type: 'json' };
import img2imgSchema from '../../../schemas/img2img.json' with { type: 'json' };
import generationsSchema from '../../../schemas/openai-generations.json' with { type: 'json' };
import editsSchema from '../../../schemas/openai-edits.json' with { type: 'json' };

/** The dialect's name in messages and logs. */
export const OPENAI_DIALECT_NAME = 'OpenAI images';
/** The generations endpoint (txt2img). */
export const GENERATIONS_ENDPOINT = '/v1/images/generations';
/** The edits endpoint (img2img). */
export const EDITS_ENDPOINT = '/v1/images/edits';

/**
 * sd-api-server's `sample_method` values (stable-diffusion.cpp samplers) and the A1111 v1.10 sampler each one is
 * sent as; `null`: no A1111 equivalent, refused.
 */
export const SAMPLE_METHODS: Readonly<Record<string, string | null>> = Object.freeze({
  euler: 'Euler',
  euler_a: 'Euler a',
  heun: 'Heun',
  dpm2: 'DPM2',
  'dpm++2s_a': 'DPM++ 2S a',
  'dpm++2m': 'DPM++ 2M',
  // stable-diffusion.cpp's DPM++ 2M variant and its iPNDM samplers: A1111 has none of them.
  'dpm++2mv2': null,
  ipndm: null,
  ipndm_v: null,
  lcm: 'LCM',
});

/** The `sample_method` values that map to an A1111 sampler, in sd-api-server's order. */
export const MAPPABLE_SAMPLE_METHODS: readonly string[] = Object.freeze(Object.keys(SAMPLE_METHODS).filter((k) => SAMPLE_METHODS[k] !== null));

/**
 * sd-api-server's documented defaults, as A1111 fields: written into the A1111 payload of a request in
 * sd-api-server's shape when the field is absent or null (see the module comment).
 */
export const SD_API_SERVER_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  seed: 42,
  sampler_name: 'Euler a',
  batch_size: 1,
  steps: 20,
  cfg_scale: 7,
  width: 512,
  height: 512,
});

/** sd-api-server's default `strength` of edits (A1111's `denoising_strength`). */
export const SD_API_SERVER_DEFAULT_STRENGTH = 0.75;

/** The smallest side of `size` (`common.json` definitions.size); A1111 has no multiple-of-8 rule and no upper bound. */
const SIDE_MINIMUM = common.definitions.size.minimum;

type JsonObject = Record<string, unknown>;

/** True when `p` has `key` as an own property with a value other than null. */
function given(p: JsonObject, key: string): boolean {
  return Object.hasOwn(p, key) && p[key] !== null && p[key] !== undefined;
}

/** One endpoint of the dialect, with everything derived from its schemas at load time. */
interface EndpointSpec {
  readonly endpoint: string;
  readonly route: RouteSpec;
  /** How messages name the request, e.g. `OpenAI images POST /v1/images/generations`. */
  readonly where: string;
  readonly validate: DialectValidator;
  /** Fields of the OpenAI schema that A1111 does not have (never copied into the A1111 payload). */
  readonly openaiOnly: ReadonlySet<string>;
  /** Fields of the A1111 schema that sd-api-server does not have: any of them makes the request A1111's shape. */
  readonly a1111Only: readonly string[];
  readonly edits: boolean;
}

interface PropertiesSchema {
  properties: Record<string, unknown>;
  required?: readonly string[];
}

/**
 * The OpenAI schema with the A1111 model's field names merged in (the OpenAI definition wins where both have one);
 * `required` is the OpenAI schema's own. The A1111 fields take any value here: after translation the payload is
 * checked against the server's own model, with A1111's coercion and nullability (validate.ts).
 */
function mergedSchema(openai: PropertiesSchema, a1111: PropertiesSchema): SchemaObject {
  const names = Object.fromEntries(Object.keys(a1111.properties).map((k) => [k, {}]));
  return { ...openai, properties: { ...names, ...openai.properties } };
}

function endpointSpec(endpoint: string, openai: PropertiesSchema, a1111: PropertiesSchema, edits: boolean): EndpointSpec {
  const route = resolveRoute('POST', edits ? '/sdapi/v1/img2img' : '/sdapi/v1/txt2img');
  const where = `${OPENAI_DIALECT_NAME} POST ${endpoint}`;
  const own = Object.keys(openai.properties);
  const theirs = Object.keys(a1111.properties);
  return {
    endpoint,
    route,
    where,
    validate: compileDialectSchema(mergedSchema(openai, a1111), where),
    openaiOnly: new Set(own.filter((k) => !theirs.includes(k))),
    a1111Only: theirs.filter((k) => !own.includes(k)),
    edits,
  };
}

const SPECS: ReadonlyMap<string, EndpointSpec> = new Map([
  [GENERATIONS_ENDPOINT, endpointSpec(GENERATIONS_ENDPOINT, generationsSchema, txt2imgSchema, false)],
  [EDITS_ENDPOINT, endpointSpec(EDITS_ENDPOINT, editsSchema, img2imgSchema, true)],
]);

/**
 * Parses `size` (`"<width>x<height>"`, already matched against the schema's pattern).
 * @returns the two sides, or the reason they are not allowed (a side below 1 px; A1111 itself floors each side to a
 *   multiple of 8 and has no upper bound)
 */
export function parseSize(size: string): { width: number; height: number } | { reason: string } {
  const m = /^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$/.exec(size);
  if (!m) return { reason: 'must be "<width>x<height>", e.g. "512x512"' };
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width < SIDE_MINIMUM || height < SIDE_MINIMUM) return { reason: `width and height must be at least ${SIDE_MINIMUM}` };
  return { width, height };
}

/**
 * The A1111 sampler of an sd-api-server `sample_method`.
 * @returns `{sampler}`, or `{reason}` for the message: why the value is not allowed and what is
 */
export function mapSampleMethod(value: string): { sampler: string } | { reason: string } {
  const mapped = Object.hasOwn(SAMPLE_METHODS, value) ? SAMPLE_METHODS[value] : undefined;
  if (typeof mapped === 'string') return { sampler: mapped };
  const allowed = `use one of ${MAPPABLE_SAMPLE_METHODS.join(', ')}, or name any A1111 sampler with sampler_name (GET /sdapi/v1/samplers)`;
  if (mapped === null) return { reason: `sd-api-server's ${value} has no A1111 equivalent; ${allowed}` };
  const lower = value.toLowerCase();
  if (Object.hasOwn(SAMPLE_METHODS, lower) && SAMPLE_METHODS[lower] !== null) return { reason: `did you mean ${JSON.stringify(lower)}? ${allowed}` };
  if (Object.values(SAMPLE_METHODS).includes(value)) return { reason: `${JSON.stringify(value)} is an A1111 sampler name: send it as sampler_name, or use one of ${MAPPABLE_SAMPLE_METHODS.join(', ')}` };
  return { reason: `must be one of ${MAPPABLE_SAMPLE_METHODS.join(', ')}; or name any A1111 sampler with sampler_name (GET /sdapi/v1/samplers)` };
}

/** One OpenAI `data` item. */
export type OpenAIImageItem = ({ b64_json: string } | { url: string }) & { revised_prompt?: string };

/** The OpenAI images response. */
export interface OpenAIImagesResponse {
  /** Unix time (s) the job started. */
  created: number;
  data: OpenAIImageItem[];
}

/**
 * The prompts A1111 used, from its `info` (a JSON string: `all_prompts`, `index_of_first_image`), or undefined when
 * `info` is missing, not JSON or without `all_prompts`.
 */
function usedPrompts(info: unknown): { prompts: unknown[]; first: number } | undefined {
  if (typeof info !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(info);
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || !Array.isArray(parsed.all_prompts)) return undefined;
  const first = parsed.index_of_first_image;
  return { prompts: parsed.all_prompts, first: typeof first === 'number' && Number.isInteger(first) && first >= 0 ? first : 0 };
}

/**
 * Builds the OpenAI images response from A1111's parsed txt2img/img2img answer.
 *
 * - `created`: `Math.floor(startedAtMs / 1000)`.
 * - `data`: one item per string of `answer.images`, in order: `{"url": …}` when `uploaded` (the images are presigned
 *   URLs), else `{"b64_json": …}`; plus `revised_prompt` when the prompt A1111 used for that image
 *   (`info.all_prompts[i - info.index_of_first_image]`; a grid or extra image before it, or an extension's image after
 *   them, has none) is a string that differs from `prompt` (e.g. a prompt style was applied) — OpenAI's meaning of
 *   revised_prompt. No other keys.
 * @param answer A1111's answer (`{images, parameters, info}`); a missing or non-JSON `info` gives no revised_prompt.
 * @param prompt the prompt sent to A1111.
 */
export function openaiImagesResponse(answer: JsonObject, prompt: string, info: ReshapeInfo): OpenAIImagesResponse {
  const images = Array.isArray(answer.images) ? answer.images.filter((i): i is string => typeof i === 'string') : [];
  const used = usedPrompts(answer.info);
  const data = images.map((img, i): OpenAIImageItem => {
    const item: OpenAIImageItem = info.uploaded ? { url: img } : { b64_json: img };
    const p = used && i >= used.first ? used.prompts[i - used.first] : undefined;
    if (typeof p === 'string' && p !== prompt) item.revised_prompt = p;
    return item;
  });
  return { created: Math.floor(info.startedAtMs / 1000), data };
}

/** `a: 1 and b: 2 are both given (…)`. */
function both(a: string, av: unknown, b: string, bv: unknown, what: string): string {
  return `${a}: ${showValue(av)} and ${b}: ${showValue(bv)} are both given (both ${what}; send only one)`;
}

/**
 * Why the edits `image` cannot be sent, under its own name (the A1111 image check would name `init_images[0]`):
 * the base64 checks of images.ts, or a URL while `ALLOW_IMAGE_URLS` is off. An allowed URL's host is checked by the
 * handler's image check (DNS) after translation.
 */
function imageIssue(value: string, ctx: DialectContext): string | undefined {
  if (isHttpUrl(value)) {
    return ctx.limits.allowImageUrls ? undefined : 'image URLs are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…)';
  }
  try {
    checkBase64Image(value, ctx.limits);
    return undefined;
  } catch (e) {
    if (e instanceof ImageRefusal) return e.message;
    throw e;
  }
}

/** The refusals that need no list: contradictions, refused fields, values outside what A1111 can do. */
function collectIssues(spec: EndpointSpec, p: JsonObject, ctx: DialectContext): string[] {
  const issues: string[] = [];
  if (given(p, 'control_image')) {
    issues.push(
      'control_image: not taken here (no ControlNet in sd-api-server\'s form); use ControlNet through the A1111 field alwayson_scripts: {"controlnet": {"args": [{"image": …, "module": …, "model": …}]}} (ControlNet extension installed)',
    );
  }
  if (given(p, 'quality')) {
    issues.push(`quality: ${showValue(p.quality)} is not allowed (OpenAI's quality has no A1111 equivalent; leave it out and set steps${spec.edits ? '' : ', or the hires fix (enable_hr)'} instead)`);
  }
  if (given(p, 'style')) {
    issues.push(`style: ${showValue(p.style)} is not allowed (OpenAI's style has no A1111 equivalent; leave it out and describe the look in the prompt, or apply A1111 prompt styles with "styles": [names])`);
  }
  if (given(p, 'sample_method')) {
    const m = mapSampleMethod(String(p.sample_method));
    if ('reason' in m) issues.push(`sample_method: ${showValue(p.sample_method)} is not allowed (${m.reason})`);
    for (const other of ['sampler_name', 'sampler_index']) {
      if (given(p, other)) issues.push(both('sample_method', p.sample_method, other, p[other], 'choose the sampler'));
    }
  }
  if (given(p, 'n')) {
    if (given(p, 'batch_size')) issues.push(both('n', p.n, 'batch_size', p.batch_size, 'set the number of images'));
    else if (typeof p.n === 'number' && p.n > ctx.limits.maxImagesPerJob) issues.push(`n: ${p.n} is over MAX_IMAGES_PER_JOB=${ctx.limits.maxImagesPerJob}`);
  }
  if (given(p, 'size')) {
    const s = parseSize(String(p.size));
    if ('reason' in s) issues.push(`size: ${showValue(p.size)} is not allowed (${s.reason})`);
  }
  if (given(p, 'model') && isObject(p.override_settings) && given(p.override_settings, 'sd_model_checkpoint')) {
    issues.push(both('model', p.model, 'override_settings.sd_model_checkpoint', p.override_settings.sd_model_checkpoint, 'choose the checkpoint'));
  }
  if (spec.edits) {
    if (given(p, 'image') && given(p, 'init_images')) issues.push(both('image', p.image, 'init_images', p.init_images, 'give the image to edit'));
    if (typeof p.image === 'string') {
      const why = imageIssue(p.image, ctx);
      if (why) issues.push(`image: ${why}`);
    }
    if (!given(p, 'image') && !given(p, 'init_images')) {
      issues.push('image: is required (the image to edit: base64 of any image A1111 opens, or an http(s) URL when ALLOW_IMAGE_URLS=true; or init_images in A1111\'s img2img form)');
    }
    if (given(p, 'strength') && given(p, 'denoising_strength')) issues.push(both('strength', p.strength, 'denoising_strength', p.denoising_strength, 'set how much the image changes'));
  }
  return issues;
}

/** What {@link translateOpenAI} produced besides the route. */
interface Translated {
  payload: JsonObject;
  /** The first A1111-only field, when the request is A1111's shape. */
  a1111Field: string | undefined;
  /** Fields given but not used (for the log). */
  ignored: string[];
}

/** Builds the A1111 payload of a checked request (see the module comment). */
function buildPayload(spec: EndpointSpec, p: JsonObject): Translated {
  const out: JsonObject = {};
  const ignored: string[] = [];
  // Every A1111 field as sent; the OpenAI-only ones are translated below.
  for (const [k, v] of Object.entries(p)) if (!spec.openaiOnly.has(k)) out[k] = v;
  if (spec.edits) {
    if (given(p, 'image')) out.init_images = [p.image];
    if (given(p, 'strength')) out.denoising_strength = p.strength;
  }
  if (given(p, 'size')) {
    const s = parseSize(String(p.size)) as { width: number; height: number };
    for (const side of ['width', 'height'] as const) if (given(p, side) && p[side] !== s[side]) ignored.push(`${side} ${showValue(p[side])} (size wins)`);
    out.width = s.width;
    out.height = s.height;
  }
  if (given(p, 'n')) out.batch_size = p.n;
  if (given(p, 'sample_method')) out.sampler_name = (mapSampleMethod(String(p.sample_method)) as { sampler: string }).sampler;
  if (given(p, 'model')) out.override_settings = { ...(isObject(p.override_settings) ? p.override_settings : {}), sd_model_checkpoint: p.model };
  if (typeof p.seed === 'number' && p.seed < -1) out.seed = -1;
  if (given(p, 'control_strength')) ignored.push('control_strength (no control_image)');
  const a1111Field = spec.a1111Only.find((k) => Object.hasOwn(p, k));
  if (a1111Field === undefined) {
    const defaults: JsonObject = spec.edits ? { ...SD_API_SERVER_DEFAULTS, denoising_strength: SD_API_SERVER_DEFAULT_STRENGTH } : SD_API_SERVER_DEFAULTS;
    for (const [k, v] of Object.entries(defaults)) if (!given(out, k)) out[k] = v;
  }
  return { payload: out, a1111Field, ignored };
}

/**
 * Validates and translates one OpenAI images request (the dialect's `translate`).
 * @throws JobInputError naming the OpenAI field, the value and what is allowed (`invalid payload for OpenAI images
 *   POST /v1/images/generations: …`), or an unknown `model` (`OpenAI images POST …: model: "sd" is not an A1111
 *   checkpoint …; valid: …`; only a warning with STRICT_NAMES=false)
 * @throws A1111Error when A1111 cannot be reached for the checkpoint list
 */
async function translateOpenAI(endpoint: string, payload: unknown, ctx: DialectContext): Promise<Translation> {
  const spec = SPECS.get(endpoint);
  if (!spec) throw new JobInputError(`${showValue(endpoint)} is not an ${OPENAI_DIALECT_NAME} endpoint (allowed: ${[...SPECS.keys()].join(', ')})`);
  spec.validate(payload);
  const p = payload as JsonObject;
  const issues = collectIssues(spec, p, ctx);
  if (issues.length) throw new JobInputError(`invalid payload for ${spec.where}: ${issues.join('; ')}`);
  const { payload: a1111, a1111Field, ignored } = buildPayload(spec, p);
  const names: NamedValue[] = given(p, 'model') ? [{ kind: 'checkpoint', path: 'model', value: String(p.model) }] : [];
  if (names.length) await checkDialectNames(names, spec.where, ctx);
  ctx.log.debug(
    a1111Field === undefined
      ? `${spec.where}: sd-api-server request (no A1111-only field): its defaults written where absent`
      : `${spec.where}: A1111 ${spec.route.name} body (has ${JSON.stringify(a1111Field)}): A1111's defaults apply`,
    ctx.jobId,
  );
  if (ignored.length) ctx.log.info(`${spec.where}: ignored ${ignored.join(', ')}`, ctx.jobId);
  const output: OutputMode = p.response_format === 'url' ? 's3' : 'base64';
  const prompt = String(p.prompt);
  return {
    route: spec.route,
    payload: a1111,
    output,
    outputField: p.response_format === undefined ? 'response_format (default "b64_json")' : `response_format ${JSON.stringify(p.response_format)}`,
    // `image` became init_images[0]; its base64 was checked under its own name (an allowed URL's host was not).
    checked: { names, images: spec.edits && typeof p.image === 'string' && !isHttpUrl(p.image) ? ['init_images[0]'] : [] },
    reshape: (answer, info) => openaiImagesResponse(answer, prompt, info),
  };
}

/**
 * The OpenAI-style images API: `/v1/images/generations` (txt2img) and `/v1/images/edits` (img2img). See the module
 * comment for the two request shapes, the field mapping and the output.
 */
export const openaiDialect: Dialect = {
  name: OPENAI_DIALECT_NAME,
  endpoints: [GENERATIONS_ENDPOINT, EDITS_ENDPOINT],
  translate: translateOpenAI,
};
