import { ShapeError } from '../errors/index.js';
/**
 * The name lists the worker checks payloads against (A1111's own list routes and those of the ControlNet and
 * ADetailer extensions): which route gives each list, the shape of its entries, and how a 2xx answer is parsed into
 * them. The cache that fetches and refreshes them is {@link A1111Lists} in `lists.ts`.
 */

/**
 * The lists names are checked against:
 * - A1111 (A1111 `modules/api/api.py` routes): `samplers`, `schedulers` (1.9+), `sd-models`, `sd-vae`, `upscalers`,
 *   `latent-upscale-modes`, `loras` (built-in Lora extension), `prompt-styles`, `scripts`, `script-info`, `options`
 *   (the keys of `GET /sdapi/v1/options`);
 * - ControlNet (`Mikubill/sd-webui-controlnet` `scripts/api.py`; built into Forge): `controlnet-models`
 *   (`GET /controlnet/model_list`), `controlnet-modules` (`GET /controlnet/module_list`, preprocessor names),
 *   `controlnet-module-aliases` (`GET /controlnet/module_list?alias_names=true`, the UI labels);
 * - ADetailer (`Bing-su/adetailer`): `adetailer-models` (`GET /adetailer/v1/ad_model`).
 */
export type ListName =
  | 'samplers'
  | 'schedulers'
  | 'sd-models'
  | 'sd-vae'
  | 'upscalers'
  | 'latent-upscale-modes'
  | 'loras'
  | 'prompt-styles'
  | 'scripts'
  | 'script-info'
  | 'options'
  | 'controlnet-models'
  | 'controlnet-modules'
  | 'controlnet-module-aliases'
  | 'adetailer-models';

/** The route (full path, with its query when it has one) each list is read from with GET. */
export const LIST_PATHS: Readonly<Record<ListName, string>> = Object.freeze({
  samplers: '/sdapi/v1/samplers',
  schedulers: '/sdapi/v1/schedulers',
  'sd-models': '/sdapi/v1/sd-models',
  'sd-vae': '/sdapi/v1/sd-vae',
  upscalers: '/sdapi/v1/upscalers',
  'latent-upscale-modes': '/sdapi/v1/latent-upscale-modes',
  loras: '/sdapi/v1/loras',
  'prompt-styles': '/sdapi/v1/prompt-styles',
  scripts: '/sdapi/v1/scripts',
  'script-info': '/sdapi/v1/script-info',
  options: '/sdapi/v1/options',
  'controlnet-models': '/controlnet/model_list',
  'controlnet-modules': '/controlnet/module_list',
  'controlnet-module-aliases': '/controlnet/module_list?alias_names=true',
  'adetailer-models': '/adetailer/v1/ad_model',
});

/** Every {@link ListName}. */
export const LIST_NAMES: readonly ListName[] = Object.freeze(Object.keys(LIST_PATHS) as ListName[]);

/** The refresh route A1111 has for a list (a rescan of its model folder), by list. */
export const REFRESH_ROUTES: Readonly<Partial<Record<ListName, string>>> = Object.freeze({
  'sd-models': '/sdapi/v1/refresh-checkpoints',
  'sd-vae': '/sdapi/v1/refresh-vae',
  loras: '/sdapi/v1/refresh-loras',
});

/** One option of `GET /sdapi/v1/options`: its key and current value. */
export interface OptionEntry {
  readonly key: string;
  readonly value: unknown;
}

/** A sampler of `GET /sdapi/v1/samplers`: `[{name, aliases, options}]`. */
export interface SamplerEntry {
  readonly name: string;
  /** Old names (`k_euler_a`); A1111's API does **not** accept them (`modules/sd_samplers.py` matches names only), they only help suggestions. */
  readonly aliases: readonly string[];
  /** The sampler's default scheduler (`options.scheduler`, e.g. `karras`), when it has one. */
  readonly defaultScheduler: string | null;
}

/** A scheduler of `GET /sdapi/v1/schedulers`: `[{name, label, aliases, …}]` (A1111 1.9+). */
export interface SchedulerEntry {
  /** e.g. `karras` */
  readonly name: string;
  /** e.g. `Karras` */
  readonly label: string;
  /** e.g. `["SGMUniform"]`: recognised as a sampler-name suffix only, not as a `scheduler` value (`modules/sd_schedulers.py`). */
  readonly aliases: readonly string[];
}

/** A checkpoint of `GET /sdapi/v1/sd-models`: `[{title, model_name, hash, sha256, filename, config}]`. */
export interface CheckpointEntry {
  /** `name.safetensors [shorthash]`, or the file name when A1111 runs with `--no-hashing` */
  readonly title: string;
  readonly model_name: string;
  readonly hash: string | null;
  readonly sha256: string | null;
  readonly filename: string;
  /**
   * Every value A1111's `checkpoint_aliases` maps to this checkpoint, as far as the list shows them (`modules/sd_models.py` `checkpoint_aliases`):
   * the title, the file name relative to the models folder (title without ` [hash]`), `model_name`, the file's
   * base name without extension, `<that> [hash]`, and the short and full hashes. (A1111 also takes the old
   * 8-character hash, which `/sd-models` does not show, so it is not accepted here.)
   */
  readonly aliases: readonly string[];
}

/** A LoRA of `GET /sdapi/v1/loras`: `[{name, alias, path, metadata}]`; prompts may use the name or the alias. */
export interface LoraEntry {
  readonly name: string;
  readonly alias: string | null;
}

/**
 * The scripts of `GET /sdapi/v1/scripts`, per tab, lower-case as A1111 lists them. A1111 lists every script of the
 * tab's runner there, selectable and always-on alike (`api.py` `get_scripts_list`); `script-info` tells them apart.
 */
export interface ScriptLists {
  readonly txt2img: readonly string[];
  readonly img2img: readonly string[];
}

/**
 * A script of `GET /sdapi/v1/script-info`: `[{name, is_alwayson, is_img2img, args}]`. `name` is the script's title in
 * lower case (A1111 `scripts.py` sets `script.name = title().lower()`); one entry per tab the script is in.
 */
export interface ScriptInfoEntry {
  readonly name: string;
  readonly alwayson: boolean;
  readonly img2img: boolean;
}

/** The parsed entries of each list. */
export interface ListEntries {
  samplers: readonly SamplerEntry[];
  schedulers: readonly SchedulerEntry[];
  'sd-models': readonly CheckpointEntry[];
  /** `GET /sdapi/v1/sd-vae` `[{model_name, filename}]`: the `model_name`s (file names such as `sdxl_vae.safetensors`) */
  'sd-vae': readonly string[];
  /** `GET /sdapi/v1/upscalers` `[{name, …}]`: the names (including `None`) */
  upscalers: readonly string[];
  /** `GET /sdapi/v1/latent-upscale-modes` `[{name}]`: the names */
  'latent-upscale-modes': readonly string[];
  loras: readonly LoraEntry[];
  /** `GET /sdapi/v1/prompt-styles` `[{name, prompt, negative_prompt}]`: the names */
  'prompt-styles': readonly string[];
  scripts: ScriptLists;
  'script-info': readonly ScriptInfoEntry[];
  /**
   * `GET /sdapi/v1/options` `{key: value}`: every option the server has (its extensions' included) with its current
   * value, in the server's order.
   */
  options: readonly OptionEntry[];
  /** `GET /controlnet/model_list` `{model_list: ["name [hash]", …]}` (`None` first) */
  'controlnet-models': readonly string[];
  /** `GET /controlnet/module_list` `{module_list: [...], module_detail: {name: …}}`: both, names */
  'controlnet-modules': readonly string[];
  /** The same with `alias_names=true`: the UI labels (`depth_midas` for `depth`) */
  'controlnet-module-aliases': readonly string[];
  /** `GET /adetailer/v1/ad_model` `{ad_model: [...]}` */
  'adetailer-models': readonly string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string' && a !== '') : [];
}

function items(body: unknown, list: ListName): Record<string, unknown>[] {
  if (!Array.isArray(body)) throw new ShapeError(`GET ${LIST_PATHS[list]} did not answer a JSON array`);
  return body.filter(isRecord);
}

function object(body: unknown, list: ListName): Record<string, unknown> {
  if (!isRecord(body)) throw new ShapeError(`GET ${LIST_PATHS[list]} did not answer a JSON object`);
  return body;
}

/** `{<key>: [names]}` (ControlNet, ADetailer): the names, or a ShapeError when `key` is not an array. */
function keyedList(body: unknown, list: ListName, key: string): string[] {
  const o = object(body, list);
  if (!Array.isArray(o[key])) throw new ShapeError(`GET ${LIST_PATHS[list]} answered no "${key}" array`);
  return strings(o[key]);
}

function namesOf(body: unknown, list: ListName, key = 'name'): string[] {
  return items(body, list)
    .map((i) => stringOrNull(i[key]))
    .filter((n): n is string => n !== null);
}

const CHECKSUM_SUFFIX = /\s*\[[^\]]+\]\s*$/;

/** The part of a path after the last `/` or `\`. */
function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

function withoutExtension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** The aliases A1111 registers for a checkpoint (`CheckpointInfo.ids`, `modules/sd_models.py`), from its `/sd-models` entry. */
export function checkpointAliases(e: { title: string; model_name: string; hash: string | null; sha256: string | null; filename: string }): string[] {
  const name = e.title.replace(CHECKSUM_SUFFIX, '');
  const nameForExtra = withoutExtension(baseName(e.filename || name));
  const out = [e.title, name, e.model_name, nameForExtra];
  if (e.hash) out.push(`${name} [${e.hash}]`, `${nameForExtra} [${e.hash}]`, e.hash);
  if (e.sha256) out.push(e.sha256);
  return [...new Set(out.filter((a) => a !== ''))];
}

function controlNetModules(body: unknown, list: ListName): string[] {
  const names = keyedList(body, list, 'module_list');
  const detail = object(body, list).module_detail;
  return [...new Set([...names, ...(isRecord(detail) ? Object.keys(detail) : [])])];
}

/** Parses a 2xx answer of each list's route; throws {@link ShapeError} when it does not have the list's shape. */
export const PARSERS: { [L in ListName]: (body: unknown) => ListEntries[L] } = {
  samplers: (body) =>
    items(body, 'samplers')
      .filter((i) => stringOrNull(i.name) !== null)
      .map((i) => ({
        name: i.name as string,
        aliases: strings(i.aliases),
        defaultScheduler: isRecord(i.options) ? stringOrNull(i.options.scheduler) : null,
      })),
  schedulers: (body) =>
    items(body, 'schedulers')
      .filter((i) => stringOrNull(i.name) !== null)
      .map((i) => ({ name: i.name as string, label: stringOrNull(i.label) ?? (i.name as string), aliases: strings(i.aliases) })),
  'sd-models': (body) =>
    items(body, 'sd-models')
      .filter((i) => stringOrNull(i.title) !== null)
      .map((i) => {
        const e = {
          title: i.title as string,
          model_name: stringOrNull(i.model_name) ?? (i.title as string).replace(CHECKSUM_SUFFIX, ''),
          hash: stringOrNull(i.hash),
          sha256: stringOrNull(i.sha256),
          filename: stringOrNull(i.filename) ?? '',
        };
        return { ...e, aliases: checkpointAliases(e) };
      }),
  'sd-vae': (body) => namesOf(body, 'sd-vae', 'model_name'),
  upscalers: (body) => namesOf(body, 'upscalers'),
  'latent-upscale-modes': (body) => namesOf(body, 'latent-upscale-modes'),
  loras: (body) =>
    items(body, 'loras')
      .filter((i) => stringOrNull(i.name) !== null)
      .map((i) => ({ name: i.name as string, alias: stringOrNull(i.alias) })),
  'prompt-styles': (body) => namesOf(body, 'prompt-styles'),
  scripts: (body) => {
    const o = object(body, 'scripts');
    return { txt2img: strings(o.txt2img), img2img: strings(o.img2img) };
  },
  'script-info': (body) =>
    items(body, 'script-info')
      .filter((i) => stringOrNull(i.name) !== null)
      .map((i) => ({ name: i.name as string, alwayson: i.is_alwayson === true, img2img: i.is_img2img === true })),
  options: (body) => Object.entries(object(body, 'options')).map(([key, value]) => ({ key, value })),
  'controlnet-models': (body) => keyedList(body, 'controlnet-models', 'model_list'),
  'controlnet-modules': (body) => controlNetModules(body, 'controlnet-modules'),
  'controlnet-module-aliases': (body) => controlNetModules(body, 'controlnet-module-aliases'),
  'adetailer-models': (body) => keyedList(body, 'adetailer-models', 'ad_model'),
};

/** The entries of a list that is not available. */
export const EMPTY_ENTRIES: ListEntries = {
  samplers: [],
  schedulers: [],
  'sd-models': [],
  'sd-vae': [],
  upscalers: [],
  'latent-upscale-modes': [],
  loras: [],
  'prompt-styles': [],
  scripts: { txt2img: [], img2img: [] },
  'script-info': [],
  options: [],
  'controlnet-models': [],
  'controlnet-modules': [],
  'controlnet-module-aliases': [],
  'adetailer-models': [],
};

/**
 * The accepted names and the names shown, of parsed entries: sampler names; scheduler names and labels; checkpoint
 * aliases; LoRA names and aliases; script names of both tabs (lower case); for `script-info` the lower-case names;
 * for the other lists the names as listed.
 */
export function namesFor<L extends ListName>(list: L, entries: ListEntries[L]): { names: Set<string>; shown: string[] } {
  const e = entries as ListEntries[ListName];
  switch (list) {
    case 'samplers': {
      const shown = (e as ListEntries['samplers']).map((s) => s.name);
      return { names: new Set(shown), shown };
    }
    case 'schedulers': {
      const s = e as ListEntries['schedulers'];
      return { names: new Set(s.flatMap((x) => [x.name, x.label])), shown: s.map((x) => x.name) };
    }
    case 'sd-models': {
      const c = e as ListEntries['sd-models'];
      return { names: new Set(c.flatMap((x) => x.aliases)), shown: c.map((x) => x.title) };
    }
    case 'loras': {
      const l = e as ListEntries['loras'];
      return { names: new Set(l.flatMap((x) => (x.alias ? [x.name, x.alias] : [x.name]))), shown: l.map((x) => x.name) };
    }
    case 'scripts': {
      const s = e as ListEntries['scripts'];
      const shown = [...new Set([...s.txt2img, ...s.img2img])];
      return { names: new Set(shown), shown };
    }
    case 'options': {
      const shown = (e as ListEntries['options']).map((o) => o.key);
      return { names: new Set(shown), shown };
    }
    case 'script-info': {
      const shown = [...new Set((e as ListEntries['script-info']).map((x) => x.name.toLowerCase()))];
      return { names: new Set(shown), shown };
    }
    default: {
      const shown = [...(e as readonly string[])];
      return { names: new Set(shown), shown };
    }
  }
}
