/**
 * The shared runtime of one simulator instance (catalog, queue lock, state,
 * PNG cache, timing knobs) and helpers used by several routes: model loading
 * and decoding of image inputs (base64, data URI or URL: docs/a1111-api.md, "Errors").
 */
import { lookup } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Catalog, Checkpoint } from './catalog.js';
import { httpException, invalidEncodedImage, pyException, pyTypeName } from './errors.js';
import type { RequestModel, SimFlavor } from './models.js';
import { validateModel2 } from './pydantic2.js';
import type { SimScripts } from './scripts.js';
import { validateModel, type ValidatedModel } from './validation.js';
import { decodeImageString, sniffImage, type DecodedImage } from './image-decode.js';
import type { PngCache } from './png.js';
import { nowMs, type QueueLock, type SharedState } from './state.js';

/** Everything route code needs from the running simulator. */
export interface SimEnv {
  catalog: Catalog;
  state: SharedState;
  lock: QueueLock;
  cache: PngCache;
  /** simulated time per sampling step (ms) */
  stepMs: number;
  /** simulated checkpoint load time (ms): paid by the first generation and on every checkpoint switch */
  modelLoadMs: number;
  /** prints a line when logging is on */
  log(line: string): void;
  /** the server imitated: A1111 v1.10.1 or Forge */
  flavor: SimFlavor;
  /** extensions installed (`controlnet` is built into Forge) */
  extensions: ReadonlySet<SimExtension>;
  /** selectable and always-on scripts per tab */
  scripts: SimScripts;
  /** A1111's data dir (and cwd): where `save-images.ts` writes saved images; unset = nothing written */
  dataDir?: string;
}

/** Extensions the simulator can pretend to have installed. */
export const SIM_EXTENSIONS = ['controlnet', 'adetailer', 'wildcards'] as const;

/** One of `SIM_EXTENSIONS`. */
export type SimExtension = (typeof SIM_EXTENSIONS)[number];

/**
 * Validates a request body against a model the way the flavor's FastAPI does
 * (pydantic 1 for A1111, pydantic 2 for Forge).
 * @throws SimHttpError 422 in the flavor's shape
 */
export function validateRequest(env: SimEnv, body: unknown, model: RequestModel): ValidatedModel {
  return env.flavor === 'forge' ? validateModel2(body, model.fields) : validateModel(body, model.fields);
}

/**
 * Makes sure `ckpt` is the checkpoint "in VRAM", waiting `modelLoadMs` if not
 * (not interruptible, like a real load). Call with the queue lock held.
 */
export async function ensureModelLoaded(env: SimEnv, ckpt: Checkpoint): Promise<void> {
  if (env.catalog.loadedModelTitle === ckpt.item.title) return;
  const t0 = nowMs();
  env.log(`Loading weights [${ckpt.item.hash}] from ${ckpt.item.filename}`);
  await env.state.uninterruptible(env.modelLoadMs);
  env.catalog.loadedModelTitle = ckpt.item.title;
  const secs = (nowMs() - t0) / 1000;
  env.log(`Model loaded in ${secs.toFixed(1)}s (load weights from disk: ${(secs * 0.3).toFixed(1)}s, create model: ${(secs * 0.2).toFixed(1)}s, apply weights to model: ${(secs * 0.5).toFixed(1)}s).`);
}

/**
 * Python's `ipaddress.ip_address(ip).is_global`, which A1111's `verify_url` asks of every address, as ipaddr.js
 * classifies it: only `unicast` is global (private, loopback, link-local, carrier-grade NAT, documentation,
 * benchmarking, reserved… are not); an IPv4-mapped IPv6 address counts as its IPv4 address.
 */
function ipGlobal(ip: string): boolean {
  return ipaddr.isValid(ip) && ipaddr.process(ip).range() === 'unicast';
}

/**
 * A1111's `verify_url`: resolves the URL's netloc (host *and* port, as
 * `socket.gethostbyname_ex` gets it, so any explicit port fails) and requires
 * every IPv4 address to be global.
 */
async function verifyUrl(url: string): Promise<boolean> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.port !== '' || u.username !== '' || u.password !== '') return false;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  try {
    if (isIPv4(host)) return ipGlobal(host);
    if (isIPv6(host)) return false;
    const addrs = await lookup(host, { all: true, family: 4 });
    return addrs.length > 0 && addrs.every((a) => ipGlobal(a.address));
  } catch {
    return false;
  }
}

/**
 * Decodes one image input as A1111's `decode_base64_to_image` (docs/a1111-api.md, "Errors"):
 * http(s) URLs are fetched (subject to `api_enable_requests` /
 * `api_forbid_local_requests`), a `data:image/...;base64,` prefix is stripped,
 * base64 is decoded leniently and the header must be a known image format.
 *
 * @throws SimHttpError 500 `Invalid encoded image` | `Invalid image url` |
 *   `Requests not allowed` | `Request to local resource not allowed`;
 *   500 `AttributeError` for a non-string input
 */
export async function decodeImageInput(env: SimEnv, value: unknown): Promise<DecodedImage> {
  if (typeof value !== 'string') {
    throw pyException('AttributeError', `'${pyTypeName(value)}' object has no attribute 'startswith'`);
  }
  if (value.startsWith('http://') || value.startsWith('https://')) {
    const opts = env.catalog.options;
    if (!opts['api_enable_requests']) throw httpException(500, 'Requests not allowed');
    if (opts['api_forbid_local_requests'] && !(await verifyUrl(value))) {
      throw httpException(500, 'Request to local resource not allowed');
    }
    const ua = opts['api_useragent'];
    let bytes: Buffer;
    try {
      const res = await fetch(value, {
        signal: AbortSignal.timeout(30_000),
        headers: typeof ua === 'string' && ua ? { 'user-agent': ua } : {},
      });
      bytes = Buffer.from(await res.arrayBuffer());
    } catch (e) {
      throw pyException('ConnectionError', e instanceof Error ? e.message : String(e));
    }
    const header = sniffImage(bytes);
    if (!header) throw httpException(500, 'Invalid image url');
    return { bytes, header };
  }
  const d = decodeImageString(value);
  if (!d) throw invalidEncodedImage();
  return d;
}
