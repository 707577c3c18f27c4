/**
 * Every route of the simulated server for its flavor and extensions, one module per concern, in the order A1111
 * v1.10.1's `modules/api/api.py` registers them (the order of `/openapi.json`'s `paths`; Forge's `api.py`:
 * `sd-modules` instead of `sd-vae`, no `train/*`), then the extensions' routes.
 */
import type { SimEnv } from '../env.js';
import { controlRoutes } from './control.js';
import { extensionRoutes } from './extensions.js';
import { extrasRoutes } from './extras.js';
import { generationRoutes } from './generation.js';
import { listRoutes, type LaunchFlags } from './lists.js';
import type { SimRoute } from './route.js';

export type { QueryParam, SimRoute } from './route.js';
export type { LaunchFlags } from './lists.js';

/** Endpoint names in `Api.__init__`'s `add_api_route` order, then the built-in Lora extension's. */
const A1111_ORDER = [
  'text2imgapi', 'img2imgapi', 'extras_single_image_api', 'extras_batch_images_api', 'pnginfoapi', 'progressapi',
  'interrogateapi', 'interruptapi', 'skip', 'get_config', 'set_config', 'get_cmd_flags', 'get_samplers',
  'get_schedulers', 'get_upscalers', 'get_latent_upscale_modes', 'get_sd_models', 'get_sd_vaes',
  'get_sd_vaes_and_text_encoders', 'get_hypernetworks', 'get_face_restorers', 'get_realesrgan_models',
  'get_prompt_styles', 'get_embeddings', 'refresh_embeddings', 'refresh_checkpoints', 'refresh_vae', 'get_memory',
  'unloadapi', 'reloadapi', 'get_scripts_list', 'get_script_info', 'get_extensions_list', 'get_loras', 'refresh_loras',
];

/** The A1111 routes in registration order, then the extensions'. */
export function buildRoutes(env: SimEnv, launch: LaunchFlags): SimRoute[] {
  const core = [...generationRoutes(env), ...extrasRoutes(env), ...controlRoutes(env), ...listRoutes(env, launch)];
  const rank = (r: SimRoute) => A1111_ORDER.indexOf(r.name);
  return [...core.sort((a, b) => rank(a) - rank(b)), ...extensionRoutes(env)];
}
