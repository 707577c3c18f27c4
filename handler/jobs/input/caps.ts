/**
 * The operator's cost caps: policy of the worker, not limits of A1111 (which has none of them). Each refusal names
 * the field, the value, the cap and the env var that raises it. Computed on the values as A1111's pydantic reads
 * them (`"30"` counts as 30 steps), with A1111's defaults for absent or null fields (docs/request-model.md).
 *
 * - `MAX_STEPS` (`steps`), `MAX_HR_STEPS` (`hr_second_pass_steps`);
 * - `MAX_IMAGES_PER_JOB`: `batch_size × n_iter`;
 * - `MAX_PIXELS_PER_JOB`: `width × height × batch_size × n_iter`, with txt2img's hires-fix output size;
 * - `MAX_INPUT_IMAGES`: the number of input images (images.ts `imageFields`).
 */
import type { LimitsConfig } from '../../config.js';
import { imageFields } from '../images/images.js';
import type { IssueList } from './issues.js';
import { plural } from '../format.js';
import type { RouteSpec } from './routes.js';

type View = Readonly<Record<string, unknown>>;

/** A number of the coerced view, or `def` when absent or null; undefined when it is not a finite number. */
function numberOf(view: View, key: string, def: number): number | undefined {
  const v = Object.hasOwn(view, key) ? view[key] : undefined;
  if (v === undefined || v === null) return def;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** A1111's defaults of the fields of the counts (docs/request-model.md). */
const DEFAULTS = { width: 512, height: 512, hr_scale: 2, batch_size: 1, n_iter: 1 } as const;

function stepCaps(view: View, limits: LimitsConfig, issues: IssueList): void {
  const caps: Array<[string, number, string]> = [
    ['steps', limits.maxSteps, 'MAX_STEPS'],
    ['hr_second_pass_steps', limits.maxHrSteps, 'MAX_HR_STEPS'],
  ];
  for (const [key, cap, env] of caps) {
    const v = numberOf(view, key, 0);
    if (v !== undefined && v > cap) issues.add(key, undefined, `${v} is over ${env}=${cap}`, false);
  }
}

/** Output size of one image: the hires-fix size when txt2img's `enable_hr` is true (A1111 `StableDiffusionProcessingTxt2Img.init`). */
function outputSize(route: RouteSpec, view: View, width: number, height: number): { w: number; h: number; hires: string } | undefined {
  if (route.schema !== 'txt2img' || view.enable_hr !== true) return { w: width, h: height, hires: '' };
  const scale = numberOf(view, 'hr_scale', DEFAULTS.hr_scale);
  const rx = numberOf(view, 'hr_resize_x', 0);
  const ry = numberOf(view, 'hr_resize_y', 0);
  if (scale === undefined || rx === undefined || ry === undefined) return undefined;
  if (rx === 0 && ry === 0) return { w: Math.floor(width * scale), h: Math.floor(height * scale), hires: `hr_scale ${scale}` };
  if (ry === 0) return { w: rx, h: Math.floor((rx * height) / width), hires: `hr_resize_x ${rx}` };
  if (rx === 0) return { w: Math.floor((ry * width) / height), h: ry, hires: `hr_resize_y ${ry}` };
  // Both set with another aspect ratio: A1111 upscales to cover the box, then crops; the larger size is counted.
  const cover = width / height < rx / ry ? { w: rx, h: Math.floor((rx * height) / width) } : { w: Math.floor((ry * width) / height), h: ry };
  return { ...cover, hires: `hr_resize_x × hr_resize_y ${rx} × ${ry}` };
}

function generationCaps(route: RouteSpec, view: View, limits: LimitsConfig, issues: IssueList): void {
  const batchSize = numberOf(view, 'batch_size', DEFAULTS.batch_size);
  const nIter = numberOf(view, 'n_iter', DEFAULTS.n_iter);
  if (batchSize === undefined || nIter === undefined) return;
  const images = Math.max(0, batchSize) * Math.max(0, nIter);
  if (images > limits.maxImagesPerJob) {
    issues.add('batch_size × n_iter', undefined, `${batchSize} × ${nIter} = ${images} images is over the limit of ${limits.maxImagesPerJob} per job (MAX_IMAGES_PER_JOB)`, false);
  }
  const width = numberOf(view, 'width', DEFAULTS.width);
  const height = numberOf(view, 'height', DEFAULTS.height);
  if (width === undefined || height === undefined || width <= 0 || height <= 0) return;
  const out = outputSize(route, view, width, height);
  if (!out) return;
  const total = out.w * out.h * images;
  if (total <= limits.maxPixelsPerJob) return;
  const size = out.hires ? `${out.w} × ${out.h} (hires fix of ${width} × ${height} at ${out.hires})` : `${width} × ${height}`;
  issues.add(
    out.hires ? 'width × height × batch_size × n_iter (hires fix)' : 'width × height × batch_size × n_iter',
    undefined,
    `${size} × ${batchSize} × ${nIter} = ${total} px is over MAX_PIXELS_PER_JOB=${limits.maxPixelsPerJob}`,
    false,
  );
}

function imageCountCap(route: RouteSpec, payload: View, limits: LimitsConfig, issues: IssueList): void {
  const fields = imageFields(route, payload);
  if (fields.length <= limits.maxInputImages) return;
  const byField = new Map<string, number>();
  for (const f of fields) {
    const top = f.path.split(/[[.]/)[0]!;
    byField.set(top, (byField.get(top) ?? 0) + 1);
  }
  const cap = `over MAX_INPUT_IMAGES=${limits.maxInputImages}`;
  if (byField.size === 1) {
    const [name] = [...byField.keys()];
    issues.replace(name!, undefined, `${plural(fields.length, 'image')} is ${cap}`, false);
  } else {
    const parts = [...byField].map(([k, n]) => `${k} ${n}`).join(', ');
    issues.add('input images', undefined, `${fields.length} (${parts}) is ${cap}`, false);
  }
}

/**
 * Adds an issue per cap exceeded.
 * @param route the route (caps of steps, images and pixels apply to `generates` routes)
 * @param payload the payload as sent (input images are counted there)
 * @param view the coerced view of the payload (model-check.ts)
 */
export function checkCaps(route: RouteSpec, payload: View, view: View, limits: LimitsConfig, issues: IssueList): void {
  imageCountCap(route, payload, limits, issues);
  if (!route.generates) return;
  stepCaps(view, limits, issues);
  generationCaps(route, view, limits, issues);
}
