/**
 * Scripts of the simulated install and A1111's handling of `script_name` /
 * `alwayson_scripts` (A1111 v1.10.1 `modules/api/api.py`: `script_name_to_index`,
 * `get_selectable_script`, `get_script`, `init_script_args`; Forge's copy is the same).
 */
import { httpException, pyException, pyTypeName } from './errors.js';
import type { SimFlavor } from './models.js';
import { FORGE_ALWAYSON, WILDCARDS_TITLE, forgeScriptArgs, scriptArg, type ScriptArg } from './scripts-builtin.js';

export type { ScriptArg } from './scripts-builtin.js';

/** Script titles of one tab. */
export interface ScriptSet {
  selectable: string[];
  alwayson: string[];
}

/** Script titles per tab. */
export interface SimScripts {
  txt2img: ScriptSet;
  img2img: ScriptSet;
}

const arg = (label: string | null, value: unknown, minimum: unknown = null, maximum: unknown = null, step: unknown = null): ScriptArg =>
  scriptArg(label, value, minimum, maximum, step);

/** Default ControlNet unit as `external_code.ControlNetUnit` dumps it (Mikubill `internal_controlnet/args.py`), abridged. */
export const CONTROLNET_DEFAULT_UNIT = {
  enabled: false,
  module: 'none',
  model: 'None',
  weight: 1.0,
  image: null,
  resize_mode: 'Crop and Resize',
  low_vram: false,
  processor_res: -1,
  threshold_a: -1,
  threshold_b: -1,
  guidance_start: 0.0,
  guidance_end: 1.0,
  pixel_perfect: false,
  control_mode: 'Balanced',
  save_detected_map: true,
};

/** Default ADetailer tab arguments (Bing-su/adetailer `adetailer/args.py` `ADetailerArgs`), abridged. */
export const ADETAILER_DEFAULT_TAB = { ad_model: 'None', ad_confidence: 0.3, ad_denoising_strength: 0.4 };

/** Argument lists of the always-on scripts that have any (others: `[]`). */
function alwaysonArgs(title: string): ScriptArg[] {
  if (title === 'Seed') return [arg('Seed', -1), arg('Extra', false)];
  if (title === 'Refiner') return [arg('Refiner', false), arg('Checkpoint', ''), arg('Switch at', 0.8, 0.01, 1.0, 0.01)];
  // ControlNet: one state per unit (`control_net_unit_count`, default 3)
  if (title === 'ControlNet') return [0, 1, 2].map(() => arg(null, { ...CONTROLNET_DEFAULT_UNIT }));
  // ADetailer: enable, skip img2img, then one dict per tab (`ad_max_models`, default 4)
  if (title === 'ADetailer') return [arg('Enable ADetailer', false), arg('Skip img2img', false), ...[0, 1, 2, 3].map(() => arg(null, { ...ADETAILER_DEFAULT_TAB }))];
  return forgeScriptArgs(title) ?? [];
}

/**
 * The scripts of a fresh install of the flavor, plus the installed extensions' always-on scripts
 * (ControlNet's title is `ControlNet`, ADetailer's `ADetailer`, wildcards' `Simple wildcards`).
 * - A1111 v1.10.1: `scripts/*.py`, `modules/processing_scripts/*.py` (Refiner, Seed, Sampler, Comments) and the
 *   built-in extensions (hypertile, extra-options-section, Lora, soft-inpainting: img2img only).
 * - Forge: the same core scripts without Comments (Forge's `modules/processing_scripts/comments.py` has no script
 *   class), no Hypertile nor LoRA script (`extensions-builtin/` has neither), ControlNet built in
 *   (`sd_forge_controlnet`), and its `*Integrated` scripts (`scripts-builtin.ts`).
 */
export function buildScripts(flavor: SimFlavor, extensions: ReadonlySet<string>): SimScripts {
  const extra: string[] = [];
  if (flavor === 'forge' || extensions.has('controlnet')) extra.push('ControlNet');
  if (extensions.has('adetailer')) extra.push('ADetailer');
  if (extensions.has('wildcards')) extra.push(WILDCARDS_TITLE);
  const core = flavor === 'forge' ? ['Refiner', 'Seed', 'Sampler', 'Extra options', ...FORGE_ALWAYSON.map((x) => x.title)] : ['Refiner', 'Seed', 'Sampler', 'Hypertile', 'Comments', 'Extra options', 'LoRA'];
  const softInpainting = (list: string[]): string[] => (flavor === 'forge' ? [...list, 'Soft Inpainting'] : [...list.slice(0, 3), 'Soft Inpainting', ...list.slice(3)]);
  return {
    txt2img: {
      selectable: ['Prompt matrix', 'Prompts from file or textbox', 'X/Y/Z plot'],
      alwayson: [...core, ...extra],
    },
    img2img: {
      selectable: ['img2img alternative test', 'Loopback', 'Outpainting mk2', "Poor man's outpainting", 'Prompt matrix', 'Prompts from file or textbox', 'SD upscale', 'X/Y/Z plot'],
      alwayson: [...softInpainting(core), ...extra],
    },
  };
}

/** `GET /sdapi/v1/scripts`: `script.name` (the lower-cased title) of every script per tab. */
export function scriptsList(s: SimScripts): { txt2img: string[]; img2img: string[] } {
  return {
    txt2img: [...s.txt2img.selectable, ...s.txt2img.alwayson].map((t) => t.toLowerCase()),
    img2img: [...s.img2img.selectable, ...s.img2img.alwayson].map((t) => t.toLowerCase()),
  };
}

/** `GET /sdapi/v1/script-info`: `[{name, is_alwayson, is_img2img, args}]`, txt2img scripts then img2img ones. */
export function scriptInfo(s: SimScripts): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [tab, isImg2img] of [
    ['txt2img', false],
    ['img2img', true],
  ] as const) {
    for (const title of s[tab].selectable) out.push({ name: title.toLowerCase(), is_alwayson: false, is_img2img: isImg2img, args: [] });
    for (const title of s[tab].alwayson) out.push({ name: title.toLowerCase(), is_alwayson: true, is_img2img: isImg2img, args: alwaysonArgs(title) });
  }
  return out;
}

/** `get_selectable_script`: an unknown `script_name` (case-insensitive) → 422 `Script '<x>' not found`. */
export function checkSelectableScript(s: ScriptSet, name: unknown): void {
  if (typeof name !== 'string' || name === '') return;
  if (!s.selectable.some((t) => t.toLowerCase() === name.toLowerCase())) throw httpException(422, `Script '${name}' not found`);
}

/**
 * A1111's `init_script_args` for `alwayson_scripts`, by the letter:
 * - each key goes through `script_name_to_index` over all scripts (case-insensitive): unknown → 422
 *   `Script '<x>' not found` (the `always on script <x> not found` branch after it is unreachable);
 *   `""` → `get_script` returns a tuple → 500 `AttributeError`;
 * - a selectable script → 422 `Cannot have a selectable script in the always on scripts params`;
 * - `if "args" in value`: an object without `args`, a list or a string not containing `"args"` are passed
 *   over; `null`/numbers/booleans raise `TypeError` (500); a list/string that does contain `"args"` fails
 *   indexing it with `"args"` (500);
 * - `args` must have a `len()` (`null`/number → 500 `TypeError`).
 *
 * @returns the `args` given per script, keyed by the script's title as installed
 */
export function alwaysonScriptArgs(s: ScriptSet, always: Record<string, unknown> | null): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  if (!always) return out;
  for (const [key, v] of Object.entries(always)) {
    if (key === '') throw pyException('AttributeError', "'tuple' object has no attribute 'alwayson'");
    const lower = key.toLowerCase();
    const title = s.alwayson.find((t) => t.toLowerCase() === lower);
    const selectable = s.selectable.some((t) => t.toLowerCase() === lower);
    if (!title && !selectable) throw httpException(422, `Script '${key}' not found`);
    if (!title) throw httpException(422, 'Cannot have a selectable script in the always on scripts params');
    if (v === null || typeof v === 'number' || typeof v === 'boolean') {
      throw pyException('TypeError', `argument of type '${pyTypeName(v)}' is not iterable`);
    }
    if (typeof v === 'string') {
      if (v.includes('args')) throw pyException('TypeError', 'string indices must be integers');
      continue;
    }
    if (Array.isArray(v)) {
      if (v.includes('args')) throw pyException('TypeError', 'list indices must be integers or slices, not str');
      continue;
    }
    const obj = v as Record<string, unknown>;
    if (!('args' in obj)) continue;
    const args = obj['args'];
    if (args === null || typeof args === 'number' || typeof args === 'boolean') {
      throw pyException('TypeError', `object of type '${pyTypeName(args)}' has no len()`);
    }
    if (typeof args === 'string') out.set(title, [...args]);
    else if (Array.isArray(args)) out.set(title, args);
    else {
      // a JSON object's keys are strings, so `args[0]` on a non-empty one is a KeyError
      if (Object.keys(args as object).length > 0) throw pyException('KeyError', '0');
      out.set(title, []);
    }
  }
  return out;
}
