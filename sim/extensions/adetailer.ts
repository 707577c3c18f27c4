/**
 * ADetailer as an installed extension (Bing-su/adetailer `scripts/!adetailer.py`,
 * `adetailer/args.py`, `adetailer/common.py`): its `/adetailer/v1/*` routes and
 * the always-on script's arguments in a generation.
 */
import type { RouteHandler } from '../http.js';
import type { RequestModel } from '../models.js';
import { pydantic1ModelSchema } from '../openapi-schema.js';
import type { PyValue } from '../pyjson.js';
import type { FieldSpec } from '../validation.js';

/** `adetailer/__version__.py`. */
export const ADETAILER_VERSION = '25.3.0';

/** `model_mapping` of a fresh install (`adetailer/common.py` `get_models`): the downloaded YOLO models, then mediapipe. */
export const ADETAILER_MODELS = [
  'face_yolov8n.pt',
  'face_yolov8s.pt',
  'hand_yolov8n.pt',
  'person_yolov8n-seg.pt',
  'person_yolov8s-seg.pt',
  'yolov8x-worldv2.pt',
  'mediapipe_face_full',
  'mediapipe_face_short',
  'mediapipe_face_mesh',
  'mediapipe_face_mesh_eyes_only',
];

const f = (name: string, type: FieldSpec['type'], def: unknown, extra: Partial<FieldSpec> = {}): FieldSpec => ({ name, type, default: def, ...extra });
const unit = { ge: 0, le: 1 };

/** `ADetailerArgs` (pydantic 1 model, `extra=forbid`), in field order. */
export const ADETAILER_ARGS: RequestModel = {
  name: 'ADetailerArgs',
  fields: [
    f('ad_model', 'str', 'None'),
    f('ad_model_classes', 'str', ''),
    f('ad_tab_enable', 'bool', true),
    f('ad_prompt', 'str', ''),
    f('ad_negative_prompt', 'str', ''),
    f('ad_confidence', 'float', 0.3, unit),
    f('ad_mask_filter_method', { strLiteral: ['Area', 'Confidence'] }, 'Area'),
    f('ad_mask_k', 'int', 0, { ge: 0 }),
    f('ad_mask_min_ratio', 'float', 0.0, unit),
    f('ad_mask_max_ratio', 'float', 1.0, unit),
    f('ad_dilate_erode', 'int', 4),
    f('ad_x_offset', 'int', 0),
    f('ad_y_offset', 'int', 0),
    f('ad_mask_merge_invert', { strLiteral: ['None', 'Merge', 'Merge and Invert'] }, 'None'),
    f('ad_mask_blur', 'int', 4, { ge: 0 }),
    f('ad_denoising_strength', 'float', 0.4, unit),
    f('ad_inpaint_only_masked', 'bool', true),
    f('ad_inpaint_only_masked_padding', 'int', 32, { ge: 0 }),
    f('ad_use_inpaint_width_height', 'bool', false),
    f('ad_inpaint_width', 'int', 512, { gt: 0 }),
    f('ad_inpaint_height', 'int', 512, { gt: 0 }),
    f('ad_use_steps', 'bool', false),
    f('ad_steps', 'int', 28, { gt: 0 }),
    f('ad_use_cfg_scale', 'bool', false),
    f('ad_cfg_scale', 'float', 7.0, { ge: 0 }),
    f('ad_use_checkpoint', 'bool', false),
    f('ad_checkpoint', 'str', null, { nullable: true }),
    f('ad_use_vae', 'bool', false),
    f('ad_vae', 'str', null, { nullable: true }),
    f('ad_use_sampler', 'bool', false),
    f('ad_sampler', 'str', 'DPM++ 2M Karras'),
    f('ad_scheduler', 'str', 'Use same scheduler'),
    f('ad_use_noise_multiplier', 'bool', false),
    f('ad_noise_multiplier', 'float', 1.0, { ge: 0.5, le: 1.5 }),
    f('ad_use_clip_skip', 'bool', false),
    f('ad_clip_skip', 'int', 1, { ge: 1, le: 12 }),
    f('ad_restore_face', 'bool', false),
    f('ad_controlnet_model', 'str', 'None'),
    f('ad_controlnet_module', 'str', 'None'),
    f('ad_controlnet_weight', 'float', 1.0, unit),
    f('ad_controlnet_guidance_start', 'float', 0.0, unit),
    f('ad_controlnet_guidance_end', 'float', 1.0, unit),
    f('is_api', 'bool', true),
  ],
};

/** The `/adetailer/v1/*` routes by full path: `version`, `schema` (`ADetailerArgs.schema()`), `ad_model`. */
export function adetailerRoutes(): { get: Record<string, RouteHandler>; post: Record<string, RouteHandler> } {
  return {
    get: {
      '/adetailer/v1/version': () => ({ version: ADETAILER_VERSION }),
      '/adetailer/v1/schema': () => ({ ...pydantic1ModelSchema(ADETAILER_ARGS, ''), additionalProperties: false }),
      '/adetailer/v1/ad_model': () => ({ ad_model: [...ADETAILER_MODELS] }),
    },
    post: {},
  };
}

/**
 * `alwayson_scripts.ADetailer.args` (`is_ad_enabled`, `get_args`): enabled when the first arg is `true`
 * (or not a bool) and some dict validates (`extra=forbid`: unknown keys make a dict invalid and it is
 * skipped) with `ad_model` other than `"None"`. Enabled jobs get ADetailer's infotext entries.
 *
 * @returns infotext entries (`ADetailer model`, `ADetailer confidence`, …, `ADetailer version`), `[]` if not enabled
 */
export function adetailerParams(args: unknown[]): [string, PyValue][] {
  if (args.length === 0) return [];
  const enabled = typeof args[0] === 'boolean' ? args[0] : true;
  if (!enabled) return [];
  const known = new Set(ADETAILER_ARGS.fields.map((x) => x.name));
  const tabs = args.filter((a): a is Record<string, unknown> => !!a && typeof a === 'object' && !Array.isArray(a));
  const valid = tabs.filter((t) => Object.keys(t).every((k) => known.has(k)) && typeof (t['ad_model'] ?? 'None') === 'string');
  const active = valid.filter((t) => (t['ad_model'] ?? 'None') !== 'None' && t['ad_tab_enable'] !== false);
  if (active.length === 0) return [];
  const out: [string, PyValue][] = [];
  active.forEach((t, i) => {
    const sfx = i === 0 ? '' : ` ${i + 1}${['st', 'nd', 'rd'][i] ?? 'th'}`;
    out.push([`ADetailer model${sfx}`, String(t['ad_model'])]);
  });
  out.push(['ADetailer version', ADETAILER_VERSION]);
  return out;
}
