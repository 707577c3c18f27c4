/**
 * The settings of the simulated install (`GET/POST /sdapi/v1/options`, `override_settings`):
 * A1111 v1.10.1 defaults (`modules/shared_options.py`), the options extensions add
 * (ControlNet `scripts/controlnet.py` `on_ui_settings`, ADetailer `scripts/!adetailer.py`),
 * Forge's own (`modules_forge/shared_options.py`), and how a POST sets them
 * (A1111 `Options.set` in `modules/options.py`; Forge `modules/sysinfo.py` `set_config`).
 */
import type { Checkpoint } from './catalog-data.js';
import a1111OptionsJson from './data/options-a1111.json' with { type: 'json' };
import { pyException } from './errors.js';
import { builtinOptions } from './options-builtin.js';
import { WILDCARDS_OPTIONS } from './extensions/wildcards.js';
import type { SimFlavor } from './models.js';
import { pyDumps, pyRepr, type PyValue } from './pyjson.js';

/**
 * Keys that A1111 refuses to change through the API (`restrict_api=True` in A1111 v1.10.1
 * `modules/shared_options.py`): `Options.set(..., is_api=True)` returns without setting them. Path options
 * (`outdir_*`, `temp_dir`) are not restricted (only hidden with `--hide-ui-dir-config`).
 */
export const RESTRICTED_OPTIONS = new Set(['api_enable_requests', 'api_forbid_local_requests', 'api_useragent']);

/**
 * The settings of a fresh A1111 v1.10.1: every setting of its `modules/shared_options.py` with its default, in the
 * file's order (`data/options-a1111.json`), as `GET /sdapi/v1/options` lists them on a fresh install
 * (`Options.__init__` in `modules/options.py` keeps `v.default` of each setting that is not `do_not_save`, so the
 * `OptionHTML` explanations are not listed). Read in Forge commit `e26abf87ecd1eefd9ab0a198eee56f9c643e4001`
 * ("Gradio 4 + WebUI 1.10") with Forge's own changes undone (`quicksettings_list` is `["sd_model_checkpoint"]`,
 * `img2img_editor_height` kept). Defaults computed from paths are written relative (`outputs/…`). The built-in
 * extensions' settings (`options-builtin.ts`) come with `extraOptions`.
 * @param ckpt the loaded checkpoint, for `sd_model_checkpoint` / `sd_checkpoint_hash`
 */
export function defaultOptions(ckpt: Checkpoint): Record<string, unknown> {
  const options = structuredClone(a1111OptionsJson) as Record<string, unknown>;
  // the keys exist in the file (value null): assigning keeps A1111's key order
  options['sd_model_checkpoint'] = ckpt.item.title;
  options['sd_checkpoint_hash'] = ckpt.item.sha256;
  return options;
}

/**
 * Options added after `shared_options.py`'s: the built-in extensions' (`builtinOptions`), the installed extensions'
 * and Forge's (defaults as their sources declare them).
 */
export function extraOptions(flavor: SimFlavor, extensions: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = builtinOptions(flavor);
  if (flavor === 'forge' || extensions.has('controlnet')) {
    Object.assign(out, {
      control_net_detectedmap_dir: 'detected_maps',
      control_net_models_path: '',
      control_net_modules_path: '',
      control_net_unit_count: 3,
      control_net_model_cache_size: 2,
      control_net_no_detectmap: false,
      control_net_detectmap_autosaving: false,
      control_net_allow_script_control: false,
      control_net_sync_field_args: true,
    });
  }
  if (extensions.has('adetailer')) {
    Object.assign(out, {
      ad_max_models: 4,
      ad_extra_models_dir: '',
      ad_save_images_dir: '',
      ad_save_previews: false,
      ad_save_images_before: false,
      ad_only_selected_scripts: true,
      ad_script_names: 'dynamic_prompting,dynamic_thresholding,lora_block_weight,negpip,wildcard_recursive,wildcards',
      ad_bbox_sortby: 'None',
      ad_same_seed_for_each_tab: false,
    });
  }
  if (extensions.has('wildcards')) Object.assign(out, WILDCARDS_OPTIONS);
  if (flavor === 'forge') {
    Object.assign(out, {
      forge_try_reproduce: 'None',
      forge_unet_storage_dtype: 'Automatic',
      forge_inference_memory: 1024,
      forge_async_loading: 'Queue',
      forge_pin_shared_memory: 'CPU',
      forge_preset: 'sd',
      forge_additional_modules: [],
      forge_canvas_plain: false,
      forge_canvas_toolbar_always: false,
    });
  }
  return out;
}

function pyEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** How one option is applied; `sd_model_checkpoint` loads through `loadCheckpoint`. */
export interface OptionSetter {
  options: Record<string, unknown>;
  /** resolves a checkpoint name (any alias) to its title, or undefined */
  resolveCheckpoint(name: string): string | undefined;
  /** switches and loads the checkpoint (under the queue lock) */
  loadCheckpoint(title: string): Promise<void>;
  /** Forge `module_list`: module file name → path */
  forgeModules(): Record<string, string>;
}

/**
 * A1111 `Options.set(key, value, is_api=True)`, one key: equal value → nothing; unknown key →
 * `KeyError` (500); `restrict_api` key → ignored; else set (checkpoint: load).
 */
async function setA1111(s: OptionSetter, k: string, v: unknown): Promise<void> {
  if (pyEqual(k in s.options ? s.options[k] : null, v)) return;
  if (!(k in s.options)) throw pyException('KeyError', pyRepr(k));
  if (RESTRICTED_OPTIONS.has(k)) return;
  if (k === 'sd_model_checkpoint') {
    const title = typeof v === 'string' ? s.resolveCheckpoint(v) : undefined;
    if (title) await s.loadCheckpoint(title);
    return;
  }
  s.options[k] = v;
}

/**
 * `POST /sdapi/v1/options` with a dict body.
 * - A1111 (`Api.set_config`): an unknown `sd_model_checkpoint` → 500 `RuntimeError: model '<x>' not found`
 *   before anything is set; then `Options.set` key by key (an unknown key stops the loop with `KeyError`,
 *   keys before it stay set).
 * - Forge (`sysinfo.set_config`): key by key, unchanged values skipped; the checkpoint check happens in
 *   the loop; `forge_additional_modules` keeps only known module names (stored as paths; `null` →
 *   `TypeError`); other keys as A1111's `Options.set`.
 */
export async function setOptions(s: OptionSetter, flavor: SimFlavor, req: Record<string, unknown>): Promise<void> {
  const notFound = (ck: unknown) => pyException('RuntimeError', `model ${typeof ck === 'string' ? pyRepr(ck) : pyDumps(ck as PyValue)} not found`);
  const ck = req['sd_model_checkpoint'];
  if (flavor === 'a1111') {
    if (ck !== undefined && ck !== null && (typeof ck !== 'string' || !s.resolveCheckpoint(ck))) throw notFound(ck);
    for (const [k, v] of Object.entries(req)) await setA1111(s, k, v);
    return;
  }
  for (const [k, v] of Object.entries(req)) {
    if (pyEqual(s.options[k], v)) continue;
    if (k === 'sd_model_checkpoint') {
      if (v !== null && (typeof v !== 'string' || !s.resolveCheckpoint(v))) throw notFound(v);
      if (typeof v === 'string') await s.loadCheckpoint(s.resolveCheckpoint(v) as string);
    } else if (k === 'forge_additional_modules') {
      s.options[k] = forgeModulesValue(s, v);
    } else {
      await setA1111(s, k, v);
    }
  }
}

/** Forge `main_entry.modules_change`: iterates the value, keeps names (or paths' basenames) in `module_list`, stores their paths. */
export function forgeModulesValue(s: OptionSetter, v: unknown): string[] {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') {
    throw pyException('TypeError', `'${v === null ? 'NoneType' : typeof v === 'boolean' ? 'bool' : Number.isInteger(v) ? 'int' : 'float'}' object is not iterable`);
  }
  const items = typeof v === 'string' ? [...v] : Array.isArray(v) ? v : Object.keys(v as object);
  const mods = s.forgeModules();
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') continue;
    const base = item.split(/[\\/]/).pop() ?? item;
    if (base in mods) out.push(mods[base]);
  }
  return out;
}
