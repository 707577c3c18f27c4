/**
 * Image routes other than generation (A1111 `modules/api/models.py`; docs/a1111-api.md, "Extras (upscale), interrogate, png-info"): extras upscaling
 * (single and batch), interrogate, and png-info.
 */
import { decodeImageInput, validateRequest, type SimEnv } from './env.js';
import { httpException, pyException } from './errors.js';
import { parseGenerationParameters, quoteInfoValue, type InfotextValue } from './infotext.js';
import {
  centerOnCanvasRgb,
  decodePngRgb,
  encodeRgbPng,
  fnv1aBytes,
  insertTextChunks,
  readPngInfo,
  renderRgb,
  resizeNearestRgb,
} from './png.js';
import type { DecodedImage } from './image-decode.js';
import { PyFloat } from './pyjson.js';
import { seededRandom } from './random.js';
import { INTERROGATE_MODEL, PNGINFO_MODEL, extrasBatchModel, extrasSingleModel } from './models.js';

/** `POST /sdapi/v1/extra-single-image` response (A1111 `modules/api/models.py`). */
export interface ExtrasSingleResponse {
  html_info: string;
  /** base64 PNG */
  image: string;
}

/** `POST /sdapi/v1/extra-batch-images` response (A1111 `modules/api/models.py`). */
export interface ExtrasBatchResponse {
  html_info: string;
  /** base64 PNGs */
  images: string[];
}

/** `POST /sdapi/v1/png-info` response (A1111 `modules/api/models.py`; docs/a1111-api.md, "Extras (upscale), interrogate, png-info"). */
export interface PngInfoResponse {
  info: string;
  items: Record<string, string | number>;
  parameters: Record<string, InfotextValue>;
}

/** Keys `images.read_info_from_image` drops from `Image.info`. */
const IGNORED_INFO_KEYS = new Set([
  'jfif',
  'jfif_version',
  'jfif_unit',
  'jfif_density',
  'adobe',
  'adobe_transform',
  'dpi',
  'exif',
  'loop',
  'background',
  'timestamp',
  'duration',
  'progressive',
  'progression',
  'icc_profile',
  'chromaticity',
  'photoshop',
]);

/** Largest output of one extras image before the simulated GPU runs out of memory (px). */
const MAX_EXTRAS_PIXELS = 64 * 1024 * 1024;

/** Python `html.escape(s)` (quote=True). */
function htmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
}

/** A1111's `ui_common.plaintext_to_html`. */
function plaintextToHtml(text: string): string {
  return `<p>${text.split('\n').map(htmlEscape).join('<br>\n')}</p>`;
}

function imageInfo(img: DecodedImage): Record<string, string | number> {
  if (img.header.format !== 'PNG') return {};
  const items: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(readPngInfo(img.bytes))) if (!IGNORED_INFO_KEYS.has(k)) items[k] = v;
  return items;
}

interface ExtrasResult {
  png: Buffer;
  infotext: string;
}

/** Runs the postprocessing "Upscale" (+ GFPGAN/CodeFormer bookkeeping) on one image. */
async function postprocessOne(env: SimEnv, img: DecodedImage, req: Record<string, unknown>): Promise<ExtrasResult> {
  const { catalog, state } = env;
  const info: [string, unknown][] = [];
  const w = img.header.width;
  const h = img.header.height;
  let scaleW = w;
  let scaleH = h;
  let cropTo: [number, number] | null = null;

  const u1name = req['upscaler_1'] === 'None' ? null : (req['upscaler_1'] as string);
  const upscaler1 = u1name === null ? undefined : catalog.upscalers.find((u) => u.name === u1name);
  if (u1name !== null && !upscaler1) throw pyException('AssertionError', `could not find upscaler named ${u1name}`);
  if (upscaler1) {
    const u2name = req['upscaler_2'] === 'None' ? null : (req['upscaler_2'] as string);
    const upscaler2 = u2name === null ? undefined : catalog.upscalers.find((u) => u.name === u2name && u.name !== 'None');
    if (u2name !== null && !upscaler2) throw pyException('AssertionError', `could not find upscaler named ${u2name}`);
    const mode = req['resize_mode'] as number;
    const tw = req['upscaling_resize_w'] as number;
    const th = req['upscaling_resize_h'] as number;
    let scale = req['upscaling_resize'] as number;
    if (mode === 1) {
      scale = Math.max(tw / w, th / h);
      info.push(['Postprocess upscale to', `${tw}x${th}`]);
    } else {
      info.push(['Postprocess upscale by', new PyFloat(scale)]);
    }
    scaleW = Math.floor((w * scale) / 8) * 8;
    scaleH = Math.floor((h * scale) / 8) * 8;
    if (scaleW <= 0 || scaleH <= 0) throw pyException('ValueError', 'height and width must be > 0');
    if (mode === 1 && req['upscaling_crop'] === true) {
      cropTo = [tw, th];
      info.push(['Postprocess crop to', `${tw}x${th}`]);
    }
    info.push(['Postprocess upscaler', upscaler1.name]);
    const vis2 = req['extras_upscaler_2_visibility'] as number;
    if (upscaler2 && vis2 > 0) info.push(['Postprocess upscaler 2', upscaler2.name]);
  }
  const gfp = req['gfpgan_visibility'] as number;
  if (gfp > 0) info.push(['GFPGAN visibility', new PyFloat(Math.round(gfp * 1000) / 1000)]);
  const cf = req['codeformer_visibility'] as number;
  if (cf > 0) {
    info.push(['CodeFormer visibility', new PyFloat(Math.round(cf * 1000) / 1000)]);
    info.push(['CodeFormer weight', new PyFloat(Math.round((req['codeformer_weight'] as number) * 1000) / 1000)]);
  }
  const outW = cropTo ? cropTo[0] : scaleW;
  const outH = cropTo ? cropTo[1] : scaleH;
  if (Math.max(outW * outH, scaleW * scaleH) > MAX_EXTRAS_PIXELS) {
    throw pyException('OutOfMemoryError', `CUDA out of memory. Tried to allocate ${((scaleW * scaleH * 48) / 1024 ** 3).toFixed(2)} GiB.`);
  }
  // simulated upscaler time
  if (upscaler1) await state.uninterruptible(env.stepMs * 10);

  let rgb: Buffer | null = null;
  if (img.header.format === 'PNG') {
    let d: { width: number; height: number; rgb: Buffer };
    try {
      d = decodePngRgb(img.bytes);
    } catch {
      // Pillow fails the same way once it loads the pixels
      throw pyException('OSError', 'image file is truncated');
    }
    rgb = d.width === scaleW && d.height === scaleH ? d.rgb : resizeNearestRgb(d.rgb, d.width, d.height, scaleW, scaleH);
  }
  rgb ??= renderRgb({ seed: fnv1aBytes(img.bytes), prompt: 'extras', width: scaleW, height: scaleH });
  if (cropTo) rgb = centerOnCanvasRgb(rgb, scaleW, scaleH, cropTo[0], cropTo[1]);
  const infotext = info
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => (k === v ? k : `${k}: ${quoteInfoValue(v)}`))
    .join(', ');
  let png = await encodeRgbPng(rgb, outW, outH);
  if (catalog.options['enable_pnginfo']) {
    const existing = imageInfo(img);
    const texts: [string, string][] = [];
    for (const [k, v] of Object.entries(existing)) if (typeof v === 'string' && k !== 'postprocessing') texts.push([k, v]);
    texts.push(['postprocessing', infotext]);
    png = insertTextChunks(png, texts);
  }
  return { png, infotext };
}

async function runPostprocessing(env: SimEnv, images: { img: DecodedImage; name: string | null }[], req: Record<string, unknown>): Promise<{ pngs: Buffer[]; html: string }> {
  const { state } = env;
  const release = await env.lock.acquire();
  state.begin('extras');
  try {
    state.jobCount = images.length;
    const pngs: Buffer[] = [];
    let infotext = '';
    for (const { img, name } of images) {
      state.nextjob();
      state.textinfo = name;
      state.skipped = false;
      if (state.interrupted) break;
      const r = await postprocessOne(env, img, req);
      if (state.skipped) continue;
      pngs.push(r.png);
      infotext = r.infotext;
    }
    return { pngs, html: plaintextToHtml(infotext) };
  } finally {
    state.end();
    release();
  }
}

/**
 * `POST /sdapi/v1/extra-single-image` (docs/a1111-api.md, "Extras (upscale), interrogate, png-info"). With `upscaler_1` other
 * than "None" the image is scaled by `upscaling_resize` (resize_mode 0) or to
 * fit `upscaling_resize_w × _h` (resize_mode 1, cropped to exactly that size
 * when `upscaling_crop`); like A1111's `Upscaler.upscale`, a scaled size is
 * floored to a multiple of 8 px. With `upscaler_1: "None"` (the default) A1111
 * does not upscale and the image keeps its size.
 *
 * @throws SimHttpError 422 (validation), 500 `Invalid encoded image`,
 *   500 `AssertionError` for an unknown upscaler
 */
export async function runExtrasSingle(env: SimEnv, body: unknown): Promise<ExtrasSingleResponse> {
  const { values: req } = validateRequest(env, body, extrasSingleModel([]));
  const img = await decodeImageInput(env, req['image']);
  const { pngs, html } = await runPostprocessing(env, [{ img, name: null }], req);
  return { html_info: html, image: pngs.length ? pngs[0].toString('base64') : '' };
}

/** `POST /sdapi/v1/extra-batch-images` (docs/a1111-api.md, "Extras (upscale), interrogate, png-info"): every `imageList[i].data` as in {@link runExtrasSingle}. */
export async function runExtrasBatch(env: SimEnv, body: unknown): Promise<ExtrasBatchResponse> {
  const { values: req } = validateRequest(env, body, extrasBatchModel([]));
  const list = req['imageList'] as { data: string; name: string }[];
  const images: { img: DecodedImage; name: string | null }[] = [];
  for (const item of list) images.push({ img: await decodeImageInput(env, item.data), name: item.name });
  const { pngs, html } = await runPostprocessing(env, images, req);
  return { html_info: html, images: pngs.map((p) => p.toString('base64')) };
}

const CLIP_SUBJECTS = ['a painting of a horse', 'a photo of an astronaut', 'a close up of a cat', 'a city street at night', 'a mountain landscape', 'a portrait of a woman', 'a bowl of fruit', 'a castle on a hill', 'a robot in a field', 'a red car parked'];
const CLIP_DETAILS = ['with a blue sky in the background', 'on a wooden table', 'in the style of a watercolor', 'with dramatic lighting', 'surrounded by flowers', 'in a foggy forest', 'under a starry sky', 'next to a river'];
const CLIP_STYLES = ['trending on artstation', 'highly detailed', 'digital art', 'octane render', 'concept art', 'sharp focus', 'studio lighting', 'matte painting'];
const DANBOORU_TAGS = ['1girl', 'solo', 'outdoors', 'sky', 'cloud', 'day', 'tree', 'grass', 'horse', 'looking at viewer', 'smile', 'long hair', 'short hair', 'building', 'scenery', 'no humans', 'water', 'night', 'star (sky)', 'flower', 'helmet', 'spacesuit', 'animal', 'riding'];

function pick<T>(rnd: () => number, list: T[]): T {
  return list[Math.floor(rnd() * list.length)];
}

/**
 * `POST /sdapi/v1/interrogate` (A1111 `modules/api/models.py`): a caption derived deterministically
 * from the image bytes; `model` must be `clip` or `deepdanbooru`.
 *
 * @throws SimHttpError 500 `Invalid encoded image`, 404 `Model not found`
 */
export async function runInterrogate(env: SimEnv, body: unknown): Promise<{ caption: string }> {
  const { values: req } = validateRequest(env, body, INTERROGATE_MODEL);
  const img = await decodeImageInput(env, req['image']);
  const release = await env.lock.acquire();
  try {
    const model = req['model'];
    if (model !== 'clip' && model !== 'deepdanbooru') throw httpException(404, 'Model not found');
    await env.state.uninterruptible(env.stepMs * 10);
    const rnd = seededRandom(fnv1aBytes(img.bytes));
    if (model === 'clip') {
      return { caption: `${pick(rnd, CLIP_SUBJECTS)} ${pick(rnd, CLIP_DETAILS)}, ${pick(rnd, CLIP_STYLES)}, ${pick(rnd, CLIP_STYLES)}` };
    }
    const tags = new Set<string>();
    const n = 4 + Math.floor(rnd() * 6);
    while (tags.size < n) tags.add(pick(rnd, DANBOORU_TAGS));
    const escaped = [...tags].sort().map((t) => t.replace(/([\\()])/g, '\\$1'));
    return { caption: escaped.join(', ') };
  } finally {
    release();
  }
}

/**
 * `POST /sdapi/v1/png-info` (docs/a1111-api.md, "PNG infotext format", "Extras (upscale), interrogate, png-info"): `info` = the `parameters` text
 * chunk, `parameters` = it parsed by {@link parseGenerationParameters},
 * `items` = the other `Image.info` entries (text chunks, gamma, ...).
 *
 * @throws SimHttpError 422 when `image` is missing, 500 `Invalid encoded image`
 */
export async function runPngInfo(env: SimEnv, body: unknown): Promise<PngInfoResponse> {
  const { values: req } = validateRequest(env, body, PNGINFO_MODEL);
  const img = await decodeImageInput(env, (req['image'] as string).trim());
  const items = imageInfo(img);
  const raw = items['parameters'];
  delete items['parameters'];
  const geninfo = typeof raw === 'string' ? raw : '';
  return { info: geninfo, items, parameters: parseGenerationParameters(geninfo) };
}
