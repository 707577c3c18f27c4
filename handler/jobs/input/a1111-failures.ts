/**
 * Requests that A1111 v1.10.1 accepts into its model but then certainly fails on: refused first, with a message that
 * says what A1111 would do and how to send it instead (docs/request-model.md).
 *
 * - img2img without `init_images`: A1111 answers 404 "Init image not found" (`modules/api/api.py` `img2imgapi`).
 * - img2img with more `init_images` than `batch_size`: 500 "bad number of images passed" (`modules/processing.py`
 *   `StableDiffusionProcessingImg2Img.init`).
 * - txt2img hires fix (`enable_hr`) without `denoising_strength`: the txt2img model's default is None (the base class
 *   wins in `merge_class_params`), and the hires pass computes `min(denoising_strength, 0.999)`: a 500 TypeError.
 * - interrogate with a `model` other than `clip` / `deepdanbooru`: 404 "Model not found" (`interrogateapi`).
 * - interrogate and extra-single-image without an image (`""`, the model's default): 404 "Image not found" or
 *   500 "Invalid encoded image" (`decode_base64_to_image`).
 * - an `alwayson_scripts` value that is `null`, a number or a boolean: `init_script_args` tests `"args" in value`,
 *   a 500 TypeError (objects, lists and strings are passed over or read as A1111 does).
 */
import { appendKey } from '../format.js';
import type { IssueList } from './issues.js';
import type { RouteSpec } from './routes.js';

type View = Readonly<Record<string, unknown>>;

function sent(view: View, key: string): boolean {
  return Object.hasOwn(view, key) && view[key] !== null && view[key] !== undefined;
}

/**
 * Adds an issue per certain A1111 failure.
 * @param payload the payload as sent
 * @param view its coerced view (model-check.ts): `"2"` for `batch_size` reads as 2
 */
export function checkA1111Failures(route: RouteSpec, payload: View, view: View, issues: IssueList): void {
  if (route.schema === 'img2img') {
    const init = payload.init_images;
    if (!sent(payload, 'init_images')) {
      issues.add('init_images', undefined, 'is required: A1111 answers 404 "Init image not found" without it', false);
    } else if (Array.isArray(init) && !issues.has('init_images')) {
      const batch = typeof view.batch_size === 'number' ? view.batch_size : 1;
      if (init.length > 1 && init.length > batch) {
        issues.add('init_images', undefined, `${init.length} images need batch_size >= ${init.length} (got ${sent(payload, 'batch_size') ? `batch_size ${batch}` : 'batch_size 1, the default'}; A1111 fails with "bad number of images passed")`, false);
      }
    }
  }
  if (route.schema === 'txt2img' && view.enable_hr === true && !sent(view, 'denoising_strength') && !sent(payload, 'infotext')) {
    issues.add('denoising_strength', undefined, 'is required with enable_hr: true (A1111\'s txt2img default is null and its hires pass fails with a 500 TypeError on it); send e.g. 0.7', false);
  }
  const scripts = payload.alwayson_scripts;
  if ((route.schema === 'txt2img' || route.schema === 'img2img') && typeof scripts === 'object' && scripts !== null && !Array.isArray(scripts)) {
    for (const [title, value] of Object.entries(scripts)) {
      if (value === null || typeof value === 'number' || typeof value === 'boolean') {
        issues.add(appendKey('alwayson_scripts', title), value, 'A1111 fails with a 500 TypeError on it ("args" in value): send {"args": [...]} or leave the script out');
      }
    }
  }
  if (route.schema === 'interrogate' && sent(view, 'model') && typeof view.model === 'string' && !['clip', 'deepdanbooru'].includes(view.model)) {
    issues.add('model', payload.model, 'must be "clip" or "deepdanbooru" (A1111 answers 404 "Model not found")');
  }
  if ((route.schema === 'interrogate' || route.schema === 'extra-single-image') && !issues.has('image') && (!sent(payload, 'image') || payload.image === '')) {
    issues.add('image', undefined, 'is required: A1111 fails without an image (404 "Image not found" or 500 "Invalid encoded image")', false);
  }
}
