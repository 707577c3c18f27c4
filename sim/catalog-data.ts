/**
 * The tables of a fresh simulated install (`data/catalog.json`: checkpoints, VAEs, LoRAs, samplers, schedulers,
 * upscalers, …), the shapes of the list routes, and the checks of files added after start-up.
 */
import catalogJson from './data/catalog.json' with { type: 'json' };

/** A scheduler entry as `GET /sdapi/v1/schedulers` returns it (A1111 `modules/api/models.py`, `modules/sd_schedulers.py`). */
export interface SimSchedulerInfo {
  name: string;
  label: string;
  aliases?: string[] | null;
  default_rho?: number;
  need_inner_model?: boolean;
}

/** A sampler entry as `GET /sdapi/v1/samplers` returns it (A1111 `modules/api/models.py`). */
export interface SamplerItem {
  name: string;
  aliases: string[];
  /** option values are strings (pydantic `dict[str, str]`), e.g. `{"scheduler":"karras","second_order":"True"}` */
  options: Record<string, string>;
}

/** A checkpoint as `GET /sdapi/v1/sd-models` returns it (A1111 `modules/api/models.py`). */
export interface SdModelItem {
  title: string;
  model_name: string;
  hash: string | null;
  sha256: string | null;
  filename: string;
  config: string | null;
}

/** An upscaler as `GET /sdapi/v1/upscalers` returns it (A1111 `modules/api/models.py`). */
export interface UpscalerItem {
  name: string;
  model_name: string | null;
  model_path: string | null;
  model_url: null;
  scale: number;
}

/** Root of the simulated install, used in file paths. */
export const WEBUI_ROOT = '/stable-diffusion-webui';

/** A1111 version string used in infotexts and `info.version`. */
export const A1111_VERSION = 'v1.10.1';

/**
 * A LoRA as the built-in Lora extension knows it: `name` is the file name without extension, `alias` the name
 * from its metadata (`ss_output_name`), the file name when it has none. Prompts may use either (`<lora:alias:1>`).
 */
export interface SimLora {
  name: string;
  alias?: string;
}

/** A prompt style as `GET /sdapi/v1/prompt-styles` returns it (rows of A1111's `styles.csv`). */
export interface SimPromptStyle {
  name: string;
  prompt?: string;
  negative_prompt?: string;
}

/**
 * Files put into the simulated model folders after start-up. Like A1111, which scans its folders at start-up
 * and again only on `POST /sdapi/v1/refresh-checkpoints` / `refresh-vae` / `refresh-loras`, the simulator lists
 * them only after the matching refresh (a prompt's `<lora:…>` tag also rescans LoRAs, as A1111's Lora extension
 * does when a name is missing).
 */
export interface SimFiles {
  /** checkpoint file names (`.safetensors` added when no extension) */
  models?: string[];
  /** VAE file names */
  vaes?: string[];
  /** LoRA names, or names with an alias */
  loras?: (string | SimLora)[];
}

/** The shape of `data/catalog.json`. */
interface CatalogData {
  defaultModels: string[];
  defaultVaes: string[];
  defaultLoras: string[];
  /** A1111 v1.10's samplers in its order (`sd_samplers_kdiffusion.py`, `sd_samplers_timesteps.py`, …) */
  samplers: SamplerItem[];
  /** A1111 v1.10's `sd_schedulers.py` list */
  schedulers: SimSchedulerInfo[];
  upscalers: Omit<UpscalerItem, 'model_url'>[];
  latentUpscaleModes: string[];
  faceRestorers: { name: string; cmd_dir: string | null }[];
  realesrganModels: { name: string; path: string; scale: number }[];
}

/** The tables of a fresh install (`data/catalog.json`). */
export const CATALOG_DATA = catalogJson as CatalogData;

/** Default checkpoints (file names under models/Stable-diffusion). */
export const DEFAULT_MODELS = CATALOG_DATA.defaultModels;
/** Default VAEs (file names under models/VAE). */
export const DEFAULT_VAES = CATALOG_DATA.defaultVaes;
/** Default LoRAs (names under models/Lora). */
export const DEFAULT_LORAS = CATALOG_DATA.defaultLoras;

/** Default sampler names (v1.10 order; the first one is the fallback for unknown names). */
export const DEFAULT_SAMPLERS = CATALOG_DATA.samplers.map((s) => s.name);

/** The v1.10 schedulers. */
export const DEFAULT_SCHEDULERS: SimSchedulerInfo[] = CATALOG_DATA.schedulers;

/** Default upscaler names (`GET /sdapi/v1/upscalers`). */
export const DEFAULT_UPSCALERS = CATALOG_DATA.upscalers.map((u) => u.name);

/** Latent upscale modes (`GET /sdapi/v1/latent-upscale-modes`). */
export const LATENT_UPSCALE_MODES = CATALOG_DATA.latentUpscaleModes;

/** Resolved checkpoint with its aliases (docs/a1111-api.md, "`override_settings`, model switching, options"). */
export interface Checkpoint {
  item: SdModelItem;
  /** file name relative to the models dir, with extension */
  name: string;
  /** `name [shorthash]`, used for the `Refiner:` infotext entry */
  shortTitle: string;
  aliases: string[];
}

/** A VAE with its file name and short hash. */
export interface Vae {
  /** file name, e.g. `sdxl_vae.safetensors` (also what infotexts show as `VAE:`) */
  name: string;
  hash: string;
  filename: string;
}

/** The lists a simulator serves, built from {@link SimOptions}-style inputs. */
export interface CatalogInput {
  /** checkpoint file names (`.safetensors` added when no extension); first = current model */
  models?: string[];
  /** sampler names (v1.10 list by default; the first one is the fallback for unknown names) */
  samplers?: string[];
  /** scheduler names/labels of the v1.10 list, or full entries */
  schedulers?: (string | SimSchedulerInfo)[];
  /** LoRA names, or names with an alias (default: the alias is the name) */
  loras?: (string | SimLora)[];
  /** VAE file names */
  vaes?: string[];
  /** upscaler names */
  upscalers?: string[];
  /** prompt styles (names, or full entries); default none, as a fresh install without `styles.csv` */
  styles?: (string | SimPromptStyle)[];
}

/**
 * Validates a {@link SimFiles} description (from `addFiles` or `POST /sim/files`).
 * @throws TypeError naming the bad field
 */
export function parseFiles(x: unknown): SimFiles {
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new TypeError('files must be an object {models?, vaes?, loras?}');
  const f = x as Record<string, unknown>;
  const out: SimFiles = {};
  for (const key of Object.keys(f)) {
    if (key !== 'models' && key !== 'vaes' && key !== 'loras') throw new TypeError(`files.${key}: unknown field (allowed: models, vaes, loras)`);
    const list = f[key];
    if (!Array.isArray(list)) throw new TypeError(`files.${key} must be an array`);
    list.forEach((item: unknown, i) => {
      const ok =
        (typeof item === 'string' && item !== '') ||
        (key === 'loras' &&
          item !== null &&
          typeof item === 'object' &&
          typeof (item as Record<string, unknown>)['name'] === 'string' &&
          ['string', 'undefined'].includes(typeof (item as Record<string, unknown>)['alias']));
      if (!ok) throw new TypeError(`files.${key}[${i}] must be a non-empty string${key === 'loras' ? ' or {name, alias?}' : ''}`);
    });
  }
  if (f['models']) out.models = [...(f['models'] as string[])];
  if (f['vaes']) out.vaes = [...(f['vaes'] as string[])];
  if (f['loras']) out.loras = [...(f['loras'] as (string | { name: string; alias?: string })[])];
  return out;
}
