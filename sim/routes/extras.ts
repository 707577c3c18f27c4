/**
 * The post-processing routes: upscaling one image or a batch, reading a PNG's infotext, interrogating
 * (A1111 `modules/api/api.py` `extras_single_image_api`, `extras_batch_images_api`, `pnginfoapi`, `interrogateapi`).
 */
import type { SimEnv } from '../env.js';
import { runExtrasBatch, runExtrasSingle, runInterrogate, runPngInfo } from '../extras.js';
import { INTERROGATE_MODEL, PNGINFO_MODEL, extrasBatchModel, extrasSingleModel } from '../models.js';
import { apiRoute, modelBody, type SimRoute } from './route.js';

/** The extras, png-info and interrogate routes; the extras models list the installed upscalers. */
export function extrasRoutes(env: SimEnv): SimRoute[] {
  const upscalers = () => env.catalog.upscalerList().map((u) => u.name);
  return [
    apiRoute('post', 'extra-single-image', 'extras_single_image_api', (c) => runExtrasSingle(env, modelBody(env, c)), { body: extrasSingleModel(upscalers()) }),
    apiRoute('post', 'extra-batch-images', 'extras_batch_images_api', (c) => runExtrasBatch(env, modelBody(env, c)), { body: extrasBatchModel(upscalers()) }),
    apiRoute('post', 'png-info', 'pnginfoapi', (c) => runPngInfo(env, modelBody(env, c)), { body: PNGINFO_MODEL }),
    apiRoute('post', 'interrogate', 'interrogateapi', (c) => runInterrogate(env, modelBody(env, c)), { body: INTERROGATE_MODEL }),
  ];
}
