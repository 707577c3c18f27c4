/**
 * ControlNet as an installed extension (Mikubill/sd-webui-controlnet `scripts/api.py`,
 * `internal_controlnet/external_code.py`, `scripts/controlnet.py`) or as Forge's
 * built-in (`extensions-builtin/sd_forge_controlnet/lib_controlnet/api.py`):
 * its `/controlnet/*` routes, and the always-on script's units in a generation
 * (a detected map per enabled unit, appended to `images`).
 */
import { decodeImageInput, validateRequest, type SimEnv } from '../env.js';
import { httpException, pyException } from '../errors.js';
import { bodyForModel, queryBool, type RouteHandler } from '../http.js';
import type { RequestModel } from '../models.js';
import { fnv1aBytes } from '../png.js';

/** `GET /controlnet/version` of Mikubill's extension (`external_code.get_api_version()`). */
export const CONTROLNET_API_VERSION = 3;

/** ControlNet models of the simulated `models/ControlNet` folder (`/controlnet/model_list`: `name [hash]`). */
export const CONTROLNET_MODELS = [
  'control_v11p_sd15_canny [d14c016b]',
  'control_v11f1p_sd15_depth [cfd03158]',
  'control_v11p_sd15_openpose [cab727d4]',
  'control_v11p_sd15_lineart [43d4be0d]',
];

interface Slider {
  name: string;
  value: number;
  min: number;
  max: number;
  step: number;
}
const RES: Slider = { name: 'Resolution', value: 512, min: 64, max: 2048, step: 8 };

/**
 * Preprocessors of Mikubill's extension: internal `name` (the `legacy_preprocessors` key, e.g. `depth`) and UI
 * `label` (its alias, e.g. `depth_midas`; the name when it has none), control-type tag, model-free flag, sliders
 * (`scripts/preprocessor/legacy/preprocessor_compiled.py`, `scripts/preprocessor/model_free_preprocessors.py`;
 * the `Normal Background Threshold` slider of `normal_map` from the same table). Listed in
 * `Preprocessor.get_sorted_preprocessors()` order (`scripts/supported_preprocessor.py`): `none` first, then by
 * `str(priority).zfill(8) + label`, descending. `Preprocessor.get_preprocessor(x)` finds a label first, then a name,
 * so units and `/controlnet/detect` accept both. Forge's built-in ControlNet names them by label only.
 */
const PREPROCESSORS: { name: string; label: string; tag: string | null; modelFree: boolean; sliders: Slider[] }[] = [
  { name: 'none', label: 'none', tag: null, modelFree: false, sliders: [] },
  { name: 'reference_only', label: 'reference_only', tag: 'Reference', modelFree: true, sliders: [{ name: 'Style Fidelity (only for Balanced mode)', value: 0.5, min: 0, max: 1, step: 0.01 }] },
  { name: 'openpose_full', label: 'openpose_full', tag: 'OpenPose', modelFree: false, sliders: [RES] },
  { name: 'depth', label: 'depth_midas', tag: 'Depth', modelFree: false, sliders: [RES] },
  { name: 'clip_vision', label: 't2ia_style_clipvision', tag: 'T2I-Adapter', modelFree: false, sliders: [] },
  { name: 'openpose', label: 'openpose', tag: 'OpenPose', modelFree: false, sliders: [RES] },
  { name: 'normal_map', label: 'normal_midas', tag: 'NormalMap', modelFree: false, sliders: [RES, { name: 'Normal Background Threshold', value: 0.4, min: 0, max: 1, step: 0.01 }] },
  { name: 'lineart', label: 'lineart_realistic', tag: 'Lineart', modelFree: false, sliders: [RES] },
  { name: 'depth_zoe', label: 'depth_zoe', tag: 'Depth', modelFree: false, sliders: [RES] },
  {
    name: 'canny',
    label: 'canny',
    tag: 'Canny',
    modelFree: false,
    sliders: [RES, { name: 'Low Threshold', value: 100, min: 1, max: 255, step: 1 }, { name: 'High Threshold', value: 200, min: 1, max: 255, step: 1 }],
  },
];

/** `Preprocessor.get_preprocessor`: by label, then by name (Forge: by label only). */
export function findPreprocessor(module: string, forge: boolean): (typeof PREPROCESSORS)[number] | undefined {
  return PREPROCESSORS.find((p) => p.label === module) ?? (forge ? undefined : PREPROCESSORS.find((p) => p.name === module));
}

const MODEL_FOR_TAG: Record<string, string> = {
  Canny: CONTROLNET_MODELS[0],
  Depth: CONTROLNET_MODELS[1],
  OpenPose: CONTROLNET_MODELS[2],
  Lineart: CONTROLNET_MODELS[3],
};

function controlTypes(): Record<string, unknown> {
  const tags = ['All', ...new Set(PREPROCESSORS.map((p) => p.tag).filter((t): t is string => t !== null))];
  const out: Record<string, unknown> = {};
  for (const tag of tags) {
    const modules = tag === 'All' ? PREPROCESSORS.map((p) => p.label) : ['none', ...PREPROCESSORS.filter((p) => p.tag === tag).map((p) => p.label)];
    const model = MODEL_FOR_TAG[tag];
    out[tag] = {
      module_list: modules,
      model_list: ['None', ...(tag === 'All' ? CONTROLNET_MODELS : model ? [model] : [])],
      default_option: tag === 'All' ? 'none' : (modules[1] ?? 'none'),
      default_model: model ?? 'None',
    };
  }
  return out;
}

/** Body of `POST /controlnet/detect` (FastAPI names the embedded-body model `Body_detect_controlnet_detect_post`). */
export function detectModel(forge: boolean): RequestModel {
  const dflt = forge ? { res: 512, a: 64, b: 64 } : { res: -1, a: -1, b: -1 };
  return {
    name: 'Body_detect_controlnet_detect_post',
    fields: [
      { name: 'controlnet_module', type: 'str', default: 'none', title: 'Controlnet Module' },
      { name: 'controlnet_input_images', type: 'list[str]', default: [], title: 'Controlnet Input Images' },
      { name: 'controlnet_processor_res', type: 'int', default: dflt.res, title: 'Controlnet Processor Resolution' },
      { name: 'controlnet_threshold_a', type: 'float', default: dflt.a, title: 'Controlnet Threshold a' },
      { name: 'controlnet_threshold_b', type: 'float', default: dflt.b, title: 'Controlnet Threshold b' },
      ...(forge
        ? []
        : [
            { name: 'controlnet_masks', type: 'list[str]' as const, default: [], title: 'Controlnet Masks' },
            { name: 'low_vram', type: 'bool' as const, default: false, title: 'Low vram' },
          ]),
    ],
  };
}

/**
 * `POST /controlnet/detect`: unknown module → 422 `Module not available`; (Mikubill) CLIP-vision
 * modules → 422 `Module not supported`; no image → 422 `No image selected`; else one map per input image
 * (a PNG whose short side is the processor resolution, 512 when ≤ 0) and `info: "Success"`.
 */
async function detect(env: SimEnv, body: unknown): Promise<Record<string, unknown>> {
  const forge = env.flavor === 'forge';
  const { values: req } = validateRequest(env, body, detectModel(forge));
  const module = req['controlnet_module'] as string;
  if (!findPreprocessor(module, forge)) throw httpException(422, 'Module not available');
  if (!forge && ['clip_vision', 'revision_clipvision', 'revision_ignore_prompt', 'ip-adapter-auto'].includes(module)) {
    throw httpException(422, 'Module not supported');
  }
  const inputs = req['controlnet_input_images'] as string[];
  if (inputs.length === 0) throw httpException(422, 'No image selected');
  const res = (req['controlnet_processor_res'] as number) > 0 ? (req['controlnet_processor_res'] as number) : 512;
  const images: string[] = [];
  for (const input of inputs) {
    const img = await decodeImageInput(env, input);
    const k = res / Math.min(img.header.width, img.header.height);
    const w = Math.max(1, Math.round(img.header.width * k));
    const h = Math.max(1, Math.round(img.header.height * k));
    const png = await env.cache.get({ seed: fnv1aBytes(img.bytes), prompt: `detect ${module}`, width: w, height: h, variant: 'cn' });
    images.push(png.toString('base64'));
  }
  return forge ? { images, info: 'Success' } : { info: 'Success', images };
}

/**
 * The `/controlnet/*` routes by full path. Mikubill: `version`, `model_list` (`?update=`), `module_list`
 * (`?alias_names=`, with `module_detail`), `control_types`, `settings`, `detect`. Forge's built-in has no
 * `version`/`settings` and no `module_detail`.
 */
export function controlnetRoutes(env: SimEnv): { get: Record<string, RouteHandler>; post: Record<string, RouteHandler> } {
  const forge = env.flavor === 'forge';
  const moduleDetail = (alias: boolean) =>
    Object.fromEntries(PREPROCESSORS.map((p) => [alias ? p.label : p.name, { model_free: p.modelFree, sliders: p.sliders.map((s) => ({ ...s })) }]));
  const get: Record<string, RouteHandler> = {
    '/controlnet/model_list': (c) => {
      if (!forge) queryBool(c.query, 'update', true);
      return { model_list: [...CONTROLNET_MODELS] };
    },
    '/controlnet/module_list': (c) => {
      // Forge: `get_all_preprocessor_names()` (labels); Mikubill: `external_code.get_modules(alias_names)`
      if (forge) return { module_list: PREPROCESSORS.map((p) => p.label) };
      const alias = queryBool(c.query, 'alias_names', false);
      return { module_list: PREPROCESSORS.map((p) => (alias ? p.label : p.name)), module_detail: moduleDetail(alias) };
    },
    '/controlnet/control_types': () => ({ control_types: controlTypes() }),
  };
  if (!forge) {
    get['/controlnet/version'] = () => ({ version: CONTROLNET_API_VERSION });
    get['/controlnet/settings'] = () => ({ control_net_unit_count: Number(env.catalog.options['control_net_unit_count'] ?? 3) });
  }
  return { get, post: { '/controlnet/detect': (c) => detect(env, bodyForModel(c.body, env.flavor)) } };
}

/**
 * The units of `alwayson_scripts.controlnet.args` in a generation (`scripts/controlnet.py`): each enabled
 * unit (an object with `enabled: true`) needs an image (`image`, or legacy `input_image`), else the
 * img2img init image; txt2img without one → 500 `ValueError: controlnet is enabled but no input image is
 * given`. Images decode like A1111's (500 `Invalid encoded image`).
 *
 * @returns one key per detected map to append (units with `save_detected_map` false add none; none at
 *   all when the `control_net_no_detectmap` option is true)
 */
export async function controlnetDetectMaps(env: SimEnv, args: unknown[], initImage: string | null): Promise<string[]> {
  const keys: string[] = [];
  for (const [i, unit] of args.entries()) {
    if (!unit || typeof unit !== 'object' || Array.isArray(unit)) continue;
    const u = unit as Record<string, unknown>;
    if (u['enabled'] !== true) continue;
    let image = u['image'] ?? u['input_image'] ?? null;
    if (image && typeof image === 'object' && !Array.isArray(image)) image = (image as Record<string, unknown>)['image'] ?? null;
    const src = typeof image === 'string' && image !== '' ? image : initImage;
    if (src === null) throw pyException('ValueError', 'controlnet is enabled but no input image is given');
    const img = await decodeImageInput(env, src);
    if (u['save_detected_map'] === false) continue;
    keys.push(`${i}:${String(u['module'] ?? 'none')}:${fnv1aBytes(img.bytes).toString(16)}`);
  }
  return env.catalog.options['control_net_no_detectmap'] === true ? [] : keys;
}
