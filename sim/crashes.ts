/**
 * Where A1111's processing crashes on values its API model lets through
 * (every processing field is `Optional`, so `null` reaches the dataclass; the
 * API passes `firstpass_image`/`latent_mask` on as the undecoded base64 string).
 * Each rule names the line of A1111 v1.10.1 `modules/processing.py` (or
 * `sd_samplers_common.py`, `rng.py`, `sd_samplers_cfg_denoiser.py`) that raises,
 * and the Python exception it raises there; route code turns it into the 500
 * error wrapper. Three moments, as in `process_images_inner`: before sampling,
 * at the first sampling step, and after the first pass (hires fix).
 */
import type { SimHttpError } from './errors.js';
import { pyException } from './errors.js';
import type { SimFlavor } from './models.js';
import { pyRepr } from './pyjson.js';

type Req = Record<string, unknown>;

const isNull = (req: Req, k: string): boolean => k in req && req[k] === null;
const typeErr = (msg: string): SimHttpError => pyException('TypeError', msg);
const binop = (op: string, a: unknown, b: unknown): SimHttpError =>
  typeErr(`unsupported operand type(s) for ${op}: '${pyType(a)}' and '${pyType(b)}'`);

function pyType(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  return typeof v === 'boolean' ? 'bool' : 'str';
}

/**
 * The error raised before any sampling step (in `process_images_inner` order), or `null`.
 *
 * - `prompt: null` → `assert p.prompt is not None` → `AssertionError` (empty message);
 * - `batch_size`/`n_iter: null` → `setup_prompts`: `self.batch_size * self.n_iter * [...]` → `TypeError`;
 * - txt2img `firstphase_width`/`firstphase_height: null` → `__post_init__` (`!= 0`) makes them the
 *   first-pass width/height, which then fail like `width`/`height: null`;
 * - txt2img hires (`enable_hr`), in `init`: `hr_scale: null` → `int(self.width * self.hr_scale)`,
 *   `hr_resize_x`/`hr_resize_y: null` → `hr_resize_x * height // width`…, `steps: null` →
 *   `(self.steps + (self.hr_second_pass_steps or self.steps))` → `TypeError`;
 * - img2img with a `mask`, in `init`: `mask_blur_x`/`mask_blur_y: null` → `self.mask_blur_x > 0` → `TypeError`;
 *   `latent_mask` (a string) → `masking.fill(image, latent_mask)` / `latent_mask.convert('RGB')` →
 *   `AttributeError: 'str' object has no attribute 'convert'` (without a mask `latent_mask` is unused);
 * - `height`/`width: null` → `rng.ImageRNG((C, p.height // opt_f, p.width // opt_f), …)` → `TypeError`;
 * - `steps: null` → `setup_conds`: `total_steps(None)` then `total_steps // self.steps`
 *   (`steps * 2` first for second-order samplers) → `TypeError`;
 * - `seed_resize_from_w`/`_h: null` → `create_infotext` for params.txt / `ImageRNG.first`:
 *   `p.seed_resize_from_w <= 0` → `TypeError`;
 * - txt2img `firstpass_image` with `enable_hr` → `sample`: `np.array(self.firstpass_image).astype(np.float32)`
 *   on the base64 string → `ValueError: could not convert string to float: '<string>'` (without hires it is unused);
 * - `subseed_strength: null` → `ImageRNG.first`: `subseed_strength != 0` → `slerp(None, …)`:
 *   `(1.0 - val)` → `TypeError`.
 *
 * @param secondOrder whether the sampler doubles steps (`options.second_order`)
 */
export function crashBeforeSampling(req: Req, tab: 'txt2img' | 'img2img', hasMask: boolean, secondOrder: boolean): SimHttpError | null {
  let width = req['width'];
  let height = req['height'];
  if (tab === 'txt2img' && (isNull(req, 'firstphase_width') || isNull(req, 'firstphase_height'))) {
    width = req['firstphase_width'] ?? null;
    height = req['firstphase_height'] ?? null;
  }
  if (isNull(req, 'prompt')) return pyException('AssertionError', '');
  const bs = req['batch_size'];
  const ni = req['n_iter'];
  if (bs === null || ni === null) return binop('*', bs, ni);
  const hires = tab === 'txt2img' && req['enable_hr'] === true;
  if (hires) {
    const rx = req['hr_resize_x'];
    const ry = req['hr_resize_y'];
    if (rx === 0 && ry === 0) {
      if (req['hr_scale'] === null || width === null) return binop('*', width, req['hr_scale']);
    } else if (ry === 0 || rx === 0) {
      if (rx === null || ry === null) return binop('*', null, height);
    } else if (rx === null || ry === null) {
      if (width === null || height === null) return binop('/', width, height);
      return binop('/', rx, ry);
    }
    if (req['steps'] === null) {
      const second = req['hr_second_pass_steps'];
      return binop('+', null, typeof second === 'number' && second !== 0 ? second : null);
    }
  }
  if (tab === 'img2img' && hasMask) {
    if (isNull(req, 'mask_blur_x') || isNull(req, 'mask_blur_y')) return typeErr("'>' not supported between instances of 'NoneType' and 'int'");
    if (typeof req['latent_mask'] === 'string') return pyException('AttributeError', "'str' object has no attribute 'convert'");
  }
  if (height === null || width === null) return binop('//', null, 8);
  if (isNull(req, 'steps')) return secondOrder ? binop('*', null, 2) : binop('//', null, null);
  if (isNull(req, 'seed_resize_from_w') || isNull(req, 'seed_resize_from_h')) {
    return typeErr("'<=' not supported between instances of 'NoneType' and 'int'");
  }
  if (hires && typeof req['firstpass_image'] === 'string') {
    return pyException('ValueError', `could not convert string to float: ${pyRepr(req['firstpass_image'])}`);
  }
  if (isNull(req, 'subseed_strength')) return binop('-', 1.5, null);
  return null;
}

/**
 * The error raised at the first sampling step, or `null`: `cfg_scale: null` →
 * `CFGDenoiser.combine_denoised`: `weight * cond_scale` → `TypeError` (float × None).
 */
export function crashAtFirstStep(req: Req): SimHttpError | null {
  return isNull(req, 'cfg_scale') ? binop('*', 1.5, null) : null;
}

/**
 * The error raised after the first pass of a hires-fix job, or `null`:
 * - Forge: `hr_additional_modules` not sent (default `None`) → `'Use same choices' not in
 *   self.hr_additional_modules` → `TypeError: argument of type 'NoneType' is not iterable`
 *   (Forge `modules/processing.py`, `StableDiffusionProcessingTxt2Img.sample`);
 * - `denoising_strength` null (txt2img's default) → `sample_hr_pass` → `sample_img2img` →
 *   `setup_img2img_steps`: `... if p.denoising_strength > 0 else 0` →
 *   `TypeError: '>' not supported between instances of 'NoneType' and 'int'`.
 */
export function crashAfterFirstPass(req: Req, flavor: SimFlavor): SimHttpError | null {
  if (flavor === 'forge' && (req['hr_additional_modules'] === null || req['hr_additional_modules'] === undefined)) {
    return typeErr("argument of type 'NoneType' is not iterable");
  }
  if (req['denoising_strength'] === null || req['denoising_strength'] === undefined) {
    return typeErr("'>' not supported between instances of 'NoneType' and 'int'");
  }
  return null;
}
