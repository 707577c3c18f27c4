/**
 * A small pydantic-v1 imitation for the request models of A1111's API
 * (spec §2.6, §2.7, §2.13): type coercion rules, defaults for unsent fields,
 * unknown fields ignored, and FastAPI's 422 `detail[]` issues on wrong types.
 */
import { validationError, type ValidationIssue } from './errors.js';

/** Field types understood by {@link validateModel} (pydantic v1 semantics). */
export type FieldType =
  | 'str'
  | 'int'
  | 'float'
  | 'bool'
  | 'dict'
  | 'list'
  | 'list[str]'
  | 'any'
  | { literal: number[] }
  | { listOf: FieldSpec[] };

/** One model field: name, type, default, and optional numeric constraints. */
export interface FieldSpec {
  name: string;
  type: FieldType;
  /** Value used when the field is absent; cloned for mutable values. */
  default?: unknown;
  /** No default: absence gives `field required` (pydantic `value_error.missing`). */
  required?: boolean;
  /** `Optional[...]`: `null` allowed. A1111's processing models make every field Optional. */
  nullable?: boolean;
  gt?: number;
  ge?: number;
  le?: number;
}

/** Result of a successful validation: coerced values plus which fields were sent. */
export interface ValidatedModel {
  values: Record<string, unknown>;
  /** Names of fields present in the request (pydantic `__fields_set__`). */
  fieldsSet: Set<string>;
}

const PY_TRUE = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const PY_FALSE = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

function issue(loc: (string | number)[], msg: string, type: string, ctx?: Record<string, unknown>): ValidationIssue {
  return ctx ? { loc, msg, type, ctx } : { loc, msg, type };
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Python `int(v)` for a JSON value, or `undefined` when Python would raise. */
export function pyInt(v: unknown): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : undefined;
  if (typeof v === 'string') {
    const t = v.trim();
    if (!/^[+-]?\d+(_\d+)*$/.test(t)) return undefined;
    return Number(t.replace(/_/g, ''));
  }
  return undefined;
}

/** Python `float(v)` for a JSON value, or `undefined` when Python would raise. */
export function pyFloat(v: unknown): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (/^[+-]?(inf|infinity)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    if (/^[+-]?nan$/.test(t)) return NaN;
    if (!/^[+-]?((\d+(_\d+)*)?\.?\d+(_\d+)*|\d+(_\d+)*\.)(e[+-]?\d+)?$/.test(t)) return undefined;
    return Number(t.replace(/_/g, ''));
  }
  return undefined;
}

function validateValue(v: unknown, spec: FieldSpec, loc: (string | number)[], issues: ValidationIssue[]): unknown {
  if (v === null) {
    if (spec.nullable) return null;
    issues.push(issue(loc, 'none is not an allowed value', 'type_error.none.not_allowed'));
    return undefined;
  }
  const t = spec.type;
  let out: unknown;
  if (t === 'any') return v;
  if (t === 'str') {
    if (typeof v === 'string') out = v;
    else if (typeof v === 'boolean') out = v ? 'True' : 'False';
    else if (typeof v === 'number') out = Number.isInteger(v) ? String(v) : String(v);
    else {
      issues.push(issue(loc, 'str type expected', 'type_error.str'));
      return undefined;
    }
  } else if (t === 'int') {
    out = pyInt(v);
    if (out === undefined) {
      issues.push(issue(loc, 'value is not a valid integer', 'type_error.integer'));
      return undefined;
    }
  } else if (t === 'float') {
    out = pyFloat(v);
    if (out === undefined) {
      issues.push(issue(loc, 'value is not a valid float', 'type_error.float'));
      return undefined;
    }
  } else if (t === 'bool') {
    if (typeof v === 'boolean') out = v;
    else if (typeof v === 'number' && (v === 0 || v === 1)) out = v === 1;
    else if (typeof v === 'string' && PY_TRUE.has(v.toLowerCase())) out = true;
    else if (typeof v === 'string' && PY_FALSE.has(v.toLowerCase())) out = false;
    else {
      issues.push(issue(loc, 'value could not be parsed to a boolean', 'type_error.bool'));
      return undefined;
    }
  } else if (t === 'dict') {
    if (typeof v === 'object' && !Array.isArray(v)) out = v;
    else if (Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2)) {
      // pydantic v1 falls back to dict(v), which accepts a list of pairs.
      out = Object.fromEntries((v as unknown[][]).map(([k, val]) => [String(k), val]));
    } else {
      issues.push(issue(loc, 'value is not a valid dict', 'type_error.dict'));
      return undefined;
    }
  } else if (t === 'list' || t === 'list[str]') {
    if (!Array.isArray(v)) {
      issues.push(issue(loc, 'value is not a valid list', 'type_error.list'));
      return undefined;
    }
    if (t === 'list') return v;
    const before = issues.length;
    const items = v.map((item, i) => validateValue(item, { name: String(i), type: 'str' }, [...loc, i], issues));
    return issues.length === before ? items : undefined;
  } else if ('literal' in t) {
    if (typeof v === 'number' || typeof v === 'boolean') {
      const n = typeof v === 'boolean' ? (v ? 1 : 0) : v;
      if (t.literal.includes(n)) return n;
    }
    issues.push(
      issue(loc, `unexpected value; permitted: ${t.literal.join(', ')}`, 'value_error.const', {
        given: v,
        permitted: t.literal,
      }),
    );
    return undefined;
  } else if ('listOf' in t) {
    if (!Array.isArray(v)) {
      issues.push(issue(loc, 'value is not a valid list', 'type_error.list'));
      return undefined;
    }
    const before = issues.length;
    const items = v.map((item, i) => validateObject(item, t.listOf, [...loc, i], issues)?.values);
    return issues.length === before ? items : undefined;
  }
  if (typeof out === 'number') {
    if (spec.gt !== undefined && !(out > spec.gt)) {
      issues.push(issue(loc, `ensure this value is greater than ${spec.gt}`, 'value_error.number.not_gt', { limit_value: spec.gt }));
      return undefined;
    }
    if (spec.ge !== undefined && !(out >= spec.ge)) {
      issues.push(
        issue(loc, `ensure this value is greater than or equal to ${spec.ge}`, 'value_error.number.not_ge', { limit_value: spec.ge }),
      );
      return undefined;
    }
    if (spec.le !== undefined && !(out <= spec.le)) {
      issues.push(
        issue(loc, `ensure this value is less than or equal to ${spec.le}`, 'value_error.number.not_le', { limit_value: spec.le }),
      );
      return undefined;
    }
  }
  return out;
}

function validateObject(
  body: unknown,
  fields: FieldSpec[],
  loc: (string | number)[],
  issues: ValidationIssue[],
): ValidatedModel | undefined {
  if (body === null || body === undefined) {
    issues.push(issue(loc, 'field required', 'value_error.missing'));
    return undefined;
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    issues.push(issue(loc, 'value is not a valid dict', 'type_error.dict'));
    return undefined;
  }
  const src = body as Record<string, unknown>;
  const values: Record<string, unknown> = {};
  const fieldsSet = new Set<string>();
  const before = issues.length;
  for (const f of fields) {
    if (Object.prototype.hasOwnProperty.call(src, f.name)) {
      fieldsSet.add(f.name);
      values[f.name] = validateValue(src[f.name], f, [...loc, f.name], issues);
    } else if (f.required) {
      issues.push(issue([...loc, f.name], 'field required', 'value_error.missing'));
    } else {
      values[f.name] = clone(f.default ?? null);
    }
  }
  return issues.length === before ? { values, fieldsSet } : undefined;
}

/**
 * Validates a parsed JSON request body against a model (spec §2.6/§2.7/§2.13)
 * the way FastAPI + pydantic v1 would. Unknown keys are ignored.
 *
 * @param body parsed JSON body, or `undefined` when the request had no body
 * @returns coerced values (defaults filled) and the set of fields that were sent
 * @throws SimHttpError 422 `{"detail":[{loc:["body",...],msg,type}]}` on any issue
 */
export function validateModel(body: unknown, fields: FieldSpec[]): ValidatedModel {
  const issues: ValidationIssue[] = [];
  const res = validateObject(body, fields, ['body'], issues);
  if (!res || issues.length > 0) throw validationError(issues);
  return res;
}

/** Shorthand for an Optional field with a default (A1111 processing models). */
function opt(name: string, type: FieldType, def: unknown = null): FieldSpec {
  return { name, type, default: def, nullable: true };
}

/** Fields shared by txt2img and img2img (StableDiffusionProcessing, spec §2.6). */
const COMMON_HEAD: FieldSpec[] = [
  opt('prompt', 'str', ''),
  opt('negative_prompt', 'str', ''),
  opt('styles', 'list[str]'),
  opt('seed', 'int', -1),
  opt('subseed', 'int', -1),
  opt('subseed_strength', 'float', 0),
  opt('seed_resize_from_h', 'int', -1),
  opt('seed_resize_from_w', 'int', -1),
  opt('sampler_name', 'str'),
  opt('scheduler', 'str'),
  opt('batch_size', 'int', 1),
  opt('n_iter', 'int', 1),
  opt('steps', 'int', 50),
  opt('cfg_scale', 'float', 7.0),
  opt('width', 'int', 512),
  opt('height', 'int', 512),
  opt('restore_faces', 'bool'),
  opt('tiling', 'bool'),
  opt('do_not_save_samples', 'bool', false),
  opt('do_not_save_grid', 'bool', false),
  opt('eta', 'float'),
  opt('denoising_strength', 'float', 0.75),
  opt('s_min_uncond', 'float'),
  opt('s_churn', 'float'),
  opt('s_tmax', 'float'),
  opt('s_tmin', 'float'),
  opt('s_noise', 'float'),
  opt('override_settings', 'dict'),
  opt('override_settings_restore_afterwards', 'bool', true),
  opt('refiner_checkpoint', 'str'),
  opt('refiner_switch_at', 'float'),
  opt('disable_extra_networks', 'bool', false),
  opt('firstpass_image', 'str'),
  opt('comments', 'dict'),
];

/** API-only fields appended by A1111's model generator (spec §2.6). */
const API_TAIL: FieldSpec[] = [
  opt('sampler_index', 'str', 'Euler'),
  opt('script_name', 'str'),
  opt('script_args', 'list', []),
  opt('send_images', 'bool', true),
  opt('save_images', 'bool', false),
  opt('alwayson_scripts', 'dict', {}),
  opt('infotext', 'str'),
];

/** `StableDiffusionTxt2ImgProcessingAPI` (spec §2.6), in A1111's field order. */
export const TXT2IMG_FIELDS: FieldSpec[] = [
  ...COMMON_HEAD,
  opt('enable_hr', 'bool', false),
  opt('firstphase_width', 'int', 0),
  opt('firstphase_height', 'int', 0),
  opt('hr_scale', 'float', 2.0),
  opt('hr_upscaler', 'str'),
  opt('hr_second_pass_steps', 'int', 0),
  opt('hr_resize_x', 'int', 0),
  opt('hr_resize_y', 'int', 0),
  opt('hr_checkpoint_name', 'str'),
  opt('hr_sampler_name', 'str'),
  opt('hr_scheduler', 'str'),
  opt('hr_prompt', 'str', ''),
  opt('hr_negative_prompt', 'str', ''),
  opt('force_task_id', 'str'),
  ...API_TAIL,
];

/** `StableDiffusionImg2ImgProcessingAPI` (spec §2.7), in A1111's field order. */
export const IMG2IMG_FIELDS: FieldSpec[] = [
  ...COMMON_HEAD,
  opt('init_images', 'list'),
  opt('resize_mode', 'int', 0),
  opt('image_cfg_scale', 'float'),
  opt('mask', 'str'),
  opt('mask_blur_x', 'int', 4),
  opt('mask_blur_y', 'int', 4),
  opt('mask_blur', 'int'),
  opt('mask_round', 'bool', true),
  opt('inpainting_fill', 'int', 0),
  opt('inpaint_full_res', 'bool', true),
  opt('inpaint_full_res_padding', 'int', 0),
  opt('inpainting_mask_invert', 'int', 0),
  opt('initial_noise_multiplier', 'float'),
  opt('latent_mask', 'any'),
  opt('force_task_id', 'str'),
  ...API_TAIL,
  opt('include_init_images', 'bool', false),
];

/** `ExtrasBaseRequest` (spec §2.13); these fields are not Optional. */
const EXTRAS_BASE: FieldSpec[] = [
  { name: 'resize_mode', type: { literal: [0, 1] }, default: 0 },
  { name: 'show_extras_results', type: 'bool', default: true },
  { name: 'gfpgan_visibility', type: 'float', default: 0, ge: 0, le: 1 },
  { name: 'codeformer_visibility', type: 'float', default: 0, ge: 0, le: 1 },
  { name: 'codeformer_weight', type: 'float', default: 0, ge: 0, le: 1 },
  { name: 'upscaling_resize', type: 'float', default: 2, gt: 0 },
  { name: 'upscaling_resize_w', type: 'int', default: 512, ge: 1 },
  { name: 'upscaling_resize_h', type: 'int', default: 512, ge: 1 },
  { name: 'upscaling_crop', type: 'bool', default: true },
  { name: 'upscaler_1', type: 'str', default: 'None' },
  { name: 'upscaler_2', type: 'str', default: 'None' },
  { name: 'extras_upscaler_2_visibility', type: 'float', default: 0, ge: 0, le: 1 },
  { name: 'upscale_first', type: 'bool', default: false },
];

/** `ExtrasSingleImageRequest` (spec §2.13). */
export const EXTRAS_SINGLE_FIELDS: FieldSpec[] = [...EXTRAS_BASE, { name: 'image', type: 'str', default: '' }];

/** `ExtrasBatchImagesRequest` (spec §2.13): `imageList: [{data, name}]` is required. */
export const EXTRAS_BATCH_FIELDS: FieldSpec[] = [
  ...EXTRAS_BASE,
  {
    name: 'imageList',
    type: {
      listOf: [
        { name: 'data', type: 'str', required: true },
        { name: 'name', type: 'str', required: true },
      ],
    },
    required: true,
  },
];

/** `InterrogateRequest` (spec §2.5). */
export const INTERROGATE_FIELDS: FieldSpec[] = [
  { name: 'image', type: 'str', default: '' },
  { name: 'model', type: 'str', default: 'clip' },
];

/** `PNGInfoRequest` (spec §2.5): `image` is required. */
export const PNGINFO_FIELDS: FieldSpec[] = [{ name: 'image', type: 'str', required: true }];
