/**
 * The list routes of A1111's API (`modules/api/api.py`: samplers, schedulers, upscalers, models, VAEs, styles,
 * scripts, LoRAs, command-line flags, memory, …) over the simulated install.
 */
import { freemem, totalmem } from 'node:os';
import { CATALOG_DATA, LATENT_UPSCALE_MODES, WEBUI_ROOT } from '../catalog.js';
import cmdFlagsJson from '../data/cmd-flags.json' with { type: 'json' };
import type { SimEnv } from '../env.js';
import { scriptInfo, scriptsList } from '../scripts.js';
import { apiRoute, type SimRoute } from './route.js';

/** Text encoders of the simulated Forge `models/text_encoder` folder (`/sdapi/v1/sd-modules`). */
export const FORGE_TEXT_ENCODERS = ['clip_l.safetensors', 't5xxl_fp16.safetensors'];

/** Forge's `module_list` (VAEs and text encoders): file name → path. */
export function forgeModuleList(env: SimEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of env.catalog.sdVaes()) out[v.model_name] = v.filename;
  for (const t of FORGE_TEXT_ENCODERS) out[t] = `${WEBUI_ROOT}/models/text_encoder/${t}`;
  return out;
}

/** How the simulator was launched, for `GET /sdapi/v1/cmd-flags`. */
export interface LaunchFlags {
  /** the port listened on (known once listening) */
  port: () => number;
  host: string;
  /** `--api-log` */
  log: boolean;
}

/** Values of `GET /sdapi/v1/cmd-flags` (`vars(cmd_opts)`, `data/cmd-flags.json`) for the simulated launch line. */
export function cmdFlags(launch: LaunchFlags, dataDir?: string): Record<string, unknown> {
  const { host } = launch;
  return {
    ...cmdFlagsJson,
    ...(dataDir ? { data_dir: dataDir } : {}),
    listen: host !== '127.0.0.1' && host !== 'localhost',
    port: launch.port(),
    api_log: launch.log,
    server_name: host === '127.0.0.1' ? null : host,
  };
}

/** `GET /sdapi/v1/memory`: real host RAM, a simulated 24 GiB GPU (bytes). */
export function memoryReport(): Record<string, unknown> {
  const total = totalmem();
  const free = freemem();
  const gpuTotal = 24 * 1024 ** 3;
  const used = Math.round(gpuTotal * 0.38);
  const stat = (current: number, peak: number) => ({ current, peak });
  return {
    ram: { free, used: total - free, total },
    cuda: {
      system: { free: gpuTotal - used, used, total: gpuTotal },
      active: stat(7_120_000_000, 9_870_000_000),
      allocated: stat(7_120_000_000, 9_870_000_000),
      reserved: stat(8_400_000_000, 11_200_000_000),
      inactive: stat(1_280_000_000, 2_100_000_000),
      events: { retries: 0, oom: 0 },
    },
  };
}

/** The GET list routes (and the built-in Lora extension's `/sdapi/v1/loras`); Forge lists `sd-modules`, not `sd-vae`. */
export function listRoutes(env: SimEnv, launch: LaunchFlags): SimRoute[] {
  const { catalog } = env;
  const copy = <T>(v: T): T => structuredClone(v);
  return [
    apiRoute('get', 'cmd-flags', 'get_cmd_flags', () => cmdFlags(launch, env.dataDir)),
    apiRoute('get', 'samplers', 'get_samplers', () => catalog.samplerList()),
    apiRoute('get', 'schedulers', 'get_schedulers', () => catalog.schedulerList()),
    apiRoute('get', 'upscalers', 'get_upscalers', () => catalog.upscalerList()),
    apiRoute('get', 'latent-upscale-modes', 'get_latent_upscale_modes', () => LATENT_UPSCALE_MODES.map((name) => ({ name }))),
    apiRoute('get', 'sd-models', 'get_sd_models', () => catalog.sdModels()),
    env.flavor === 'forge'
      ? apiRoute('get', 'sd-modules', 'get_sd_vaes_and_text_encoders', () => Object.entries(forgeModuleList(env)).map(([model_name, filename]) => ({ model_name, filename })))
      : apiRoute('get', 'sd-vae', 'get_sd_vaes', () => catalog.sdVaes()),
    apiRoute('get', 'hypernetworks', 'get_hypernetworks', () => []),
    apiRoute('get', 'face-restorers', 'get_face_restorers', () => copy(CATALOG_DATA.faceRestorers)),
    apiRoute('get', 'realesrgan-models', 'get_realesrgan_models', () => copy(CATALOG_DATA.realesrganModels)),
    apiRoute('get', 'prompt-styles', 'get_prompt_styles', () => catalog.styleList()),
    apiRoute('get', 'embeddings', 'get_embeddings', () => ({ loaded: {}, skipped: {} })),
    apiRoute('get', 'memory', 'get_memory', () => memoryReport()),
    apiRoute('get', 'scripts', 'get_scripts_list', () => scriptsList(env.scripts)),
    apiRoute('get', 'script-info', 'get_script_info', () => scriptInfo(env.scripts)),
    apiRoute('get', 'extensions', 'get_extensions_list', () => []),
    // built-in Lora extension (`extensions-builtin/Lora/scripts/lora_script.py`)
    apiRoute('get', 'loras', 'get_loras', () => catalog.loraList()),
  ];
}
