/**
 * The SDCN task API dialect (seed 001; `fiatrete/SDCN-Stable-Diffusion-Computing-Network` `doc/api.md`): SDCN's
 * `/txt2img`, `/img2img` and `/interrogate` task bodies, translated into one A1111 call each.
 *
 * A job: `{"input": {"api": {"method": "POST", "endpoint": "/txt2img"}, "payload": {…SDCN fields…}}}`.
 *
 * Translation rules (see {@link translateSdcn}):
 *
 * | SDCN field | A1111 field |
 * |---|---|
 * | `loras: [[name, weight], …]` | `<lora:name:weight>` tags appended to `prompt`, each after a `,` (see {@link appendLoras}) |
 * | `model` | `override_settings: {sd_model_checkpoint: model}` (A1111 restores the checkpoint afterwards: its default) |
 * | `upscale: {denoising_strength, scale, upscaler}` (txt2img) | `enable_hr: true`, `hr_scale`, `hr_upscaler`, `denoising_strength` |
 * | `init_image` (img2img) | `init_images: [init_image]` |
 * | `prompt`, `negative_prompt`, `seed`, `sampler_name`, `steps`, `cfg_scale`, `width`, `height`, `denoising_strength` (img2img) | the same field, unchanged |
 * | interrogate `{image, model}` | the same fields (A1111's interrogate body is SDCN's) |
 *
 * Checks, in order, each refusing the job with one line naming SDCN's fields (A1111 is not called):
 * 1. the dialect's JSON Schema (`schemas/sdcn-*.json`): types, SDCN's ranges (`upscale.scale` in (1, 2],
 *    `denoising_strength` in [0, 1], LoRA weights in [-2, 2], interrogate `model` `clip`|`deepdanbooru`), unknown
 *    fields with a "did you mean"; out-of-range values are refused, never clamped (SDCN clamped silently);
 * 2. LoRA names must not contain `:`, `<` or `>` (they would break the `<lora:…>` tag);
 * 3. names against A1111's live lists ({@link checkNamedValues}): `model` (checkpoint), `sampler_name`,
 *    `loras[i][0]` (LoRA), `upscale.upscaler` (hires upscaler or latent mode).
 *
 * The handler then checks the translated payload as a native A1111 payload (caps, images, names).
 *
 * Output (SDCN's shape): `{images: [...]}` for txt2img/img2img (no `info`, `parameters` or `msg`; the images are
 * presigned URLs when they were uploaded to S3), `{caption}` for interrogate. A refused or failed job is a FAILED
 * job whose error is the one-line message (SDCN's `msg`).
 */
import type { SchemaObject } from 'ajv';
import { checkDialectNames, type Dialect, type DialectContext, type Translation } from './dialects.js';
import { JobInputError } from '../../errors/index.js';
import { appendIndex, showValue } from '../format.js';
import type { NamedValue } from '../input/names.js';
import { resolveRoute, type RouteSpec } from '../input/routes.js';
import { compileDialectSchema, type DialectValidator } from './schema.js';
import txt2imgSchema from '../../../schemas/sdcn-txt2img.json' with { type: 'json' };
import img2imgSchema from '../../../schemas/sdcn-img2img.json' with { type: 'json' };
import interrogateSchema from '../../../schemas/sdcn-interrogate.json' with { type: 'json' };

/** The SDCN endpoints, as sent in `input.api.endpoint`. */
export type SdcnEndpoint = '/txt2img' | '/img2img' | '/interrogate';

/** One SDCN endpoint: its schema, A1111 route and the name used in messages (`SDCN POST /txt2img`). */
interface EndpointSpec {
  where: string;
  validate: DialectValidator;
  route: RouteSpec;
}

function endpointSpec(endpoint: SdcnEndpoint, schema: SchemaObject, a1111Path: string): EndpointSpec {
  const where = `SDCN POST ${endpoint}`;
  return { where, validate: compileDialectSchema(schema, where), route: resolveRoute('POST', a1111Path) };
}

const ENDPOINTS: Readonly<Record<SdcnEndpoint, EndpointSpec>> = {
  '/txt2img': endpointSpec('/txt2img', txt2imgSchema as SchemaObject, '/sdapi/v1/txt2img'),
  '/img2img': endpointSpec('/img2img', img2imgSchema as SchemaObject, '/sdapi/v1/img2img'),
  '/interrogate': endpointSpec('/interrogate', interrogateSchema as SchemaObject, '/sdapi/v1/interrogate'),
};

/** One SDCN LoRA, `[name, weight]`, as the schema admits it. */
export type SdcnLora = readonly [name: string, weight: number];

/** An SDCN txt2img/img2img payload after schema validation (img2img adds `init_image`, `denoising_strength`). */
export interface SdcnGenerationPayload {
  prompt?: string;
  negative_prompt?: string;
  loras?: SdcnLora[];
  seed?: number;
  sampler_name?: string;
  steps?: number;
  cfg_scale?: number;
  width?: number;
  height?: number;
  model?: string;
  /** txt2img only. */
  upscale?: { denoising_strength: number; scale: number; upscaler: string };
  /** img2img only (required there). */
  init_image?: string;
  /** img2img only. */
  denoising_strength?: number;
}

/** Characters a LoRA name may not contain: A1111 reads `<lora:name:weight>` up to `>` and splits it at `:`. */
const TAG_BREAKERS = /[:<>]/;

/**
 * The `<lora:name:weight>` tag of one SDCN LoRA: the name as given, the weight as JavaScript prints the JSON
 * number (`0.5`, `1`, `-0.25`; also what SDCN's Lua printed for these values).
 */
export function loraTag([name, weight]: SdcnLora): string {
  return `<lora:${name}:${String(weight)}>`;
}

/**
 * The prompt with the LoRA tags appended as SDCN did: each tag after a `,` with no space, so a prompt sent to
 * SDCN yields the same A1111 prompt here (`"A dog"` + `[["a", 0.5], ["b", 0.6]]` →
 * `"A dog,<lora:a:0.5>,<lora:b:0.6>"`). Without a prompt (absent or `""`) the tags are joined with `,` and no
 * leading `,`. With no LoRAs the prompt is returned as it is (undefined stays undefined).
 */
export function appendLoras(prompt: string | undefined, loras: readonly SdcnLora[]): string | undefined {
  if (loras.length === 0) return prompt;
  const tags = loras.map(loraTag);
  return prompt === undefined || prompt === '' ? tags.join(',') : [prompt, ...tags].join(',');
}

/** Field paths of LoRA names that would break their tag, as `loras[i][0]: "…" is not allowed (…)` issues. */
function loraNameIssues(loras: readonly SdcnLora[]): string[] {
  const issues: string[] = [];
  loras.forEach(([name], i) => {
    if (TAG_BREAKERS.test(name)) {
      issues.push(`${appendIndex(appendIndex('loras', i), 0)}: ${showValue(name)} is not allowed (a LoRA name cannot contain ":", "<" or ">": it would break the <lora:name:weight> tag)`);
    }
  });
  return issues;
}

/** The names of a validated SDCN generation payload to check against A1111's lists, with SDCN's field paths. */
function namedValues(p: SdcnGenerationPayload): NamedValue[] {
  const values: NamedValue[] = [];
  if (p.model !== undefined) values.push({ kind: 'checkpoint', path: 'model', value: p.model });
  if (p.sampler_name !== undefined) values.push({ kind: 'sampler', path: 'sampler_name', value: p.sampler_name });
  (p.loras ?? []).forEach(([name], i) => values.push({ kind: 'lora', path: appendIndex(appendIndex('loras', i), 0), value: name }));
  if (p.upscale !== undefined) values.push({ kind: 'hr-upscaler', path: 'upscale.upscaler', value: p.upscale.upscaler });
  return values;
}

/** SDCN fields that do not pass through under their own name. */
const MAPPED_FIELDS = new Set(['loras', 'model', 'upscale', 'init_image']);

/**
 * The A1111 payload of a validated SDCN txt2img/img2img payload (pure; see the module comment for the table).
 * Fields keep their input order; `prompt` is set only when the input has a prompt or LoRAs; `init_images` comes
 * first for img2img. Nothing else is added: no defaults, no `override_settings_restore_afterwards` (A1111's
 * default `true` puts the worker's checkpoint back after the job, which is right for a shared worker).
 */
export function sdcnToA1111(endpoint: '/txt2img' | '/img2img', p: SdcnGenerationPayload): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (endpoint === '/img2img' && p.init_image !== undefined) out.init_images = [p.init_image];
  for (const [key, value] of Object.entries(p)) {
    if (!MAPPED_FIELDS.has(key)) out[key] = value;
  }
  const prompt = appendLoras(p.prompt, p.loras ?? []);
  if (prompt !== undefined) out.prompt = prompt;
  if (p.model !== undefined) out.override_settings = { sd_model_checkpoint: p.model };
  if (endpoint === '/txt2img' && p.upscale !== undefined) {
    out.enable_hr = true;
    out.hr_scale = p.upscale.scale;
    out.hr_upscaler = p.upscale.upscaler;
    out.denoising_strength = p.upscale.denoising_strength;
  }
  return out;
}

/** SDCN's success output of a generation: `{images}` only. */
function reshapeImages(answer: Record<string, unknown>): unknown {
  return { images: answer.images };
}

/** SDCN's (and A1111's) interrogate output: `{caption}` only. */
function reshapeCaption(answer: Record<string, unknown>): unknown {
  return { caption: answer.caption };
}

function isSdcnEndpoint(endpoint: string): endpoint is SdcnEndpoint {
  return Object.hasOwn(ENDPOINTS, endpoint);
}

/**
 * Validates and translates one SDCN request (the checks and mapping of the module comment).
 * @param endpoint `/txt2img`, `/img2img` or `/interrogate`
 * @param payload the job's `input.payload`
 * @param ctx the name lists, `STRICT_NAMES`, the job's signal and log
 * @returns the A1111 route and payload, and the builder of SDCN's output
 * @throws JobInputError naming SDCN's fields, e.g. `invalid payload for SDCN POST /txt2img: loras[1][1]: 3 is not
 *   allowed (must be <= 2)` or `SDCN POST /txt2img: loras[0][0]: LoRA "detail" (<lora:detail>) is not known to
 *   A1111 (did you mean "add_detail"?); valid: …` (with `STRICT_NAMES=false` unknown names are logged instead)
 * @throws A1111Error when A1111 cannot be reached for a name list
 */
export async function translateSdcn(endpoint: string, payload: unknown, ctx: DialectContext): Promise<Translation> {
  if (!isSdcnEndpoint(endpoint)) throw new JobInputError(`SDCN has no endpoint ${showValue(endpoint)} (it has POST ${Object.keys(ENDPOINTS).join(', ')})`);
  const spec = ENDPOINTS[endpoint];
  spec.validate(payload);
  if (endpoint === '/interrogate') {
    // Same fields as A1111's InterrogateRequest; the validated object is sent as it is.
    return { route: spec.route, payload: payload as Record<string, unknown>, reshape: reshapeCaption };
  }
  const p = payload as SdcnGenerationPayload;
  const nameIssues = loraNameIssues(p.loras ?? []);
  if (nameIssues.length) throw new JobInputError(`invalid payload for ${spec.where}: ${nameIssues.join('; ')}`);
  const names = namedValues(p);
  await checkDialectNames(names, spec.where, ctx);
  return { route: spec.route, payload: sdcnToA1111(endpoint, p), reshape: reshapeImages, checked: { names } };
}

/** SDCN's `/txt2img`, `/img2img`, `/interrogate` (see the module comment). */
export const sdcnDialect: Dialect = {
  name: 'SDCN',
  endpoints: ['/txt2img', '/img2img', '/interrogate'],
  translate: translateSdcn,
};
