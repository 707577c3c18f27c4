/**
 * A1111's `process_images` for txt2img and img2img (docs/a1111-api.md, "Concurrency, queue lock, progress" to "PNG infotext format", "`override_settings`, model switching, options"), run
 * under the queue lock: override settings (unknown keys → `KeyError`, as
 * `Options.set` in A1111 v1.10.1 `modules/options.py`) and model loads, the
 * processing crashes of `crashes.ts`, timed sampling passes with live progress,
 * interrupt/skip, infotexts, deterministic PNGs and ControlNet detected maps
 * appended after the generated images.
 */
import { randomInt } from 'node:crypto';
import { A1111_VERSION, type Checkpoint, type Vae } from './catalog.js';
import { RESTRICTED_OPTIONS } from './options.js';
import { pyInt } from './validation.js';
import { crashAfterFirstPass, crashAtFirstStep, crashBeforeSampling } from './crashes.js';
import { ensureModelLoaded, type SimEnv } from './env.js';
import { pyException, type SimHttpError } from './errors.js';
import { createInfotext } from './infotext.js';
import { applyStyles } from './paste.js';
import type { DecodedImage } from './image-decode.js';
import { applyWildcards } from './extensions/wildcards.js';
import { fnv1aBytes, insertTextChunks, renderRgb, encodeRgbPngSync, type RenderKey } from './png.js';
import { PyFloat, pyDumps, pyRepr, type PyValue } from './pyjson.js';

type Tab = 'txt2img' | 'img2img';

/** Largest pixel count per batch before the simulated GPU runs out of memory. */
const MAX_BATCH_PIXELS = 64 * 1024 * 1024;

function floorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

/** Hires-fix parameters of a txt2img job. */
export interface HiresParams {
  scale: number;
  upscaler: string | null;
  secondPassSteps: number;
  resizeX: number;
  resizeY: number;
  checkpointName: string | null;
  samplerName: string | null;
}

/** Everything `processImages` needs, resolved from the request. */
export interface ProcessingParams {
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
  /** the validated request, `null`s kept, for the crash rules (`crashes.ts`) */
  raw: Record<string, unknown>;
  /** img2img with a decoded `mask` */
  hasMask: boolean;
  /** one entry per ControlNet detected map to append (a key that makes the map's pixels) */
  detectMaps: string[];
  /** infotext entries added by always-on scripts (ADetailer) */
  scriptParams: [string, PyValue][];
}

interface OutImage {
  seed: number;
  index: number;
  width: number;
  height: number;
  png: Promise<Buffer> | null;
}

/** PNGs (generated images, then detected maps) and `Processed.js()`. */
export interface ProcessedResult {
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
export async function processImages(env: SimEnv, p: ProcessingParams): Promise<ProcessedResult> {
  const { catalog, state } = env;
  state.begin(p.tab === 'txt2img' ? 'scripts_txt2img' : 'scripts_img2img');
  try {
    // ---- override_settings (docs/a1111-api.md, "`override_settings`, model switching, options")
    const ov = p.overrideSettings;
    let ckpt: Checkpoint = catalog.currentCheckpoint();
    const ovCkpt = ov['sd_model_checkpoint'];
    const ovResolved = typeof ovCkpt === 'string' ? catalog.findCheckpoint(ovCkpt) : undefined;
    if (ovResolved) ckpt = ovResolved;
    const vae: Vae | undefined = catalog.findVae('sd_vae' in ov ? ov['sd_vae'] : catalog.options['sd_vae']);
    const clipSkip = pyInt('CLIP_stop_at_last_layers' in ov ? ov['CLIP_stop_at_last_layers'] : catalog.options['CLIP_stop_at_last_layers']) ?? 1;
    // `opts.set(k, v, is_api=True, run_callbacks=False)` per key: equal values are skipped first, then
    // `self.data_labels[key]` raises KeyError for a key the install does not have
    for (const [k, v] of Object.entries(ov)) {
      if (k === 'sd_model_checkpoint' && !ovResolved) continue; // dropped silently (process_images)
      if (!(k in catalog.options) && v !== null) throw pyException('KeyError', pyRepr(k));
    }
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
    const secondOrder = catalog.samplerList().find((s) => s.name === p.sampler)?.options['second_order'] === 'True';
    const early = crashBeforeSampling(p.raw, p.tab, p.hasMask, secondOrder);
    if (early) throw early;

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
    extra.push(...p.scriptParams);
    if (Math.max(outW * outH, hrW * hrH) * batchSize > MAX_BATCH_PIXELS) oom(hrW * hrH * batchSize * 4 * 4);

    // ---- seeds and prompts (docs/a1111-api.md, "`POST /sdapi/v1/txt2img` request fields")
    const seed0 = p.seed === null || p.seed === -1 ? randomInt(4294967294) : p.seed;
    const subseed0 = p.subseed === null || p.subseed === -1 ? randomInt(4294967294) : p.subseed;
    const allSeeds = Array.from({ length: totalImages }, (_, i) => seed0 + (p.subseedStrength === 0 ? i : 0));
    const allSubseeds = Array.from({ length: totalImages }, (_, i) => subseed0 + i);
    // Prompt styles are applied to the prompts A1111 reports using (modules/styles.py apply_styles_to_prompt).
    const styled = applyStyles(catalog.styleList(), p.styles, p.prompt, p.negativePrompt);
    const [allPrompts, allNegative] = [styled.prompt, styled.negative].map((t) => Array.from({ length: totalImages }, () => t));
    if (env.extensions.has('wildcards')) extra.push(...applyWildcards(catalog.options, allPrompts, allNegative));
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
      const stepCrash: SimHttpError | null = crashAtFirstStep(p.raw);
      state.startPass(p.steps, env.stepMs);
      const r1 = await state.wait((stepCrash ? 1 : p.steps) * env.stepMs);
      state.finishPass(r1 === 'done');
      if (stepCrash && r1 === 'done') throw stepCrash;
      let w = outW;
      let h = outH;
      if (p.hr) {
        if (state.interrupted) {
          // sample_hr_pass returns the first-pass latents when interrupted
          pngs = p.sendImages ? startEncodes(env, seeds.map((s) => keyFor(s, outW, outH))) : null;
        } else {
          const hrCrash = crashAfterFirstPass(p.raw, env.flavor);
          if (hrCrash) throw hrCrash;
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

    // ---- infotexts and info (docs/a1111-api.md, "Responses", "PNG infotext format")
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
    if (p.sendImages && out.length > 0) {
      // ControlNet's postprocess appends each unit's detected map (hires: the hr-size one first), no infotext
      for (const key of p.detectMaps) {
        const sizes: [number, number][] = p.hr ? [[hrW, hrH], [outW, outH]] : [[outW, outH]];
        for (const [w, h] of sizes) images.push(await env.cache.get({ seed: 0, prompt: `detected map ${key}`, width: w, height: h, variant: 'cn' }));
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
