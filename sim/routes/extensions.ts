/**
 * The routes of the installed extensions: ControlNet's (Mikubill `sd-webui-controlnet` `scripts/api.py`; built
 * into Forge) and ADetailer's (Bing-su `adetailer` `scripts/!adetailer.py`).
 */
import type { SimEnv } from '../env.js';
import { adetailerRoutes } from '../extensions/adetailer.js';
import { controlnetRoutes, detectModel } from '../extensions/controlnet.js';
import type { RouteHandler } from '../http.js';
import type { RequestModel } from '../models.js';
import type { QueryParam, SimRoute } from './route.js';

/** Mikubill's query parameters (`update: bool = True`, `alias_names: bool = False`). */
const CN_QUERY: Record<string, QueryParam[]> = {
  '/controlnet/model_list': [{ name: 'update', default: true, title: 'Update' }],
  '/controlnet/module_list': [{ name: 'alias_names', default: false, title: 'Alias Names' }],
};

function asRoutes(
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

/** ControlNet's routes (Forge, or A1111 with `controlnet`), then ADetailer's (with `adetailer`). */
export function extensionRoutes(env: SimEnv): SimRoute[] {
  const forge = env.flavor === 'forge';
  const routes: SimRoute[] = [];
  if (forge || env.extensions.has('controlnet')) routes.push(...asRoutes(controlnetRoutes(env), { '/controlnet/detect': detectModel(forge) }, forge ? {} : CN_QUERY));
  if (env.extensions.has('adetailer')) routes.push(...asRoutes(adetailerRoutes(), {}, {}));
  return routes;
}
