/**
 * The control routes of A1111's API (`modules/api/api.py`): progress, interrupt, skip, options, refreshing the
 * model folders, unloading and reloading the checkpoint; the built-in Lora extension's `refresh-loras`.
 */
import { ensureModelLoaded, type SimEnv } from '../env.js';
import { queryBool } from '../http.js';
import { setOptions, type OptionSetter } from '../options.js';
import { forgeModuleList } from './lists.js';
import { apiRoute, dictBody, modelBody, withQueueLock, type SimRoute } from './route.js';

/** How `POST /sdapi/v1/options` reaches the install: checkpoint names, loading, Forge's module list. */
function optionSetter(env: SimEnv): OptionSetter {
  const { catalog } = env;
  return {
    options: catalog.options,
    resolveCheckpoint: (name) => catalog.findCheckpoint(name)?.item.title,
    loadCheckpoint: async (title) => {
      const c = catalog.findCheckpoint(title);
      if (!c) return;
      catalog.options['sd_model_checkpoint'] = c.item.title;
      catalog.options['sd_checkpoint_hash'] = c.item.sha256;
      if (catalog.loadedModelTitle !== c.item.title) await withQueueLock(env, () => ensureModelLoaded(env, c));
    },
    forgeModules: () => forgeModuleList(env),
  };
}

/** Progress, interrupt, skip, options, refresh and checkpoint routes. */
export function controlRoutes(env: SimEnv): SimRoute[] {
  const { catalog } = env;
  const setter = optionSetter(env);
  return [
    apiRoute('get', 'progress', 'progressapi', (c) => env.state.progress(queryBool(c.query, 'skip_current_image')), {
      query: [{ name: 'skip_current_image', default: false, title: 'Skip current image', description: 'Skip current image serialization' }],
    }),
    apiRoute('post', 'interrupt', 'interruptapi', () => {
      env.state.interrupt();
      return {};
    }),
    // `def skip(self): shared.state.skip()` returns None → `null`
    apiRoute('post', 'skip', 'skip', () => {
      env.state.skip();
      return null;
    }),
    apiRoute('get', 'options', 'get_config', () => ({ ...catalog.options })),
    apiRoute(
      'post',
      'options',
      'set_config',
      async (c) => {
        await setOptions(setter, env.flavor, dictBody(env, modelBody(env, c)));
        return null;
      },
      { body: 'dict' },
    ),
    apiRoute('post', 'refresh-embeddings', 'refresh_embeddings', () => withQueueLock(env, () => null)),
    apiRoute('post', 'refresh-checkpoints', 'refresh_checkpoints', () => withQueueLock(env, () => (catalog.rescan('models'), null))),
    apiRoute('post', 'refresh-vae', 'refresh_vae', () => withQueueLock(env, () => (catalog.rescan('vaes'), null))),
    // A1111 1.10 `unload_model_weights()`: the next generation pays the load time again (simulated)
    apiRoute('post', 'unload-checkpoint', 'unloadapi', () => {
      catalog.loadedModelTitle = null;
      return {};
    }),
    // `send_model_to_device(shared.sd_model)`: back on the GPU, no load time
    apiRoute('post', 'reload-checkpoint', 'reloadapi', () => {
      catalog.loadedModelTitle ??= catalog.currentCheckpoint().item.title;
      return {};
    }),
    apiRoute('post', 'refresh-loras', 'refresh_loras', () => (catalog.rescan('loras'), null)),
  ];
}
