/**
 * The API layer of `POST /sdapi/v1/txt2img` and `/img2img` (A1111 v1.10.1
 * `modules/api/api.py` `text2imgapi`/`img2imgapi`): validation (flavor's pydantic),
 * infotext pasting, `script_name`/`alwayson_scripts` checks (`init_script_args`),
 * sampler resolution, always-on extension scripts (ControlNet units, ADetailer),
 * the queue lock around `processImages`, and the `{images, parameters, info}` response.
 */
import { decodeImageInput, validateRequest, type SimEnv } from './env.js';
import { httpException } from './errors.js';
import { adetailerParams } from './extensions/adetailer.js';
import { controlnetDetectMaps } from './extensions/controlnet.js';
import { processImages, type HiresParams, type ProcessedResult, type ProcessingParams } from './generation.js';
import { img2imgModel, txt2imgModel } from './models.js';
import { applyInfotext } from './paste.js';
import { saveGenerationFiles } from './save-images.js';
import type { DecodedImage } from './image-decode.js';
import type { PyValue } from './pyjson.js';
import { alwaysonScriptArgs, checkSelectableScript } from './scripts.js';

/** Response of txt2img/img2img (A1111 `modules/api/models.py` `TextToImageResponse`). */
export interface GenerationResponse {
  /** base64 PNGs without data-URI prefix */
  images: string[];
  /** the request echoed with defaults filled */
  parameters: Record<string, unknown>;
  /** `json.dumps` of the processing result (Python formatting) */
  info: string;
}

type Tab = 'txt2img' | 'img2img';
type Base = Omit<ProcessingParams, 'hr' | 'initImages' | 'maskParams' | 'raw' | 'hasMask' | 'detectMaps' | 'scriptParams'>;

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
function num(v: unknown, dflt: number): number {
  return typeof v === 'number' ? v : dflt;
}

/**
 * Script checks before the lock (`get_selectable_script`, `init_script_args`); returns the always-on
 * scripts' args by title.
 */
function scriptArgs(env: SimEnv, req: Record<string, unknown>, tab: Tab): Map<string, unknown[]> {
  checkSelectableScript(env.scripts[tab], req['script_name']);
  return alwaysonScriptArgs(env.scripts[tab], req['alwayson_scripts'] as Record<string, unknown> | null);
}

/** Extension script effects under the lock: ControlNet detected maps, ADetailer infotext entries. */
async function extensionEffects(env: SimEnv, args: Map<string, unknown[]>, initImage: string | null): Promise<{ detectMaps: string[]; scriptParams: [string, PyValue][] }> {
  const cn = args.get('ControlNet');
  const ad = args.get('ADetailer');
  return {
    detectMaps: cn ? await controlnetDetectMaps(env, cn, initImage) : [],
    scriptParams: ad ? adetailerParams(ad) : [],
  };
}

function baseParams(env: SimEnv, req: Record<string, unknown>, tab: Tab): Base {
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
 * `POST /sdapi/v1/txt2img` (A1111 `modules/api/api.py` `text2imgapi`).
 *
 * Duration ≈ `steps × stepMs × n_iter` (+ hires second-pass steps) (+ model
 * load when the checkpoint is not loaded yet), serialised by the queue lock.
 *
 * @param body parsed JSON body (`undefined` if none)
 * @throws SimHttpError 422 (validation, unknown script), 500 (unknown
 *   upscaler/refiner checkpoint, OOM for huge sizes)
 */
export async function runTxt2Img(env: SimEnv, body: unknown): Promise<GenerationResponse> {
  const { values: req, fieldsSet } = validateRequest(env, body, txt2imgModel(env.flavor));
  applyInfotext(env, req, fieldsSet, 'txt2img');
  const args = scriptArgs(env, req, 'txt2img');
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
    const effects = await extensionEffects(env, args, null);
    result = await processImages(env, { ...base, hr, initImages: null, maskParams: [], raw: req, hasMask: false, ...effects });
    await saveGenerationFiles(env, { tab: 'txt2img', req, images: result.images, info: result.info });
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
 * `POST /sdapi/v1/img2img` (A1111 `modules/api/api.py` `img2imgapi`): `init_images` null → 404
 * `Init image not found`; a bad `mask` fails before the lock, bad init images
 * inside it (500 `Invalid encoded image`); one init image is repeated
 * `batch_size` times, k ≤ batch_size images set `batch_size = k`, more → 500.
 * Output images are `width × height` (floored to multiples of 8).
 *
 * @param body parsed JSON body (`undefined` if none)
 */
export async function runImg2Img(env: SimEnv, body: unknown): Promise<GenerationResponse> {
  const { values: req, fieldsSet } = validateRequest(env, body, img2imgModel(env.flavor));
  applyInfotext(env, req, fieldsSet, 'img2img');
  const initImages = req['init_images'];
  if (initImages === null || initImages === undefined) throw httpException(404, 'Init image not found');
  const mask = str(req['mask']);
  if (mask) await decodeImageInput(env, mask);
  const args = scriptArgs(env, req, 'img2img');
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
    const first = (initImages as unknown[])[0];
    const effects = await extensionEffects(env, args, typeof first === 'string' ? first : null);
    result = await processImages(env, { ...base, hr: null, initImages: decoded, maskParams, raw: req, hasMask: !!mask, ...effects });
    await saveGenerationFiles(env, { tab: 'img2img', req, images: result.images, info: result.info, initImages: decoded });
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
