/**
 * The API routes of the simulated server, with the metadata FastAPI shows in
 * `/openapi.json` (endpoint function name, body model, query parameters).
 * Core routes as A1111 v1.10.1 `modules/api/api.py` registers them (Forge's
 * `modules/api/api.py`: `sd-modules` instead of `sd-vae`, no `train/*`); the
 * built-in Lora extension's `/sdapi/v1/loras`, `refresh-loras`; ControlNet's and
 * ADetailer's routes when installed.
 */
import { LATENT_UPSCALE_MODES, WEBUI_ROOT, cmdFlags, faceRestorers, memoryReport, realesrganModels } from './catalog.js';
import { ensureModelLoaded, type SimEnv } from './env.js';
import { validationError } from './errors.js';
import { adetailerRoutes } from './extensions/adetailer.js';
import { controlnetRoutes, detectModel } from './extensions/controlnet.js';
import { runExtrasBatch, runExtrasSingle, runInterrogate, runPngInfo } from './extras.js';
import { runImg2Img, runTxt2Img } from './generate.js';
import { bodyForModel, queryBool, type RouteHandler } from './http.js';
import { INTERROGATE_MODEL, PNGINFO_MODEL, extrasBatchModel, extrasSingleModel, img2imgModel, txt2imgModel, type RequestModel } from './models.js';
import { pydantic2DictType, pydantic2Missing } from './pydantic2.js';
import { setOptions, type OptionSetter } from './options.js';
import { scriptInfo, scriptsList } from './scripts.js';

/** A boolean query parameter of a GET route. */
export interface QueryParam {
  name: string;
  default: boolean;
  title: string;
  description?: string;
}

/** One route: method, full path, FastAPI endpoint name, handler, body model and query parameters. */
export interface SimRoute {
  method: 'get' | 'post';
  path: string;
  /** the Python endpoint function's name (FastAPI `summary`/`operationId`) */
  name: string;
  handler: RouteHandler;
  /** a request model, or `'dict'` for `req: dict[str, Any]` */
  body?: RequestModel | 'dict';
  query?: QueryParam[];
}

/** Text encoders of the simulated Forge `models/text_encoder` folder (`/sdapi/v1/sd-modules`). */
export const FORGE_TEXT_ENCODERS = ['clip_l.safetensors', 't5xxl_fp16.safetensors'];

/** Forge's `module_list` (VAEs and text encoders): file name → path. */
export function forgeModuleList(env: SimEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of env.catalog.sdVaes()) out[v.model_name] = v.filename;
  for (const t of FORGE_TEXT_ENCODERS) out[t] = `${WEBUI_ROOT}/models/text_encoder/${t}`;
  return out;
}

/** `req: dict[str, Any]` as FastAPI validates it (pydantic 1 or 2 shape). */
function dictBody(env: SimEnv, body: unknown): Record<string, unknown> {
  const forge = env.flavor === 'forge';
  if (body === undefined || body === null) {
    throw forge ? pydantic2Missing(['body']) : validationError([{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }]);
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw forge ? pydantic2DictType(body) : validationError([{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }]);
  }
  return body as Record<string, unknown>;
}

/** Every route of the simulated server for its flavor and extensions. */
export function buildRoutes(env: SimEnv, cmd: { port: () => number; host: string; log: boolean }): SimRoute[] {
  const { catalog } = env;
  const forge = env.flavor === 'forge';
  const upscalers = () => catalog.upscalerList().map((u) => u.name);
  const locked = async <T>(fn: () => T): Promise<T> => {
    const release = await env.lock.acquire();
    try {
      return fn();
    } finally {
      release();
    }
  };
  const setter: OptionSetter = {
    options: catalog.options,
    resolveCheckpoint: (name) => catalog.findCheckpoint(name)?.item.title,
    loadCheckpoint: async (title) => {
      const c = catalog.findCheckpoint(title);
      if (!c) return;
      catalog.options['sd_model_checkpoint'] = c.item.title;
      catalog.options['sd_checkpoint_hash'] = c.item.sha256;
      if (catalog.loadedModelTitle !== c.item.title) await locked(() => ensureModelLoaded(env, c));
    },
    forgeModules: () => forgeModuleList(env),
  };
  const r = (method: 'get' | 'post', path: string, name: string, handler: RouteHandler, extra: Partial<SimRoute> = {}): SimRoute => ({
    method,
    path: path.startsWith('/') ? path : `/sdapi/v1/${path}`,
    name,
    handler,
    ...extra,
  });
  const body = (c: Parameters<RouteHandler>[0]) => bodyForModel(c.body, env.flavor);
  const routes: SimRoute[] = [
    r('post', 'txt2img', 'text2imgapi', (c) => runTxt2Img(env, body(c)), { body: txt2imgModel(env.flavor) }),
    r('post', 'img2img', 'img2imgapi', (c) => runImg2Img(env, body(c)), { body: img2imgModel(env.flavor) }),
    r('post', 'extra-single-image', 'extras_single_image_api', (c) => runExtrasSingle(env, body(c)), { body: extrasSingleModel(upscalers()) }),
    r('post', 'extra-batch-images', 'extras_batch_images_api', (c) => runExtrasBatch(env, body(c)), { body: extrasBatchModel(upscalers()) }),
    r('post', 'png-info', 'pnginfoapi', (c) => runPngInfo(env, body(c)), { body: PNGINFO_MODEL }),
    r('get', 'progress', 'progressapi', (c) => env.state.progress(queryBool(c.query, 'skip_current_image')), {
      query: [{ name: 'skip_current_image', default: false, title: 'Skip current image', description: 'Skip current image serialization' }],
    }),
    r('post', 'interrogate', 'interrogateapi', (c) => runInterrogate(env, body(c)), { body: INTERROGATE_MODEL }),
    r('post', 'interrupt', 'interruptapi', () => {
      env.state.interrupt();
      return {};
    }),
    // `def skip(self): shared.state.skip()` returns None → `null`
    r('post', 'skip', 'skip', () => {
      env.state.skip();
      return null;
    }),
    r('get', 'options', 'get_config', () => ({ ...catalog.options })),
    r(
      'post',
      'options',
      'set_config',
      async (c) => {
        await setOptions(setter, env.flavor, dictBody(env, body(c)));
        return null;
      },
      { body: 'dict' },
    ),
    r('get', 'cmd-flags', 'get_cmd_flags', () => ({ ...cmdFlags(cmd.port(), cmd.host, cmd.log), ...(env.dataDir ? { data_dir: env.dataDir } : {}) })),
    r('get', 'samplers', 'get_samplers', () => catalog.samplerList()),
    r('get', 'schedulers', 'get_schedulers', () => catalog.schedulerList()),
    r('get', 'upscalers', 'get_upscalers', () => catalog.upscalerList()),
    r('get', 'latent-upscale-modes', 'get_latent_upscale_modes', () => LATENT_UPSCALE_MODES.map((name) => ({ name }))),
    r('get', 'sd-models', 'get_sd_models', () => catalog.sdModels()),
    forge
      ? r('get', 'sd-modules', 'get_sd_vaes_and_text_encoders', () => Object.entries(forgeModuleList(env)).map(([model_name, filename]) => ({ model_name, filename })))
      : r('get', 'sd-vae', 'get_sd_vaes', () => catalog.sdVaes()),
    r('get', 'hypernetworks', 'get_hypernetworks', () => []),
    r('get', 'face-restorers', 'get_face_restorers', () => faceRestorers()),
    r('get', 'realesrgan-models', 'get_realesrgan_models', () => realesrganModels()),
    r('get', 'prompt-styles', 'get_prompt_styles', () => catalog.styleList()),
    r('get', 'embeddings', 'get_embeddings', () => ({ loaded: {}, skipped: {} })),
    r('post', 'refresh-embeddings', 'refresh_embeddings', () => locked(() => null)),
    r('post', 'refresh-checkpoints', 'refresh_checkpoints', () => locked(() => (catalog.rescan('models'), null))),
    r('post', 'refresh-vae', 'refresh_vae', () => locked(() => (catalog.rescan('vaes'), null))),
    r('get', 'memory', 'get_memory', () => memoryReport()),
    // A1111 1.10 `unload_model_weights()`: the next generation pays the load time again (simulated)
    r('post', 'unload-checkpoint', 'unloadapi', () => {
      catalog.loadedModelTitle = null;
      return {};
    }),
    // `send_model_to_device(shared.sd_model)`: back on the GPU, no load time
    r('post', 'reload-checkpoint', 'reloadapi', () => {
      catalog.loadedModelTitle ??= catalog.currentCheckpoint().item.title;
      return {};
    }),
    r('get', 'scripts', 'get_scripts_list', () => scriptsList(env.scripts)),
    r('get', 'script-info', 'get_script_info', () => scriptInfo(env.scripts)),
    r('get', 'extensions', 'get_extensions_list', () => []),
    // built-in Lora extension (`extensions-builtin/Lora/scripts/lora_script.py`)
    r('get', 'loras', 'get_loras', () => catalog.loraList()),
    r('post', 'refresh-loras', 'refresh_loras', () => (catalog.rescan('loras'), null)),
  ];
  if (forge || env.extensions.has('controlnet')) routes.push(...extensionRoutes(controlnetRoutes(env), { '/controlnet/detect': detectModel(forge) }, forge ? {} : CN_QUERY));
  if (env.extensions.has('adetailer')) routes.push(...extensionRoutes(adetailerRoutes(), {}, {}));
  return routes;
}

/** Mikubill's query parameters (`update: bool = True`, `alias_names: bool = False`). */
const CN_QUERY: Record<string, QueryParam[]> = {
  '/controlnet/model_list': [{ name: 'update', default: true, title: 'Update' }],
  '/controlnet/module_list': [{ name: 'alias_names', default: false, title: 'Alias Names' }],
};

function extensionRoutes(
  t: { get: Record<string, RouteHandler>; post: Record<string, RouteHandler> },
  bodies: Record<string, RequestModel>,
  query: Record<string, QueryParam[]>,
): SimRoute[] {
  const name = (path: string) => path.split('/').pop() as string;
  return [
    ...Object.entries(t.get).map(([path, handler]) => ({ method: 'get' as const, path, name: name(path), handler, ...(query[path] ? { query: query[path] } : {}) })),
    ...Object.entries(t.post).map(([path, handler]) => ({ method: 'post' as const, path, name: name(path), handler, ...(bodies[path] ? { body: bodies[path] } : {}) })),
  ];
}
