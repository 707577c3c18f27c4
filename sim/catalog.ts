/**
 * The simulated A1111 installation: checkpoints, VAEs, samplers, schedulers, upscalers, LoRAs and options, with
 * the list shapes of A1111's GET routes and its name resolution rules (samplers/schedulers: A1111
 * `modules/sd_samplers.py`, `modules/sd_schedulers.py`; checkpoint aliases: `modules/sd_models.py`).
 */
import { createHash } from 'node:crypto';
import { CATALOG_DATA, DEFAULT_LORAS, DEFAULT_MODELS, DEFAULT_VAES, DEFAULT_SAMPLERS, DEFAULT_SCHEDULERS, DEFAULT_UPSCALERS, LATENT_UPSCALE_MODES, WEBUI_ROOT } from './catalog-data.js';
import type { CatalogInput, Checkpoint, SamplerItem, SdModelItem, SimFiles, SimLora, SimPromptStyle, SimSchedulerInfo, UpscalerItem, Vae } from './catalog-data.js';
import { defaultOptions } from './options.js';

export * from './catalog-data.js';

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
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
  /** title of the checkpoint in VRAM; `null` until the first load (A1111 loads it lazily: docs/a1111-api.md, "Startup sequence and readiness") */
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
      const known = CATALOG_DATA.samplers.find((k) => k.name === n);
      return { name: n, aliases: known ? [...known.aliases] : [], options: known ? { ...known.options } : {} };
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
      const known = CATALOG_DATA.upscalers.find((u) => u.name === n);
      return known
        ? { ...known, model_url: null }
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

  /** Finds a checkpoint by title, file name, model name or hash (A1111 `modules/sd_models.py` `checkpoint_aliases`). */
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
   * Resolves a sampler/scheduler pair as A1111 v1.10 does (docs/a1111-api.md, "Sampler and scheduler resolution (v1.10)"):
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

  /** Whether `name` is an upscaler or latent upscale mode (hires fix). */
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
