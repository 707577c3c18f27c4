/**
 * `POST /sdapi/v1/txt2img` and `POST /sdapi/v1/img2img` (spec §2.4–§2.9, §2.11,
 * §2.12): request validation and defaults, infotext pasting, script checks,
 * sampler/scheduler resolution, the queue lock, override settings and model
 * loads, timed sampling passes with live progress, interrupt/skip, and the
 * response `{images, parameters, info}` with deterministic PNGs.
 */
import { randomInt } from 'node:crypto';
import { A1111_VERSION, SCRIPTS, RESTRICTED_OPTIONS, type Checkpoint, type Vae } from './catalog.js';
import { decodeImageInput, ensureModelLoaded, type SimEnv } from './env.js';
import { httpException, pyException } from './errors.js';
import { createInfotext, parseGenerationParameters, type InfotextValue } from './infotext.js';
import { fnv1aBytes, insertTextChunks, renderRgb, encodeRgbPngSync, type DecodedImage, type RenderKey } from './png.js';
import { PyFloat, pyDumps, type PyValue } from './pyjson.js';
import { IMG2IMG_FIELDS, TXT2IMG_FIELDS, pyFloat, pyInt, validateModel } from './validation.js';

/** Response of txt2img/img2img (spec §2.8). */
export interface GenerationResponse {
  /** base64 PNGs without data-URI prefix */
  images: string[];
  /** the request echoed with defaults filled */
  parameters: Record<string, unknown>;
  /** `json.dumps` of the processing result (Python formatting) */
  info: string;
}

type Tab = 'txt2img' | 'img2img';

/** Largest pixel count per batch before the simulated GPU runs out of memory. */
const MAX_BATCH_PIXELS = 64 * 1024 * 1024;

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
function num(v: unknown, dflt: number): number {
  return typeof v === 'number' ? v : dflt;
}
function floorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

// ------------------------------------------------------------------ infotext pasting

const PASTE_FIELDS: { label: string; field: string; type: 'str' | 'int' | 'float'; tabs: Tab[] }[] = [
  { label: 'Prompt', field: 'prompt', type: 'str', tabs: ['txt2img', 'img2img'] },
  { label: 'Negative prompt', field: 'negative_prompt', type: 'str', tabs: ['txt2img', 'img2img'] },
  { label: 'Steps', field: 'steps', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Sampler', field: 'sampler_name', type: 'str', tabs: ['txt2img', 'img2img'] },
  { label: 'Schedule type', field: 'scheduler', type: 'str', tabs: ['txt2img', 'img2img'] },
  { label: 'CFG scale', field: 'cfg_scale', type: 'float', tabs: ['txt2img', 'img2img'] },
  { label: 'Seed', field: 'seed', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Size-1', field: 'width', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Size-2', field: 'height', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Variation seed', field: 'subseed', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Variation seed strength', field: 'subseed_strength', type: 'float', tabs: ['txt2img', 'img2img'] },
  { label: 'Seed resize from-1', field: 'seed_resize_from_w', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Seed resize from-2', field: 'seed_resize_from_h', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Denoising strength', field: 'denoising_strength', type: 'float', tabs: ['txt2img', 'img2img'] },
  { label: 'Hires upscale', field: 'hr_scale', type: 'float', tabs: ['txt2img'] },
  { label: 'Hires upscaler', field: 'hr_upscaler', type: 'str', tabs: ['txt2img'] },
  { label: 'Hires steps', field: 'hr_second_pass_steps', type: 'int', tabs: ['txt2img'] },
  { label: 'Hires resize-1', field: 'hr_resize_x', type: 'int', tabs: ['txt2img'] },
  { label: 'Hires resize-2', field: 'hr_resize_y', type: 'int', tabs: ['txt2img'] },
  { label: 'Hires prompt', field: 'hr_prompt', type: 'str', tabs: ['txt2img'] },
  { label: 'Hires negative prompt', field: 'hr_negative_prompt', type: 'str', tabs: ['txt2img'] },
];

function convertPasted(v: InfotextValue, type: 'str' | 'int' | 'float'): unknown {
  if (type === 'str') return typeof v === 'string' ? v : String(v);
  if (type === 'int') {
    const n = pyInt(v);
    if (n === undefined) throw pyException('ValueError', `invalid literal for int() with base 10: '${String(v)}'`);
    return n;
  }
  const f = pyFloat(v);
  if (f === undefined) throw pyException('ValueError', `could not convert string to float: '${String(v)}'`);
  return f;
}

/**
 * `Api.apply_infotext`: fields named in the `infotext` string fill the
 * request fields that were not sent explicitly; `Clip skip` becomes an
 * override setting.
 */
function applyInfotext(env: SimEnv, req: Record<string, unknown>, fieldsSet: Set<string>, tab: Tab): void {
  const text = str(req['infotext']);
  if (!text) return;
  const params = parseGenerationParameters(text);
  for (const f of PASTE_FIELDS) {
    if (!f.tabs.includes(tab) || fieldsSet.has(f.field)) continue;
    const v = params[f.label];
    if (v === undefined) continue;
    req[f.field] = convertPasted(v, f.type);
  }
  if (tab === 'txt2img' && !fieldsSet.has('enable_hr')) {
    const hr = 'Denoising strength' in params && ('Hires upscale' in params || 'Hires upscaler' in params || 'Hires resize-1' in params && params['Hires resize-1'] !== 0);
    if (hr) req['enable_hr'] = true;
  }
  const ov = (req['override_settings'] as Record<string, unknown> | null) ?? {};
  req['override_settings'] = ov;
  const clip = pyInt(params['Clip skip']);
  if (clip !== undefined && clip !== env.catalog.options['CLIP_stop_at_last_layers'] && !('CLIP_stop_at_last_layers' in ov)) {
    ov['CLIP_stop_at_last_layers'] = clip;
  }
}

// ------------------------------------------------------------------ scripts

/**
 * Script checks done before the queue lock (spec §2.6, §2.10): unknown
 * `script_name` or `alwayson_scripts` key → 422 `Script '<x>' not found`;
 * a selectable script among the always-on ones → 422.
 */
function checkScripts(req: Record<string, unknown>, tab: Tab): void {
  const scripts = SCRIPTS[tab];
  const name = str(req['script_name']);
  if (name) {
    if (!scripts.selectable.some((t) => t.toLowerCase() === name.toLowerCase())) {
      throw httpException(422, `Script '${name}' not found`);
    }
  }
  const always = req['alwayson_scripts'];
  if (always && typeof always === 'object') {
    for (const key of Object.keys(always)) {
      const lower = key.toLowerCase();
      const isAlways = scripts.alwayson.some((t) => t.toLowerCase() === lower);
      const isSelectable = scripts.selectable.some((t) => t.toLowerCase() === lower);
      if (!isAlways && !isSelectable) throw httpException(422, `Script '${key}' not found`);
      if (!isAlways) throw httpException(422, 'Cannot have a selectable script in the always on scripts params');
    }
  }
}

// ------------------------------------------------------------------ processing

interface HiresParams {
  scale: number;
  upscaler: string | null;
  secondPassSteps: number;
  resizeX: number;
  resizeY: number;
  checkpointName: string | null;
  samplerName: string | null;
}

interface ProcessingParams {
  tab: Tab;
  prompt: string;
  negativePrompt: string;
  styles: string[];
  seed: number | null;
  subseed: number | null;
  subseedStrength: number;
  seedResizeFromW: number;
  seedResizeFromH: number;
  batchSize: number;
  nIter: number;
  steps: number;
  cfgScale: number;
  width: number;
  height: number;
  restoreFaces: boolean | null;
  tiling: boolean | null;
  sampler: string;
  /** `populate.scheduler`: the request's scheduler, or the one split off the sampler name */
  scheduler: string | null;
  denoisingStrength: number | null;
  overrideSettings: Record<string, unknown>;
  restoreAfterwards: boolean;
  refinerCheckpoint: string | null;
  refinerSwitchAt: number | null;
  disableExtraNetworks: boolean;
  sendImages: boolean;
  hr: HiresParams | null;
  /** img2img only */
  initImages: DecodedImage[] | null;
  /** img2img only: extra infotext entries for inpainting */
  maskParams: [string, PyValue][];
}

interface OutImage {
  seed: number;
  index: number;
  width: number;
  height: number;
  png: Promise<Buffer> | null;
}

interface ProcessedResult {
  images: Buffer[];
  info: string;
}

function oom(bytes: number): never {
  const gib = (bytes / 1024 ** 3).toFixed(2);
  throw pyException(
    'OutOfMemoryError',
    `CUDA out of memory. Tried to allocate ${gib} GiB. GPU 0 has a total capacity of 23.65 GiB of which 1.12 GiB is free. Of the allocated memory 19.84 GiB is allocated by PyTorch, and 1.93 GiB is reserved by PyTorch but unallocated.`,
  );
}

/** Yields to the event loop so that several encodes don't block it in one go. */
function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

function startEncodes(env: SimEnv, keys: RenderKey[]): Promise<Buffer>[] {
  let gate: Promise<void> = Promise.resolve();
  return keys.map((k) => {
    // starts are spread over event-loop turns; the encodes themselves overlap
    const myGate = gate.then(tick);
    gate = myGate;
    const p = myGate.then(() => env.cache.get(k));
    // results may be dropped (interrupt, errors): never let them become unhandled rejections
    p.catch(() => undefined);
    return p;
  });
}

function loraHashes(env: SimEnv, prompt: string): string | null {
  const found: [string, string][] = [];
  for (const m of prompt.matchAll(/<lora:([^:>]+)(?::[^>]*)?>/g)) {
    const name = m[1];
    const lora = env.catalog.findLora(name);
    if (lora && !found.some(([n]) => n === name)) found.push([name, lora.name]);
  }
  return found.length ? found.map(([n, file]) => `${n}: ${env.catalog.loraHash(file)}`).join(', ') : null;
}

/**
 * `process_images` under the queue lock: state.begin, override settings and
 * model load, init checks, timed passes per batch, images and info.
 */
async function processImages(env: SimEnv, p: ProcessingParams): Promise<ProcessedResult> {
  const { catalog, state } = env;
  state.begin(p.tab === 'txt2img' ? 'scripts_txt2img' : 'scripts_img2img');
  try {
    // ---- override_settings (spec §2.12)
    const ov = p.overrideSettings;
    let ckpt: Checkpoint = catalog.currentCheckpoint();
    const ovCkpt = ov['sd_model_checkpoint'];
    const ovResolved = typeof ovCkpt === 'string' ? catalog.findCheckpoint(ovCkpt) : undefined;
    if (ovResolved) ckpt = ovResolved;
    const vae: Vae | undefined = catalog.findVae('sd_vae' in ov ? ov['sd_vae'] : catalog.options['sd_vae']);
    const clipSkip = pyInt('CLIP_stop_at_last_layers' in ov ? ov['CLIP_stop_at_last_layers'] : catalog.options['CLIP_stop_at_last_layers']) ?? 1;
    if (!p.restoreAfterwards) {
      for (const [k, v] of Object.entries(ov)) {
        if (!(k in catalog.options) || RESTRICTED_OPTIONS.has(k)) continue;
        if (k === 'sd_model_checkpoint') {
          if (ovResolved) catalog.options[k] = ovResolved.item.title;
        } else {
          catalog.options[k] = v;
        }
      }
    }
    await ensureModelLoaded(env, ckpt);

    // ---- p.init(): batch size from init images, hires/refiner checks
    let batchSize = p.batchSize;
    const totalImages = p.batchSize * p.nIter;
    if (p.initImages) {
      const k = p.initImages.length;
      if (k === 0) throw pyException('IndexError', 'list index out of range');
      if (k > 1) {
        if (k > batchSize) throw pyException('RuntimeError', `bad number of images passed: ${k}; expecting ${batchSize} or less`);
        batchSize = k;
      }
    }
    if (totalImages <= 0 || batchSize <= 0) throw pyException('IndexError', 'list index out of range');
    const outW = floorDiv(p.width, 8) * 8;
    const outH = floorDiv(p.height, 8) * 8;
    if (outW <= 0 || outH <= 0) {
      throw pyException('RuntimeError', `Given groups=1, expected input with non-zero spatial size, but got latent of size ${floorDiv(p.width, 8)}x${floorDiv(p.height, 8)}`);
    }

    const extra: [string, PyValue][] = [];
    let hrW = outW;
    let hrH = outH;
    if (p.hr) {
      const hr = p.hr;
      extra.push(['Denoising strength', p.denoisingStrength === null ? null : new PyFloat(p.denoisingStrength)]);
      if (hr.checkpointName && hr.checkpointName !== 'Use same checkpoint') {
        const c = catalog.findCheckpoint(hr.checkpointName);
        if (!c) throw pyException('Exception', `Could not find checkpoint with name ${hr.checkpointName}`);
        extra.push(['Hires checkpoint', c.shortTitle]);
      }
      if (hr.samplerName !== null && hr.samplerName !== p.sampler) extra.push(['Hires sampler', hr.samplerName]);
      extra.push(['Hires prompt', null], ['Hires negative prompt', null], ['Hires schedule type', null]);
      if (hr.upscaler !== null && !catalog.isHiresUpscaler(hr.upscaler)) {
        throw pyException('Exception', `could not find upscaler named ${hr.upscaler}`);
      }
      let upX: number;
      let upY: number;
      let truncX = 0;
      let truncY = 0;
      if (hr.resizeX === 0 && hr.resizeY === 0) {
        extra.push(['Hires upscale', new PyFloat(hr.scale)]);
        upX = Math.trunc(p.width * hr.scale);
        upY = Math.trunc(p.height * hr.scale);
      } else {
        extra.push(['Hires resize', `${hr.resizeX}x${hr.resizeY}`]);
        if (hr.resizeY === 0) {
          upX = hr.resizeX;
          upY = floorDiv(hr.resizeX * p.height, p.width);
        } else if (hr.resizeX === 0) {
          upX = floorDiv(hr.resizeY * p.width, p.height);
          upY = hr.resizeY;
        } else {
          if (p.width / p.height < hr.resizeX / hr.resizeY) {
            upX = hr.resizeX;
            upY = floorDiv(hr.resizeX * p.height, p.width);
          } else {
            upX = floorDiv(hr.resizeY * p.width, p.height);
            upY = hr.resizeY;
          }
          truncX = floorDiv(upX - hr.resizeX, 8);
          truncY = floorDiv(upY - hr.resizeY, 8);
        }
      }
      if (hr.secondPassSteps) extra.push(['Hires steps', hr.secondPassSteps]);
      if (hr.upscaler !== null) extra.push(['Hires upscaler', hr.upscaler]);
      hrW = (floorDiv(upX, 8) - truncX) * 8;
      hrH = (floorDiv(upY, 8) - truncY) * 8;
      if (hrW <= 0 || hrH <= 0) throw pyException('RuntimeError', 'Hires fix target size is empty');
    }
    if (p.tab === 'img2img') {
      extra.push(['Denoising strength', p.denoisingStrength === null ? null : new PyFloat(p.denoisingStrength)]);
      extra.push(...p.maskParams);
    }
    if (p.refinerCheckpoint !== null && !['', 'None', 'none'].includes(p.refinerCheckpoint)) {
      const r = catalog.findCheckpoint(p.refinerCheckpoint);
      if (!r) throw pyException('Exception', `Could not find checkpoint with name ${p.refinerCheckpoint}`);
      if (p.refinerSwitchAt !== null && p.refinerSwitchAt < 1) {
        extra.push(['Refiner', r.shortTitle], ['Refiner switch at', new PyFloat(p.refinerSwitchAt)]);
      }
    }
    if (!p.disableExtraNetworks && catalog.options['lora_add_hashes_to_infotext']) {
      const lh = loraHashes(env, p.prompt);
      if (lh) extra.push(['Lora hashes', lh]);
    }
    if (Math.max(outW * outH, hrW * hrH) * batchSize > MAX_BATCH_PIXELS) oom(hrW * hrH * batchSize * 4 * 4);

    // ---- seeds and prompts (spec §2.6)
    const seed0 = p.seed === null || p.seed === -1 ? randomInt(4294967294) : p.seed;
    const subseed0 = p.subseed === null || p.subseed === -1 ? randomInt(4294967294) : p.subseed;
    const allSeeds = Array.from({ length: totalImages }, (_, i) => seed0 + (p.subseedStrength === 0 ? i : 0));
    const allSubseeds = Array.from({ length: totalImages }, (_, i) => subseed0 + i);
    // Prompt styles are applied to the prompts A1111 reports using (modules/styles.py apply_styles_to_prompt).
    const styled = applyStyles(catalog.styleList(), p.styles, p.prompt, p.negativePrompt);
    const allPrompts = Array.from({ length: totalImages }, () => styled.prompt);
    const allNegative = Array.from({ length: totalImages }, () => styled.negative);
    const scheduleLabel = catalog.resolveSampler(p.sampler, p.scheduler, false).scheduler;
    const variant = p.initImages ? `i2i:${fnv1aBytes(p.initImages[0].bytes).toString(16)}` : '';

    // ---- sampling passes
    const hrSteps = p.hr ? p.hr.secondPassSteps || p.steps : 0;
    state.jobCount = p.nIter * (p.hr ? 2 : 1);
    const out: OutImage[] = [];
    for (let n = 0; n < p.nIter; n++) {
      if (state.skipped) state.skipped = false;
      if (state.interrupted || state.stoppingGeneration) break;
      if (p.nIter > 1) state.job = `Batch ${n + 1} out of ${p.nIter}`;
      const seeds = allSeeds.slice(n * batchSize, (n + 1) * batchSize);
      const keyFor = (seed: number, w: number, h: number): RenderKey => ({ seed, prompt: p.prompt, width: w, height: h, variant });
      let pngs = p.sendImages ? startEncodes(env, seeds.map((s) => keyFor(s, hrW, hrH))) : null;
      const previewW = Math.max(8, Math.round(outW / 8));
      const previewH = Math.max(8, Math.round(outH / 8));
      let preview: string | null = null;
      state.previewProvider = () => {
        if (!catalog.options['live_previews_enable']) return null;
        preview ??= encodeRgbPngSync(renderRgb(keyFor(seeds[0], previewW, previewH), 63), previewW, previewH).toString('base64');
        return preview;
      };
      state.startPass(p.steps, env.stepMs);
      const r1 = await state.wait(p.steps * env.stepMs);
      state.finishPass(r1 === 'done');
      let w = outW;
      let h = outH;
      if (p.hr) {
        if (state.interrupted) {
          // sample_hr_pass returns the first-pass latents when interrupted
          pngs = p.sendImages ? startEncodes(env, seeds.map((s) => keyFor(s, outW, outH))) : null;
        } else {
          state.nextjob();
          state.startPass(hrSteps, env.stepMs);
          const r2 = await state.wait(hrSteps * env.stepMs);
          state.finishPass(r2 === 'done');
          w = hrW;
          h = hrH;
        }
      }
      seeds.forEach((seed, j) => out.push({ seed, index: n * batchSize + j, width: w, height: h, png: pngs ? pngs[j] : null }));
      state.nextjob();
    }

    // ---- infotexts and info (spec §2.8, §2.9)
    const restoreFaces = p.restoreFaces ?? Boolean(catalog.options['face_restoration']);
    const tiling = p.tiling ?? Boolean(catalog.options['tiling']);
    const infoParams = (index: number): [string, unknown][] => [
      ['Steps', p.steps],
      ['Sampler', p.sampler],
      ['Schedule type', scheduleLabel],
      ['CFG scale', new PyFloat(p.cfgScale)],
      ['Seed', allSeeds[index]],
      ['Face restoration', restoreFaces ? catalog.options['face_restoration_model'] : null],
      ['Size', `${p.width}x${p.height}`],
      ['Model hash', catalog.options['add_model_hash_to_info'] ? ckpt.item.hash : null],
      ['Model', catalog.options['add_model_name_to_info'] ? ckpt.item.model_name : null],
      ['VAE hash', vae && catalog.options['add_vae_hash_to_info'] ? vae.hash : null],
      ['VAE', vae && catalog.options['add_vae_name_to_info'] ? vae.name : null],
      ['Variation seed', p.subseedStrength === 0 ? null : allSubseeds[index]],
      ['Variation seed strength', p.subseedStrength === 0 ? null : new PyFloat(p.subseedStrength)],
      ['Seed resize from', p.seedResizeFromW <= 0 || p.seedResizeFromH <= 0 ? null : `${p.seedResizeFromW}x${p.seedResizeFromH}`],
      ['Denoising strength', extra.find(([k]) => k === 'Denoising strength')?.[1] ?? null],
      ['Clip skip', clipSkip <= 1 ? null : clipSkip],
      ['Tiling', tiling ? 'True' : null],
      ...extra.filter(([k]) => k !== 'Denoising strength'),
      ['Version', catalog.options['add_version_to_infotext'] ? A1111_VERSION : null],
    ];
    const infotexts = out.map((o) => createInfotext(allPrompts[o.index], allNegative[o.index], infoParams(o.index)));
    const images: Buffer[] = [];
    if (p.sendImages) {
      const pnginfo = Boolean(catalog.options['enable_pnginfo']);
      for (let i = 0; i < out.length; i++) {
        const raw = await (out[i].png as Promise<Buffer>);
        images.push(pnginfo ? insertTextChunks(raw, [['parameters', infotexts[i]]]) : raw);
      }
    }
    const extraDict: Record<string, PyValue> = {};
    for (const [k, v] of extra) extraDict[k] = v;
    const info: PyValue = {
      prompt: allPrompts[0],
      all_prompts: allPrompts,
      negative_prompt: allNegative[0],
      all_negative_prompts: allNegative,
      seed: allSeeds[0],
      all_seeds: allSeeds,
      subseed: allSubseeds[0],
      all_subseeds: allSubseeds,
      subseed_strength: new PyFloat(p.subseedStrength),
      width: p.width,
      height: p.height,
      sampler_name: p.sampler,
      cfg_scale: new PyFloat(p.cfgScale),
      steps: p.steps,
      batch_size: batchSize,
      restore_faces: restoreFaces,
      face_restoration_model: restoreFaces ? String(catalog.options['face_restoration_model']) : null,
      sd_model_name: ckpt.item.model_name,
      sd_model_hash: ckpt.item.hash,
      sd_vae_name: vae ? vae.name : null,
      sd_vae_hash: vae ? vae.hash : null,
      seed_resize_from_w: p.seedResizeFromW,
      seed_resize_from_h: p.seedResizeFromH,
      denoising_strength: p.denoisingStrength === null ? null : new PyFloat(p.denoisingStrength),
      extra_generation_params: extraDict,
      index_of_first_image: 0,
      infotexts,
      styles: p.styles,
      job_timestamp: state.jobTimestamp,
      clip_skip: clipSkip,
      is_using_inpainting_conditioning: false,
      version: A1111_VERSION,
    };
    return { images, info: pyDumps(info) };
  } finally {
    state.end();
  }
}

function baseParams(env: SimEnv, req: Record<string, unknown>, tab: Tab): Omit<ProcessingParams, 'hr' | 'initImages' | 'maskParams'> {
  const samplerIn = str(req['sampler_name']) || str(req['sampler_index']);
  const reqScheduler = str(req['scheduler']);
  const { sampler, scheduler } = env.catalog.resolveSampler(samplerIn, reqScheduler);
  return {
    tab,
    prompt: str(req['prompt']) ?? '',
    negativePrompt: str(req['negative_prompt']) ?? '',
    styles: Array.isArray(req['styles']) ? (req['styles'] as string[]) : [],
    seed: typeof req['seed'] === 'number' ? req['seed'] : null,
    subseed: typeof req['subseed'] === 'number' ? req['subseed'] : null,
    subseedStrength: num(req['subseed_strength'], 0),
    seedResizeFromW: num(req['seed_resize_from_w'], -1),
    seedResizeFromH: num(req['seed_resize_from_h'], -1),
    batchSize: num(req['batch_size'], 1),
    nIter: num(req['n_iter'], 1),
    steps: num(req['steps'], 50),
    cfgScale: num(req['cfg_scale'], 7),
    width: num(req['width'], 512),
    height: num(req['height'], 512),
    restoreFaces: typeof req['restore_faces'] === 'boolean' ? req['restore_faces'] : null,
    tiling: typeof req['tiling'] === 'boolean' ? req['tiling'] : null,
    sampler,
    scheduler: reqScheduler || (scheduler !== 'Automatic' ? scheduler : null),
    denoisingStrength: typeof req['denoising_strength'] === 'number' ? req['denoising_strength'] : null,
    overrideSettings: { ...((req['override_settings'] as Record<string, unknown> | null) ?? {}) },
    restoreAfterwards: req['override_settings_restore_afterwards'] !== false,
    refinerCheckpoint: str(req['refiner_checkpoint']),
    refinerSwitchAt: typeof req['refiner_switch_at'] === 'number' ? req['refiner_switch_at'] : null,
    disableExtraNetworks: req['disable_extra_networks'] === true,
    sendImages: req['send_images'] !== false,
  };
}

/**
 * `POST /sdapi/v1/txt2img` (spec §2.6, §2.8).
 *
 * Duration ≈ `steps × stepMs × n_iter` (+ hires second-pass steps) (+ model
 * load when the checkpoint is not loaded yet), serialised by the queue lock.
 *
 * @param body parsed JSON body (`undefined` if none)
 * @throws SimHttpError 422 (validation, unknown script), 500 (unknown
 *   upscaler/refiner checkpoint, OOM for huge sizes)
 */
export async function runTxt2Img(env: SimEnv, body: unknown): Promise<GenerationResponse> {
  const { values: req, fieldsSet } = validateModel(body, TXT2IMG_FIELDS);
  applyInfotext(env, req, fieldsSet, 'txt2img');
  checkScripts(req, 'txt2img');
  const base = baseParams(env, req, 'txt2img');
  const hr: HiresParams | null =
    req['enable_hr'] === true
      ? {
          scale: num(req['hr_scale'], 2),
          upscaler: str(req['hr_upscaler']),
          secondPassSteps: num(req['hr_second_pass_steps'], 0),
          resizeX: num(req['hr_resize_x'], 0),
          resizeY: num(req['hr_resize_y'], 0),
          checkpointName: str(req['hr_checkpoint_name']),
          samplerName: str(req['hr_sampler_name']),
        }
      : null;
  const release = await env.lock.acquire();
  let result: ProcessedResult;
  try {
    result = await processImages(env, { ...base, hr, initImages: null, maskParams: [] });
  } finally {
    release();
  }
  return {
    images: result.images.map((b) => b.toString('base64')),
    parameters: req,
    info: result.info,
  };
}

/**
 * `POST /sdapi/v1/img2img` (spec §2.7, §2.8): `init_images` null → 404
 * `Init image not found`; a bad `mask` fails before the lock, bad init images
 * inside it (500 `Invalid encoded image`); one init image is repeated
 * `batch_size` times, k ≤ batch_size images set `batch_size = k`, more → 500.
 * Output images are `width × height` (floored to multiples of 8).
 *
 * @param body parsed JSON body (`undefined` if none)
 */
export async function runImg2Img(env: SimEnv, body: unknown): Promise<GenerationResponse> {
  const { values: req, fieldsSet } = validateModel(body, IMG2IMG_FIELDS);
  applyInfotext(env, req, fieldsSet, 'img2img');
  const initImages = req['init_images'];
  if (initImages === null || initImages === undefined) throw httpException(404, 'Init image not found');
  const mask = str(req['mask']);
  if (mask) await decodeImageInput(env, mask);
  checkScripts(req, 'img2img');
  const base = baseParams(env, req, 'img2img');
  const maskParams: [string, PyValue][] = [];
  if (mask) {
    const bx = num(req['mask_blur_x'], 4);
    const by = num(req['mask_blur_y'], 4);
    const blur = typeof req['mask_blur'] === 'number' ? req['mask_blur'] : null;
    const mx = blur ?? bx;
    const my = blur ?? by;
    if (mx > 0 || my > 0) maskParams.push(['Mask blur', mx === my ? mx : `${mx}x${my}`]);
    if (req['inpainting_mask_invert']) maskParams.push(['Mask mode', 'Inpaint not masked']);
    maskParams.push(['Masked content', ['fill', 'original', 'latent noise', 'latent nothing'][num(req['inpainting_fill'], 0)] ?? 'fill']);
    if (req['inpaint_full_res'] !== false) {
      maskParams.push(['Inpaint area', 'Only masked'], ['Masked area padding', num(req['inpaint_full_res_padding'], 0)]);
    }
  }
  const release = await env.lock.acquire();
  let result: ProcessedResult;
  try {
    const decoded: DecodedImage[] = [];
    for (const img of initImages as unknown[]) decoded.push(await decodeImageInput(env, img));
    result = await processImages(env, { ...base, hr: null, initImages: decoded, maskParams });
  } finally {
    release();
  }
  const parameters: Record<string, unknown> = { ...req };
  if (req['include_init_images'] !== true) {
    parameters['init_images'] = null;
    parameters['mask'] = null;
  }
  return { images: result.images.map((b) => b.toString('base64')), parameters, info: result.info };
}

/**
 * A1111's `merge_prompts` (modules/styles.py): a style text with `{prompt}` takes the prompt in that place; any
 * other is joined after it with `, ` (empty parts left out).
 */
function mergePrompt(style: string, prompt: string): string {
  if (style.includes('{prompt}')) return style.replace('{prompt}', prompt);
  return [prompt.trim(), style.trim()].filter((x) => x !== '').join(', ');
}

/**
 * A1111's `apply_styles_to_prompt` / `apply_negative_styles_to_prompt`: each named style (in the request's order;
 * unknown names ignored) merged into the prompt and the negative prompt.
 */
function applyStyles(
  known: ReadonlyArray<{ name: string; prompt: string; negative_prompt: string }>,
  names: readonly string[],
  prompt: string,
  negative: string,
): { prompt: string; negative: string } {
  let pos = prompt;
  let neg = negative;
  for (const name of names) {
    const st = known.find((k) => k.name === name);
    if (!st) continue;
    pos = mergePrompt(st.prompt, pos);
    neg = mergePrompt(st.negative_prompt, neg);
  }
  return { prompt: pos, negative: neg };
}
