/**
 * Validation of job payloads against the JSON Schemas in `schemas/` (compiled once by ajv at module load).
 *
 * The worker injects no defaults and never changes the payload: A1111 receives exactly what the caller
 * sent (A1111 spec Part 3 §2). Validation only decides whether the payload may be sent, and when it may
 * not, produces one line that names every offending field, its value and what is allowed.
 */
import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import type { LimitsConfig } from '../config.js';
import { JobInputError } from './errors.js';
import { appendKey, editDistance, plural, showValue as show } from './format.js';
import { imageFields } from './images.js';
import type { RouteSpec } from './routes.js';
import { scriptNameReason, settingsIssues, type SettingIssue } from './settings.js';
import common from '../../schemas/common.json' with { type: 'json' };
import txt2img from '../../schemas/txt2img.json' with { type: 'json' };
import img2img from '../../schemas/img2img.json' with { type: 'json' };
import interrogate from '../../schemas/interrogate.json' with { type: 'json' };
import extraSingleImage from '../../schemas/extra-single-image.json' with { type: 'json' };
import extraBatchImages from '../../schemas/extra-batch-images.json' with { type: 'json' };
import pngInfo from '../../schemas/png-info.json' with { type: 'json' };
import options from '../../schemas/options.json' with { type: 'json' };

/** Names of the payload schemas (one file `schemas/<name>.json` each). */
export type SchemaName =
  | 'txt2img'
  | 'img2img'
  | 'interrogate'
  | 'extra-single-image'
  | 'extra-batch-images'
  | 'png-info'
  | 'options';

/** At most this many offending fields are listed in one message; the rest are counted. */
export const MAX_LISTED_ISSUES = 50;

const SCHEMAS: Readonly<Record<SchemaName, SchemaObject>> = {
  txt2img,
  img2img,
  interrogate,
  'extra-single-image': extraSingleImage,
  'extra-batch-images': extraBatchImages,
  'png-info': pngInfo,
  options,
};

const ajv = new Ajv({
  allErrors: true,
  strict: true,
  // `type: ["integer", "null"]` is how the schemas say "Optional" (draft-07 has no `nullable`).
  allowUnionTypes: true,
  useDefaults: false,
  coerceTypes: false,
  removeAdditional: false,
  // Errors carry the failing schema and data, used to describe what is allowed.
  verbose: true,
});
formatsModule.default(ajv);
ajv.addSchema(common as SchemaObject);

const VALIDATORS = Object.fromEntries(
  (Object.keys(SCHEMAS) as SchemaName[]).map((name) => [name, ajv.compile(SCHEMAS[name])]),
) as Record<SchemaName, ValidateFunction>;

/** Top-level property names of the txt2img/img2img schemas, to say "only img2img takes it" and vice versa. */
const TXT2IMG_FIELDS = new Set(Object.keys(txt2img.properties));
const IMG2IMG_FIELDS = new Set(Object.keys(img2img.properties));

/** Field names other Stable Diffusion APIs use, with the A1111 field (or advice) to use instead. */
const GENERATION_HINTS: Readonly<Record<string, string>> = {
  num_inference_steps: 'did you mean "steps"?',
  guidance_scale: 'did you mean "cfg_scale"?',
  sampler: 'did you mean "sampler_name"?',
  num_images: 'did you mean "batch_size"?',
  model: 'choose the checkpoint with override_settings.sd_model_checkpoint',
  checkpoint: 'choose the checkpoint with override_settings.sd_model_checkpoint',
  lora: 'add LoRAs to the prompt as <lora:name:weight>',
  loras: 'add LoRAs to the prompt as <lora:name:weight>',
};

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A payload described for "got …" messages. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${plural(value.length, 'item')}`;
  if (isObject(value)) {
    const keys = Object.keys(value);
    const listed = keys.slice(0, 10).map((k) => (/^[\w$.-]{1,40}$/.test(k) ? k : show(k)));
    const more = keys.length > 10 ? ` and ${keys.length - 10} more` : '';
    return `an object with ${keys.length === 1 ? 'key' : 'keys'} ${listed.join(', ')}${more}`;
  }
  return `a ${typeof value} ${show(value)}`;
}

/** Resolves an ajv JSON pointer against the payload: the readable field path and the value there. */
function locate(payload: unknown, pointer: string): { path: string; value: unknown } {
  let path = '';
  let value: unknown = payload;
  if (pointer === '') return { path, value };
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(value)) {
      path += `[${seg}]`;
      value = value[Number(seg)];
    } else {
      path = appendKey(path, seg);
      value = isObject(value) && Object.hasOwn(value, seg) ? value[seg] : undefined;
    }
  }
  return { path, value };
}


/**
 * The known property closest to an unknown one: same name in another case or without `_`/`-`
 * (`Prompt`, `cfgScale`), else edit distance ≤ 2 (≤ 1 for names of up to 4 characters).
 */
export function suggestField(unknown: string, known: readonly string[]): string | undefined {
  if (unknown.length > 60) return undefined;
  const lower = unknown.toLowerCase();
  const loose = lower.replace(/[-_\s]/g, '');
  const byCase = known.find((k) => k.toLowerCase() === lower);
  if (byCase) return byCase;
  const bySeparators = known.find((k) => k.toLowerCase().replace(/[-_\s]/g, '') === loose);
  if (bySeparators) return bySeparators;
  const limit = unknown.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function typePhrase(types: unknown): string {
  const list = Array.isArray(types) ? types : [types];
  return list.map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(' or ');
}

/** One offending field with every reason found for it (in order, without repeats). */
interface Issue {
  path: string;
  value: unknown;
  /** False for unknown and missing fields, whose value is not shown. */
  showValue: boolean;
  reasons: string[];
}

class IssueList {
  private readonly byPath = new Map<string, Issue>();

  add(path: string, value: unknown, reason: string, showValue = true): void {
    let issue = this.byPath.get(path);
    if (!issue) {
      issue = { path, value, showValue, reasons: [] };
      this.byPath.set(path, issue);
    }
    if (!issue.reasons.includes(reason)) issue.reasons.push(reason);
  }

  /** Sets `path`'s issue to this one reason (keeping its place), e.g. a configured cap over a schema bound. */
  replace(path: string, value: unknown, reason: string, showValue = true): void {
    const issue = this.byPath.get(path);
    if (issue) {
      issue.value = value;
      issue.showValue = showValue;
      issue.reasons = [reason];
    } else {
      this.add(path, value, reason, showValue);
    }
  }

  has(path: string): boolean {
    return this.byPath.has(path);
  }

  get size(): number {
    return this.byPath.size;
  }

  render(): string {
    const issues = [...this.byPath.values()];
    const parts = issues.slice(0, MAX_LISTED_ISSUES).map((i) => {
      const name = i.path || 'payload';
      if (!i.showValue) return `${name}: ${i.reasons.join('; ')}`;
      return `${name}: ${show(i.value)} is not allowed (${i.reasons.join(' and ')})`;
    });
    if (issues.length > MAX_LISTED_ISSUES) parts.push(`and ${issues.length - MAX_LISTED_ISSUES} more fields`);
    return parts.join('; ');
  }
}

function unknownFieldReason(schemaName: string, atTop: boolean, key: string, known: readonly string[]): string {
  if (atTop && schemaName === 'img2img' && TXT2IMG_FIELDS.has(key)) return 'unknown field (only txt2img takes it)';
  if (atTop && schemaName === 'txt2img' && IMG2IMG_FIELDS.has(key)) return 'unknown field (only img2img takes it)';
  const near = suggestField(key, known);
  if (near) return `unknown field (did you mean ${JSON.stringify(near)}?)`;
  const generation = schemaName === 'txt2img' || schemaName === 'img2img';
  if (atTop && generation && Object.hasOwn(GENERATION_HINTS, key)) return `unknown field (${GENERATION_HINTS[key]})`;
  return 'unknown field';
}

function numberParam(err: ErrorObject, name: string): string {
  return String((err.params as Record<string, unknown>)[name]);
}

/** Turns ajv's errors into issues, one entry per field. */
function collectSchemaIssues(schemaName: string, payload: unknown, errors: readonly ErrorObject[], issues: IssueList): void {
  // A field that fails `enum` also fails `type` when the type is wrong; the enum says everything. A field
  // of the wrong type (7.5 for an integer) may also fail number keywords (multipleOf); the type says enough.
  const enumPaths = new Set(errors.filter((e) => e.keyword === 'enum').map((e) => e.instancePath));
  const typePaths = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  for (const err of errors) {
    const params = err.params as Record<string, unknown>;
    const { path, value } = locate(payload, err.instancePath);
    if (typePaths.has(err.instancePath) && !['type', 'enum', 'additionalProperties', 'required'].includes(err.keyword)) continue;
    switch (err.keyword) {
      case 'additionalProperties': {
        const key = String(params.additionalProperty);
        const parent = err.parentSchema as { properties?: Record<string, unknown> } | undefined;
        const known = Object.keys(parent?.properties ?? {});
        issues.add(appendKey(path, key), undefined, unknownFieldReason(schemaName, err.instancePath === '', key, known), false);
        break;
      }
      case 'required':
        issues.add(appendKey(path, String(params.missingProperty)), undefined, 'is required', false);
        break;
      case 'type':
        if (!enumPaths.has(err.instancePath)) issues.add(path, value, `must be ${typePhrase(err.schema)}`);
        break;
      case 'enum': {
        const allowed = Array.isArray(err.schema) ? err.schema.map((v) => JSON.stringify(v)).join(', ') : '';
        issues.add(path, value, `must be one of ${allowed}`);
        break;
      }
      case 'multipleOf':
        issues.add(path, value, `must be a multiple of ${numberParam(err, 'multipleOf')}`);
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        issues.add(path, value, `must be ${String(params.comparison)} ${numberParam(err, 'limit')}`);
        break;
      case 'minItems':
        issues.add(path, value, `must have at least ${plural(Number(params.limit), 'item')}`);
        break;
      case 'maxItems':
        issues.add(path, value, `must have at most ${plural(Number(params.limit), 'item')}`);
        break;
      case 'minLength':
        issues.add(path, value, Number(params.limit) === 1 ? 'must not be empty' : `must have at least ${plural(Number(params.limit), 'character')}`);
        break;
      case 'maxLength':
        issues.add(path, value, `must have at most ${plural(Number(params.limit), 'character')}`);
        break;
      case 'maxProperties':
        issues.add(path, value, `must have at most ${plural(Number(params.limit), 'key')}`);
        break;
      case 'minProperties':
        issues.add(path, value, `must have at least ${plural(Number(params.limit), 'key')}`);
        break;
      case 'anyOf':
      case 'oneOf':
      case 'allOf':
        // Wrapper errors: the branch errors at the same field already say what is wrong.
        break;
      default:
        issues.add(path, value, err.message ?? `fails ${err.keyword}`);
    }
  }
}

/** An own property of a payload object (never one inherited from a prototype). */
function own(payload: JsonObject, key: string): unknown {
  return Object.hasOwn(payload, key) ? payload[key] : undefined;
}

/** A positive integer field of a generation payload, `1` when absent or null, undefined when invalid. */
function countField(payload: JsonObject, key: string): number | undefined {
  const v = own(payload, key);
  if (v === undefined || v === null) return 1;
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : undefined;
}

/**
 * A numeric field for the cost caps: A1111's default when absent or null (spec §2.6), undefined when it is
 * not a number of the right kind (the schema reports that).
 */
function numberField(payload: JsonObject, key: string, def: number, kind: 'integer' | 'number', min: number): number | undefined {
  const v = own(payload, key);
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) return undefined;
  return kind === 'integer' && !Number.isInteger(v) ? undefined : v;
}

/**
 * The configurable step caps (`MAX_STEPS`, `MAX_HR_STEPS`). The schemas only keep a hard sanity bound
 * (10000) so that the env vars can raise the caps; when both fail, the message names the env var.
 */
function collectStepIssues(payload: JsonObject, limits: LimitsConfig, issues: IssueList): void {
  const caps: Array<[string, number, string]> = [
    ['steps', limits.maxSteps, 'MAX_STEPS'],
    ['hr_second_pass_steps', limits.maxHrSteps, 'MAX_HR_STEPS'],
  ];
  for (const [key, cap, env] of caps) {
    const v = own(payload, key);
    if (typeof v === 'number' && Number.isInteger(v) && v > cap) issues.replace(key, v, `${v} is over ${env}=${cap}`, false);
  }
}

/** A1111's defaults of the fields of the pixel count (spec §2.6). */
const PIXEL_DEFAULTS = { width: 512, height: 512, hr_scale: 2 } as const;

/**
 * The pixel cap (`MAX_PIXELS_PER_JOB`): `width × height × batch_size × n_iter`, where with txt2img's hires
 * fix (`enable_hr: true`) width × height is the size A1111 upscales to: `hr_scale` × each side (A1111 default
 * 2, so 4× the pixels), or `hr_resize_x × hr_resize_y` when set (with only one of them set, the other follows
 * the aspect ratio; with both set and another aspect ratio, A1111 upscales to cover that box, then crops — that
 * larger size is counted). Absent or null fields count with A1111's defaults (512, 512, 1, 1, 2).
 */
function collectPixelIssue(route: RouteSpec, payload: JsonObject, limits: LimitsConfig, issues: IssueList): void {
  const width = numberField(payload, 'width', PIXEL_DEFAULTS.width, 'integer', 1);
  const height = numberField(payload, 'height', PIXEL_DEFAULTS.height, 'integer', 1);
  const batchSize = countField(payload, 'batch_size');
  const nIter = countField(payload, 'n_iter');
  if (width === undefined || height === undefined || batchSize === undefined || nIter === undefined) return;
  let outW = width;
  let outH = height;
  let hires = '';
  if (route.schema === 'txt2img' && own(payload, 'enable_hr') === true) {
    const scale = numberField(payload, 'hr_scale', PIXEL_DEFAULTS.hr_scale, 'number', 0);
    const rx = numberField(payload, 'hr_resize_x', 0, 'integer', 0);
    const ry = numberField(payload, 'hr_resize_y', 0, 'integer', 0);
    if (scale === undefined || rx === undefined || ry === undefined) return;
    if (rx === 0 && ry === 0) {
      outW = Math.floor(width * scale);
      outH = Math.floor(height * scale);
      hires = `hr_scale ${scale}`;
    } else if (ry === 0) {
      outW = rx;
      outH = Math.floor((rx * height) / width);
      hires = `hr_resize_x ${rx}`;
    } else if (rx === 0) {
      outW = Math.floor((ry * width) / height);
      outH = ry;
      hires = `hr_resize_y ${ry}`;
    } else {
      if (width / height < rx / ry) {
        outW = rx;
        outH = Math.floor((rx * height) / width);
      } else {
        outW = Math.floor((ry * width) / height);
        outH = ry;
      }
      hires = `hr_resize_x × hr_resize_y ${rx} × ${ry}`;
    }
  }
  const total = outW * outH * batchSize * nIter;
  if (total <= limits.maxPixelsPerJob) return;
  const size = hires ? `${outW} × ${outH} (hires fix of ${width} × ${height} at ${hires})` : `${width} × ${height}`;
  issues.add(
    hires ? 'width × height × batch_size × n_iter (hires fix)' : 'width × height × batch_size × n_iter',
    undefined,
    `${size} × ${batchSize} × ${nIter} = ${total} px is over MAX_PIXELS_PER_JOB=${limits.maxPixelsPerJob}`,
    false,
  );
}

/** The number of input images (`MAX_INPUT_IMAGES`): `init_images`, `mask`, `latent_mask`, `firstpass_image`, `image`, `imageList`. */
function collectImageCountIssue(route: RouteSpec, payload: JsonObject, limits: LimitsConfig, issues: IssueList): void {
  const fields = imageFields(route, payload);
  if (fields.length <= limits.maxInputImages) return;
  const byField = new Map<string, number>();
  for (const f of fields) {
    const top = f.path.split(/[[.]/)[0]!;
    byField.set(top, (byField.get(top) ?? 0) + 1);
  }
  const cap = `over MAX_INPUT_IMAGES=${limits.maxInputImages}`;
  if (byField.size === 1) {
    const [name] = [...byField.keys()];
    // Over the configured cap is the useful message, also when the schema's hard bound (1000) failed too.
    issues.replace(name!, undefined, `${plural(fields.length, 'image')} is ${cap}`, false);
  } else {
    const parts = [...byField].map(([k, n]) => `${k} ${n}`).join(', ');
    issues.add('input images', undefined, `${fields.length} (${parts}) is ${cap}`, false);
  }
}

/**
 * The settings allow-list (settings.ts) for `override_settings` and the POST /options payload, and the
 * selectable scripts that could get around it (`script_name`).
 */
function collectSettingsIssues(route: RouteSpec, payload: JsonObject, issues: IssueList): void {
  let found: SettingIssue[];
  if (route.schema === 'options') {
    found = settingsIssues(payload, '');
  } else {
    const script = own(payload, 'script_name');
    const why = scriptNameReason(script);
    if (why) issues.add('script_name', script, why);
    const overrides = own(payload, 'override_settings');
    if (!isObject(overrides)) return;
    found = settingsIssues(overrides, 'override_settings');
  }
  for (const i of found) issues.add(i.path, i.value, i.reason, i.showValue);
}

/** Checks across fields of txt2img/img2img payloads that a schema cannot express. */
function collectGenerationIssues(route: RouteSpec, payload: JsonObject, limits: LimitsConfig, issues: IssueList): void {
  const batchSize = countField(payload, 'batch_size');
  const nIter = countField(payload, 'n_iter');
  if (batchSize !== undefined && nIter !== undefined) {
    const images = batchSize * nIter;
    if (images > limits.maxImagesPerJob) {
      issues.add(
        'batch_size × n_iter',
        undefined,
        `${batchSize} × ${nIter} = ${images} images is over the limit of ${limits.maxImagesPerJob} per job (MAX_IMAGES_PER_JOB)`,
        false,
      );
    }
  }
  // A1111 repeats one init image batch_size times, takes k <= batch_size images as the batch, and
  // fails with a 500 "bad number of images passed" for more (A1111 spec §2.7).
  const init = own(payload, 'init_images');
  const initValid = Array.isArray(init) && !issues.has('init_images');
  if (route.schema === 'img2img' && batchSize !== undefined && initValid && init.length > 1 && init.length > batchSize) {
    issues.add(
      'init_images',
      undefined,
      `${init.length} images need batch_size >= ${init.length} (got ${batchSize === 1 && payload.batch_size == null ? 'batch_size 1, the default' : `batch_size ${batchSize}`}; A1111 refuses more init images than batch_size)`,
      false,
    );
  }
}

/**
 * Validates a job payload for a route; never mutates the payload and never fills in defaults (the worker
 * injects no defaults: A1111 gets exactly what the caller sent).
 *
 * - Routes with `schema: null` (GET routes and `refresh-*`) accept only an absent payload, `null` or `{}`.
 * - Other routes need a JSON object that satisfies `schemas/<route.schema>.json` (A1111 spec §2.6 txt2img,
 *   §2.7 img2img, §2.13 extras/interrogate/png-info, §2.12 options). Unknown fields are refused with a
 *   "did you mean" suggestion when a known field is close.
 * - For `generates` routes, `batch_size × n_iter` (each 1 when absent or null) must be at most
 *   `limits.maxImagesPerJob`; for img2img, more than one init image needs `batch_size` ≥ their number.
 * - Configurable caps (issue 4), each message naming the field, the value, the limit and its env var:
 *   `steps` ≤ `maxSteps` (`steps: 400 is over MAX_STEPS=150`), `hr_second_pass_steps` ≤ `maxHrSteps`
 *   (`MAX_HR_STEPS`), `width × height × batch_size × n_iter` with the hires-fix size ≤ `maxPixelsPerJob`
 *   (`MAX_PIXELS_PER_JOB`, px; see {@link collectPixelIssue}), number of input images ≤ `maxInputImages`
 *   (`MAX_INPUT_IMAGES`). The images themselves are checked afterwards by `checkImages` (images.ts).
 * - `override_settings` keys (txt2img, img2img) and the `POST /sdapi/v1/options` payload keys must be in the
 *   settings allow-list, with values of the setting's type (settings.ts, spec §2.12); `script_name` must not
 *   name a script that gets around it ("Prompts from file or textbox", settings.ts `REFUSED_SCRIPT_TITLES`).
 *
 * @param route the resolved route (from `resolveRoute`).
 * @param payload the job's `input.payload` as parsed from JSON.
 * @param limits the worker's input limits (config.ts `LimitsConfig`).
 * @throws JobInputError with one line naming every offending field (JSON-pointer-like paths such as
 *   `override_settings.sd_vae` or `init_images[0]`), its value (long strings shortened) and what is allowed,
 *   e.g. `invalid payload for POST /sdapi/v1/txt2img: steps: 500 is not allowed (must be <= 150); stepz:
 *   unknown field (did you mean "steps"?)`.
 */
export function validatePayload(route: RouteSpec, payload: unknown, limits: LimitsConfig): void {
  const where = `${route.method} ${route.path}`;
  if (route.schema === null) {
    if (payload === undefined || payload === null) return;
    if (isObject(payload) && Object.keys(payload).length === 0) return;
    throw new JobInputError(`payload is not accepted for ${where} (got ${describe(payload)}); send no payload, null or {}`);
  }
  if (!isObject(payload)) {
    throw new JobInputError(`payload for ${where} must be a JSON object (got ${describe(payload)})`);
  }
  const validator = VALIDATORS[route.schema];
  if (!validator) {
    throw new JobInputError(`no payload schema named ${JSON.stringify(route.schema)} for ${where}`);
  }
  const issues = new IssueList();
  if (!validator(payload)) collectSchemaIssues(route.schema, payload, validator.errors ?? [], issues);
  collectImageCountIssue(route, payload, limits, issues);
  if (route.generates) {
    collectGenerationIssues(route, payload, limits, issues);
    collectStepIssues(payload, limits, issues);
    collectPixelIssue(route, payload, limits, issues);
  }
  if (route.generates || route.schema === 'options') collectSettingsIssues(route, payload, issues);
  if (issues.size > 0) throw new JobInputError(`invalid payload for ${where}: ${issues.render()}`);
}

/** A compiled request-dialect schema: throws JobInputError naming every offending field. */
export type DialectValidator = (payload: unknown) => void;

/**
 * Compiles the JSON Schema of a request dialect (`schemas/sdcn-*.json`, `schemas/openai-*.json`) with the same
 * ajv settings and messages as the A1111 payload schemas (unknown fields refused with a "did you mean").
 * The schema may `$ref` `common.json` definitions.
 * @param schema the schema object (its `$id`, if any, must be unique).
 * @param where how messages name the request, e.g. `SDCN POST /txt2img`.
 * @returns a function that throws JobInputError `invalid payload for <where>: <field>: <value> is not allowed (…); …`
 *   when `payload` is not an object or fails the schema, and returns otherwise.
 * @throws Error at compile time when the schema itself is invalid (a bug).
 */
export function compileDialectSchema(schema: SchemaObject, where: string): DialectValidator {
  const validator = ajv.compile(schema);
  return (payload: unknown) => {
    if (!isObject(payload)) throw new JobInputError(`payload for ${where} must be a JSON object (got ${describe(payload)})`);
    if (validator(payload)) return;
    const issues = new IssueList();
    collectSchemaIssues(where, payload, validator.errors ?? [], issues);
    if (issues.size > 0) throw new JobInputError(`invalid payload for ${where}: ${issues.render()}`);
  };
}
