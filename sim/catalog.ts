/**
 * The simulated A1111 installation: checkpoints, VAEs, samplers, schedulers,
 * upscalers, LoRAs, scripts, options and command-line flags, with the list
 * shapes of A1111's GET routes (spec §2.5) and the name resolution rules of
 * spec §2.11 (samplers/schedulers) and §2.12 (checkpoint aliases).
 */
import { createHash } from 'node:crypto';
import { defaultOptions } from './options.js';
import { freemem, totalmem } from 'node:os';

/** A scheduler entry as `GET /sdapi/v1/schedulers` returns it (spec §2.5, §2.11). */
export interface SimSchedulerInfo {
  name: string;
  label: string;
  aliases?: string[] | null;
  default_rho?: number;
  need_inner_model?: boolean;
}

/** A sampler entry as `GET /sdapi/v1/samplers` returns it (spec §2.5). */
export interface SamplerItem {
  name: string;
  aliases: string[];
  /** option values are strings (pydantic `dict[str, str]`), e.g. `{"scheduler":"karras","second_order":"True"}` */
  options: Record<string, string>;
}

/** A checkpoint as `GET /sdapi/v1/sd-models` returns it (spec §2.5). */
export interface SdModelItem {
  title: string;
  model_name: string;
  hash: string | null;
  sha256: string | null;
  filename: string;
  config: string | null;
}

/** An upscaler as `GET /sdapi/v1/upscalers` returns it (spec §2.5). */
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

/** Default checkpoints (file names under models/Stable-diffusion). */
export const DEFAULT_MODELS = ['sd_xl_base_1.0.safetensors', 'sd_xl_refiner_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors'];
/** Default VAEs (file names under models/VAE). */
export const DEFAULT_VAES = ['sdxl_vae.safetensors'];
/** Default LoRAs (names under models/Lora). */
export const DEFAULT_LORAS = ['add_detail', 'lcm-lora-sdxl'];

/**
 * A LoRA as the built-in Lora extension knows it: `name` is the file name without extension, `alias` the name
 * from its metadata (`ss_output_name`), the file name when it has none. Prompts may use either (`<lora:alias:1>`).
 */
export interface SimLora {
  name: string;
  alias?: string;
}

/** A prompt style as `GET /sdapi/v1/prompt-styles` returns it (spec §2.5; rows of A1111's `styles.csv`). */
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

// name, aliases, options (v1.10 sd_samplers_kdiffusion / sd_samplers_timesteps)
const KNOWN_SAMPLERS: [string, string[], Record<string, string>][] = [
  ['DPM++ 2M', ['k_dpmpp_2m'], { scheduler: 'karras' }],
  ['DPM++ SDE', ['k_dpmpp_sde'], { scheduler: 'karras', second_order: 'True', brownian_noise: 'True' }],
  ['DPM++ 2M SDE', ['k_dpmpp_2m_sde'], { scheduler: 'exponential', brownian_noise: 'True' }],
  ['DPM++ 2M SDE Heun', ['k_dpmpp_2m_sde_heun'], { scheduler: 'exponential', brownian_noise: 'True', solver_type: 'heun' }],
  ['DPM++ 2S a', ['k_dpmpp_2s_a'], { scheduler: 'karras', uses_ensd: 'True', second_order: 'True' }],
  ['DPM++ 3M SDE', ['k_dpmpp_3m_sde'], { scheduler: 'exponential', discard_next_to_last_sigma: 'True', brownian_noise: 'True' }],
  ['Euler a', ['k_euler_a', 'k_euler_ancestral'], { uses_ensd: 'True' }],
  ['Euler', ['k_euler'], {}],
  ['LMS', ['k_lms'], {}],
  ['Heun', ['k_heun'], { second_order: 'True' }],
  ['DPM2', ['k_dpm_2'], { scheduler: 'karras', discard_next_to_last_sigma: 'True', second_order: 'True' }],
  ['DPM2 a', ['k_dpm_2_a'], { scheduler: 'karras', discard_next_to_last_sigma: 'True', uses_ensd: 'True', second_order: 'True' }],
  ['DPM fast', ['k_dpm_fast'], { uses_ensd: 'True' }],
  ['DPM adaptive', ['k_dpm_ad'], { uses_ensd: 'True' }],
  ['Restart', ['restart'], { scheduler: 'karras', second_order: 'True' }],
  ['DDIM', ['ddim'], {}],
  ['DDIM CFG++', ['ddim_cfgpp'], {}],
  ['PLMS', ['plms'], {}],
  ['UniPC', ['unipc'], {}],
  ['LCM', ['k_lcm'], {}],
];

/** Default sampler names (v1.10 order; the first one is the fallback for unknown names, spec §2.11). */
export const DEFAULT_SAMPLERS = KNOWN_SAMPLERS.map(([n]) => n);

/** The v1.10 schedulers (spec §2.11). */
export const DEFAULT_SCHEDULERS: SimSchedulerInfo[] = [
  { name: 'automatic', label: 'Automatic' },
  { name: 'uniform', label: 'Uniform', need_inner_model: true },
  { name: 'karras', label: 'Karras', default_rho: 7.0 },
  { name: 'exponential', label: 'Exponential' },
  { name: 'polyexponential', label: 'Polyexponential', default_rho: 1.0 },
  { name: 'sgm_uniform', label: 'SGM Uniform', aliases: ['SGMUniform'], need_inner_model: true },
  { name: 'kl_optimal', label: 'KL Optimal' },
  { name: 'align_your_steps', label: 'Align Your Steps' },
  { name: 'simple', label: 'Simple', need_inner_model: true },
  { name: 'normal', label: 'Normal', need_inner_model: true },
  { name: 'ddim', label: 'DDIM', need_inner_model: true },
  { name: 'beta', label: 'Beta', need_inner_model: true },
];

const KNOWN_UPSCALERS: Record<string, Omit<UpscalerItem, 'name' | 'model_url'>> = {
  None: { model_name: null, model_path: null, scale: 4 },
  Lanczos: { model_name: null, model_path: null, scale: 4 },
  Nearest: { model_name: null, model_path: null, scale: 4 },
  'DAT x2': { model_name: null, model_path: `${WEBUI_ROOT}/models/DAT/DAT_x2.pth`, scale: 2 },
  'DAT x3': { model_name: null, model_path: `${WEBUI_ROOT}/models/DAT/DAT_x3.pth`, scale: 3 },
  'DAT x4': { model_name: null, model_path: `${WEBUI_ROOT}/models/DAT/DAT_x4.pth`, scale: 4 },
  ESRGAN_4x: { model_name: 'ESRGAN_4x', model_path: 'https://github.com/cszn/KAIR/releases/download/v1.0/ESRGAN.pth', scale: 4 },
  LDSR: { model_name: null, model_path: `${WEBUI_ROOT}/models/LDSR/model.ckpt`, scale: 4 },
  'R-ESRGAN 4x+': {
    model_name: 'RealESRGAN_x4plus',
    model_path: 'https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth',
    scale: 4,
  },
  'R-ESRGAN 4x+ Anime6B': {
    model_name: 'RealESRGAN_x4plus_anime_6B',
    model_path: 'https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth',
    scale: 4,
  },
  'ScuNET GAN': {
    model_name: null,
    model_path: 'https://github.com/cszn/KAIR/releases/download/v1.0/scunet_color_real_gan.pth',
    scale: 4,
  },
  'ScuNET PSNR': {
    model_name: null,
    model_path: 'https://github.com/cszn/KAIR/releases/download/v1.0/scunet_color_real_psnr.pth',
    scale: 4,
  },
  'SwinIR 4x': {
    model_name: null,
    model_path: 'https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth',
    scale: 4,
  },
};

/** Default upscaler names (`GET /sdapi/v1/upscalers`). */
export const DEFAULT_UPSCALERS = Object.keys(KNOWN_UPSCALERS);

/** Latent upscale modes (`GET /sdapi/v1/latent-upscale-modes`). */
export const LATENT_UPSCALE_MODES = [
  'Latent',
  'Latent (antialiased)',
  'Latent (bicubic)',
  'Latent (bicubic antialiased)',
  'Latent (nearest)',
  'Latent (nearest-exact)',
];

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Resolved checkpoint with its aliases (spec §2.12). */
export interface Checkpoint {
  item: SdModelItem;
  /** file name relative to the models dir, with extension */
  name: string;
  /** `name [shorthash]`, used for the `Refiner:` infotext entry */
  shortTitle: string;
  aliases: string[];
}

function makeCheckpoint(spec: string): Checkpoint {
  const name = /\.(safetensors|ckpt|pt|bin|gguf)$/i.test(spec) ? spec : `${spec}.safetensors`;
  const modelName = name.replace(/\.[^./]+$/, '');
  const sha256 = sha256Hex(`checkpoint:${modelName}`);
  const hash = sha256.slice(0, 10);
  const title = `${name} [${hash}]`;
  const item: SdModelItem = {
    title,
    model_name: modelName,
    hash,
    sha256,
    filename: `${WEBUI_ROOT}/models/Stable-diffusion/${name}`,
    config: null,
  };
  const base = modelName.split('/').pop() ?? modelName;
  return {
    item,
    name,
    shortTitle: `${modelName} [${hash}]`,
    aliases: [title, name, modelName, base, hash, sha256, `${modelName} [${hash}]`],
  };
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

function makeLora(spec: string | SimLora): Required<SimLora> {
  return typeof spec === 'string' ? { name: spec, alias: spec } : { name: spec.name, alias: spec.alias ?? spec.name };
}

function makeVae(name: string): Vae {
  return { name, hash: sha256Hex(`vae:${name}`).slice(0, 10), filename: `${WEBUI_ROOT}/models/VAE/${name}` };
}

/**
 * The simulated installation. Mutable state: `options` (POST /options) and the
 * checkpoint currently loaded in VRAM (`loadedModelTitle`).
 */
export class Catalog {
  readonly checkpoints: Checkpoint[];
  readonly vaes: Vae[];
  readonly samplers: SamplerItem[];
  readonly schedulers: Required<SimSchedulerInfo>[];
  readonly upscalers: UpscalerItem[];
  readonly loras: Required<SimLora>[];
  readonly styles: Required<SimPromptStyle>[];
  /** files added by {@link addFiles} and not yet found by a refresh (see {@link SimFiles}) */
  private readonly pending: { models: string[]; vaes: string[]; loras: Required<SimLora>[] } = { models: [], vaes: [], loras: [] };
  /** current settings (`GET /sdapi/v1/options`) */
  readonly options: Record<string, unknown>;
  /** title of the checkpoint in VRAM; `null` until the first load (spec §2.2: loads lazily here) */
  loadedModelTitle: string | null = null;

  /** @throws Error when a list is empty */
  constructor(input: CatalogInput = {}) {
    const models = input.models ?? DEFAULT_MODELS;
    if (models.length === 0) throw new Error('models must not be empty');
    this.checkpoints = models.map(makeCheckpoint);
    this.vaes = (input.vaes ?? DEFAULT_VAES).map(makeVae);
    const samplerNames = input.samplers ?? DEFAULT_SAMPLERS;
    if (samplerNames.length === 0) throw new Error('samplers must not be empty');
    this.samplers = samplerNames.map((n) => {
      const known = KNOWN_SAMPLERS.find(([k]) => k === n);
      return { name: n, aliases: known ? [...known[1]] : [], options: known ? { ...known[2] } : {} };
    });
    const sched = input.schedulers ?? DEFAULT_SCHEDULERS;
    this.schedulers = sched.map((s) => {
      const info: SimSchedulerInfo =
        typeof s === 'string'
          ? (DEFAULT_SCHEDULERS.find((d) => d.name === s || d.label === s) ?? { name: s, label: s })
          : s;
      return {
        name: info.name,
        label: info.label,
        aliases: info.aliases ?? null,
        default_rho: info.default_rho ?? -1,
        need_inner_model: info.need_inner_model ?? false,
      };
    });
    if (!this.schedulers.some((s) => s.name === 'automatic')) {
      this.schedulers.unshift({ name: 'automatic', label: 'Automatic', aliases: null, default_rho: -1, need_inner_model: false });
    }
    this.upscalers = (input.upscalers ?? DEFAULT_UPSCALERS).map((n) => {
      const known = KNOWN_UPSCALERS[n];
      return known
        ? { name: n, ...known, model_url: null }
        : { name: n, model_name: n, model_path: `${WEBUI_ROOT}/models/ESRGAN/${n}.pth`, model_url: null, scale: 4 };
    });
    this.loras = (input.loras ?? DEFAULT_LORAS).map(makeLora);
    this.styles = (input.styles ?? []).map((st) =>
      typeof st === 'string'
        ? { name: st, prompt: `${st}, {prompt}`, negative_prompt: '' }
        : { name: st.name, prompt: st.prompt ?? '', negative_prompt: st.negative_prompt ?? '' },
    );
    this.options = defaultOptions(this.checkpoints[0]);
  }

  /** Puts files into the simulated model folders; they are listed after the matching refresh ({@link SimFiles}). */
  addFiles(files: SimFiles): void {
    for (const m of files.models ?? []) this.pending.models.push(m);
    for (const v of files.vaes ?? []) this.pending.vaes.push(v);
    for (const l of files.loras ?? []) this.pending.loras.push(makeLora(l));
  }

  /** Number of added files not yet found by a refresh. */
  get pendingFiles(): number {
    return this.pending.models.length + this.pending.vaes.length + this.pending.loras.length;
  }

  /**
   * Rescans one model folder (`refresh-checkpoints` → `models`, `refresh-vae` → `vaes`, `refresh-loras` →
   * `loras`): added files join the list (names already listed are not duplicated).
   * @returns how many entries were added
   */
  rescan(kind: keyof SimFiles): number {
    let added = 0;
    if (kind === 'models') {
      for (const m of this.pending.models.splice(0)) {
        const c = makeCheckpoint(m);
        if (!this.checkpoints.some((x) => x.name === c.name)) {
          this.checkpoints.push(c);
          added++;
        }
      }
    } else if (kind === 'vaes') {
      for (const v of this.pending.vaes.splice(0)) {
        if (!this.vaes.some((x) => x.name === v)) {
          this.vaes.push(makeVae(v));
          added++;
        }
      }
    } else {
      for (const l of this.pending.loras.splice(0)) {
        if (!this.loras.some((x) => x.name === l.name)) {
          this.loras.push(l);
          added++;
        }
      }
    }
    return added;
  }

  /**
   * Finds a LoRA by name or alias, as the Lora extension does for `<lora:…>` tags (rescanning the folder once
   * when the name is missing, like A1111's `load_networks`).
   */
  findLora(nameOrAlias: string): Required<SimLora> | undefined {
    const find = () => this.loras.find((l) => l.name === nameOrAlias) ?? this.loras.find((l) => l.alias === nameOrAlias);
    const found = find();
    if (found || this.pending.loras.length === 0) return found;
    this.rescan('loras');
    return find();
  }

  /** Finds a checkpoint by title, file name, model name or hash (spec §2.12 `checkpoint_aliases`). */
  findCheckpoint(name: string): Checkpoint | undefined {
    return this.checkpoints.find((c) => c.aliases.includes(name));
  }

  /** The checkpoint selected by `options.sd_model_checkpoint` (falls back to the first). */
  currentCheckpoint(): Checkpoint {
    const v = this.options['sd_model_checkpoint'];
    return (typeof v === 'string' ? this.findCheckpoint(v) : undefined) ?? this.checkpoints[0];
  }

  /** The VAE selected by a `sd_vae` value (`Automatic`/`None`/unknown → none). */
  findVae(value: unknown): Vae | undefined {
    if (typeof value !== 'string') return undefined;
    return this.vaes.find((v) => v.name === value || v.name.replace(/\.[^.]+$/, '') === value);
  }

  /**
   * Resolves a sampler/scheduler pair as A1111 v1.10 does (spec §2.11):
   * a trailing " <scheduler label|name|alias>" is split off the sampler name,
   * unknown samplers become the first sampler, unknown schedulers "Automatic",
   * and (when `convertAutomatic`) a scheduler equal to the sampler's default is
   * reported as "Automatic".
   *
   * @returns the sampler name and the scheduler label
   */
  resolveSampler(samplerName: string | null, schedulerName: string | null, convertAutomatic = true): { sampler: string; scheduler: string } {
    const automatic = this.schedulers.find((s) => s.name === 'automatic') ?? this.schedulers[0];
    let found =
      (schedulerName === null ? undefined : this.schedulers.find((s) => s.name === schedulerName || s.label === schedulerName)) ?? automatic;
    let name = samplerName || this.samplers[0].name;
    for (const s of this.schedulers) {
      let matched = false;
      for (const opt of [s.label, s.name, ...(s.aliases ?? [])]) {
        if (name.endsWith(` ${opt}`)) {
          found = s;
          name = name.slice(0, name.length - opt.length - 1);
          matched = true;
          break;
        }
      }
      if (matched) break;
    }
    const sampler = this.samplers.find((s) => s.name === name) ?? this.samplers[0];
    if (convertAutomatic && sampler.options['scheduler'] === found.name) found = automatic;
    return { sampler: sampler.name, scheduler: found.label };
  }

  /** Whether `name` is an upscaler or latent upscale mode (hires fix, spec §2.6). */
  isHiresUpscaler(name: string): boolean {
    return LATENT_UPSCALE_MODES.includes(name) || this.upscalers.some((u) => u.name === name);
  }

  /** Short hash of a LoRA (for `Lora hashes` in infotexts). */
  loraHash(name: string): string {
    return sha256Hex(`lora:${name}`).slice(0, 12);
  }

  // ------------------------------------------------------------ list routes

  /** `GET /sdapi/v1/sd-models` */
  sdModels(): SdModelItem[] {
    return this.checkpoints.map((c) => ({ ...c.item }));
  }

  /** `GET /sdapi/v1/sd-vae` */
  sdVaes(): { model_name: string; filename: string }[] {
    return this.vaes.map((v) => ({ model_name: v.name, filename: v.filename }));
  }

  /** `GET /sdapi/v1/samplers` */
  samplerList(): SamplerItem[] {
    return this.samplers.map((s) => ({ name: s.name, aliases: [...s.aliases], options: { ...s.options } }));
  }

  /** `GET /sdapi/v1/schedulers` */
  schedulerList(): Required<SimSchedulerInfo>[] {
    return this.schedulers.map((s) => ({ ...s, aliases: s.aliases ? [...s.aliases] : null }));
  }

  /** `GET /sdapi/v1/upscalers` */
  upscalerList(): UpscalerItem[] {
    return this.upscalers.map((u) => ({ ...u }));
  }

  /** `GET /sdapi/v1/loras` */
  loraList(): { name: string; alias: string; path: string; metadata: Record<string, never> }[] {
    return this.loras.map((l) => ({ name: l.name, alias: l.alias, path: `${WEBUI_ROOT}/models/Lora/${l.name}.safetensors`, metadata: {} }));
  }

  /** `GET /sdapi/v1/prompt-styles` */
  styleList(): Required<SimPromptStyle>[] {
    return this.styles.map((st) => ({ ...st }));
  }
}

/** Values of `GET /sdapi/v1/cmd-flags` (`vars(cmd_opts)`) for the simulated launch line. */
export function cmdFlags(port: number, host: string, apiLog: boolean): Record<string, unknown> {
  return {
    update_all_extensions: false,
    skip_python_version_check: true,
    skip_torch_cuda_test: true,
    reinstall_xformers: false,
    reinstall_torch: false,
    update_check: false,
    test_server: false,
    log_startup: false,
    skip_prepare_environment: false,
    skip_install: true,
    dump_sysinfo: false,
    loglevel: null,
    do_not_download_clip: false,
    data_dir: WEBUI_ROOT,
    models_dir: null,
    config: `${WEBUI_ROOT}/configs/v1-inference.yaml`,
    ckpt: null,
    ckpt_dir: null,
    vae_dir: null,
    gfpgan_dir: null,
    gfpgan_model: null,
    no_half: false,
    no_half_vae: true,
    no_progressbar_hiding: false,
    max_batch_count: 16,
    embeddings_dir: `${WEBUI_ROOT}/embeddings`,
    textual_inversion_templates_dir: `${WEBUI_ROOT}/textual_inversion_templates`,
    hypernetwork_dir: `${WEBUI_ROOT}/models/hypernetworks`,
    localizations_dir: `${WEBUI_ROOT}/localizations`,
    allow_code: false,
    medvram: false,
    medvram_sdxl: false,
    lowvram: false,
    lowram: false,
    always_batch_cond_uncond: false,
    unload_gfpgan: false,
    precision: 'autocast',
    upcast_sampling: false,
    share: false,
    ngrok: null,
    ngrok_region: '',
    ngrok_options: {},
    enable_insecure_extension_access: false,
    codeformer_models_path: `${WEBUI_ROOT}/models/Codeformer`,
    gfpgan_models_path: `${WEBUI_ROOT}/models/GFPGAN`,
    esrgan_models_path: `${WEBUI_ROOT}/models/ESRGAN`,
    bsrgan_models_path: `${WEBUI_ROOT}/models/BSRGAN`,
    realesrgan_models_path: `${WEBUI_ROOT}/models/RealESRGAN`,
    dat_models_path: `${WEBUI_ROOT}/models/DAT`,
    clip_models_path: null,
    xformers: true,
    force_enable_xformers: false,
    xformers_flash_attention: false,
    deepdanbooru: false,
    opt_split_attention: false,
    opt_sub_quad_attention: false,
    sub_quad_q_chunk_size: 1024,
    sub_quad_kv_chunk_size: null,
    sub_quad_chunk_threshold: null,
    opt_split_attention_invokeai: false,
    opt_split_attention_v1: false,
    opt_sdp_attention: true,
    opt_sdp_no_mem_attention: false,
    disable_opt_split_attention: false,
    disable_nan_check: false,
    use_cpu: [],
    use_ipex: false,
    disable_model_loading_ram_optimization: false,
    listen: host !== '127.0.0.1' && host !== 'localhost',
    port,
    show_negative_prompt: false,
    ui_config_file: `${WEBUI_ROOT}/ui-config.json`,
    hide_ui_dir_config: false,
    freeze_settings: false,
    freeze_settings_in_sections: null,
    freeze_specific_settings: null,
    ui_settings_file: `${WEBUI_ROOT}/config.json`,
    gradio_debug: false,
    gradio_auth: null,
    gradio_auth_path: null,
    gradio_img2img_tool: null,
    gradio_inpaint_tool: null,
    gradio_allowed_path: [],
    opt_channelslast: false,
    styles_file: [`${WEBUI_ROOT}/styles.csv`],
    autolaunch: false,
    theme: null,
    use_textbox_seed: false,
    disable_console_progressbars: false,
    enable_console_prompts: false,
    vae_path: null,
    disable_safe_unpickle: true,
    api: true,
    api_auth: null,
    api_log: apiLog,
    nowebui: true,
    ui_debug_mode: false,
    device_id: null,
    administrator: false,
    cors_allow_origins: null,
    cors_allow_origins_regex: null,
    tls_keyfile: null,
    tls_certfile: null,
    disable_tls_verify: false,
    server_name: host === '127.0.0.1' ? null : host,
    gradio_queue: true,
    no_gradio_queue: false,
    skip_version_check: true,
    no_hashing: false,
    no_download_sd_model: true,
    subpath: null,
    add_stop_route: false,
    api_server_stop: false,
    timeout_keep_alive: 30,
    disable_all_extensions: false,
    disable_extra_extensions: false,
    skip_load_model_at_start: false,
    unix_filenames_sanitization: false,
    filenames_max_length: 128,
    no_prompt_history: false,
  };
}

/** `GET /sdapi/v1/memory` (spec §2.5): real host RAM, a simulated 24 GiB GPU (bytes). */
export function memoryReport(): Record<string, unknown> {
  const total = totalmem();
  const free = freemem();
  const gpuTotal = 24 * 1024 ** 3;
  const used = Math.round(gpuTotal * 0.38);
  const stat = (current: number, peak: number) => ({ current, peak });
  return {
    ram: { free, used: total - free, total },
    cuda: {
      system: { free: gpuTotal - used, used, total: gpuTotal },
      active: stat(7_120_000_000, 9_870_000_000),
      allocated: stat(7_120_000_000, 9_870_000_000),
      reserved: stat(8_400_000_000, 11_200_000_000),
      inactive: stat(1_280_000_000, 2_100_000_000),
      events: { retries: 0, oom: 0 },
    },
  };
}

/** `GET /sdapi/v1/face-restorers` */
export function faceRestorers(): { name: string; cmd_dir: string | null }[] {
  return [
    { name: 'CodeFormer', cmd_dir: `${WEBUI_ROOT}/models/Codeformer` },
    { name: 'GFPGAN', cmd_dir: null },
  ];
}

/** `GET /sdapi/v1/realesrgan-models` */
export function realesrganModels(): { name: string; path: string; scale: number }[] {
  const base = 'https://github.com/xinntao/Real-ESRGAN/releases/download';
  return [
    { name: 'R-ESRGAN General 4xV3', path: `${base}/v0.2.5.0/realesr-general-x4v3.pth`, scale: 4 },
    { name: 'R-ESRGAN General WDN 4xV3', path: `${base}/v0.2.5.0/realesr-general-wdn-x4v3.pth`, scale: 4 },
    { name: 'R-ESRGAN AnimeVideo', path: `${base}/v0.2.5.0/realesr-animevideov3.pth`, scale: 4 },
    { name: 'R-ESRGAN 4x+', path: `${base}/v0.1.0/RealESRGAN_x4plus.pth`, scale: 4 },
    { name: 'R-ESRGAN 4x+ Anime6B', path: `${base}/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth`, scale: 4 },
    { name: 'R-ESRGAN 2x+', path: `${base}/v0.2.1/RealESRGAN_x2plus.pth`, scale: 2 },
  ];
}
