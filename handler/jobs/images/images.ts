/**
 * Input images of a job: what the image-carrying fields may hold, checked after the JSON Schema and before
 * A1111 is called (issues 4 and 11; A1111 `modules/api/api.py`).
 *
 * Image fields ({@link imageFields}): img2img `init_images[i]` and `mask`; interrogate, png-info and
 * extra-single-image `image`; extra-batch-images `imageList[i].data`; and, in txt2img and img2img, the images
 * of each ControlNet unit ({@link controlNetImageFields}). Each must be base64 as A1111 reads it (rules and
 * caps in decode.ts: any `data:image/…;base64,` prefix, whitespace allowed, every format `image-size`
 * reads but SVG, `MAX_INPUT_IMAGE_BYTES`, `MAX_IMAGE_SIDE`) or an `http(s)://` URL under the URL policy
 * (urls.ts, `ALLOW_IMAGE_URLS`). Strings starting with `http://` or `https://` anywhere else inside
 * `alwayson_scripts` and `script_args` get the URL policy too: extensions pass their image arguments through
 * A1111's `decode_base64_to_image`, which fetches URLs.
 *
 * Two fields are refused when A1111 would certainly fail on them ({@link undecodedImageIssues}): its API hands
 * txt2img `firstpass_image` and img2img `latent_mask` to processing as the JSON value, never decoded. A ControlNet
 * unit's `ipadapter_input` is refused always: sd-webui-controlnet unpickles it.
 */
import type { LimitsConfig } from '../../config.js';
import { JobInputError } from '../../errors/index.js';
import { appendIndex, appendKey, isObject } from '../format.js';
import { checkBase64Image, isHttpUrl } from './decode.js';
import { ImageRefusal } from '../../errors/index.js';
import { checkImageUrl, type ImageCheckOptions } from './urls.js';

export { base64Bytes, bufferBytes, checkBase64Image, IMAGE_FORMATS_READ, isHttpUrl, parseImageHeader, type Base64ImageInfo, type ImageBytes, type ImageFormat, type ImageHeader } from './decode.js';
export { ImageRefusal } from '../../errors/index.js';
export {
  checkImageUrl,
  DNS_TIMEOUT_MS,
  MAX_IMAGE_URL_LENGTH,
  nonPublicReason,
  systemLookup,
  type HostLookup,
  type ImageCheckOptions,
} from './urls.js';

/**
 * What the image checks read of a route (input/routes.ts `RouteSpec` has it): images/ knows no route table, so that
 * the input stage may use it (caps.ts counts images) without an import going back.
 */
export interface ImageRoute {
  readonly method: string;
  readonly path: string;
  /** The route's payload model (`txt2img`, `img2img`, …), or null. */
  readonly schema: string | null;
  /** `none` for routes that take no payload. */
  readonly body: string;
}

/** One image-carrying value of a payload. */
export interface ImageField {
  /** Field path, e.g. `init_images[1]`, `imageList[0].data`, `alwayson_scripts.controlnet.args[0].image`. */
  path: string;
  value: string;
}

/** At most this many refused images are listed in one message; the rest are counted. */
const MAX_LISTED = 50;

function own(obj: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * The keys of a ControlNet unit that carry images, in both ControlNets:
 * - sd-webui-controlnet (Mikubill, `internal_controlnet/args.py` `ControlNetUnit`): `image` (a string, `{image,
 *   mask}`, `[image, mask]` or a list of `{image, mask}` for multi-input units), `mask`, its alias `mask_image`,
 *   the legacy alias `input_image` of `image`, and `effective_region_mask`, all decoded with A1111's
 *   `decode_base64_to_image`;
 * - Forge's built-in ControlNet (`sd_forge_controlnet/lib_controlnet/external_code.py` `from_dict`): `image` and
 *   `mask_image` as `{"image": <base64>}`.
 */
const CONTROLNET_IMAGE_KEYS = ['image', 'input_image', 'mask', 'mask_image', 'effective_region_mask'] as const;

/**
 * The image strings of the ControlNet units of a txt2img/img2img payload: in `alwayson_scripts`, under the key
 * that is `controlnet` in any case (A1111's `init_script_args` matches script titles case-insensitively; the
 * title is "ControlNet" in sd-webui-controlnet and in Forge), each object of `args` is a unit; for each of its
 * keys `image`, `input_image`, `mask`, `mask_image`, `effective_region_mask`: a string, the `image`/`mask` strings
 * of an object, or the strings (or objects' `image`/`mask` strings) of an array. Empty strings and values that are
 * not strings are left to A1111. ADetailer's arguments carry no images (its `ADetailerArgs` has no image field).
 * @returns fields with paths such as `alwayson_scripts.ControlNet.args[0].image.mask`, in document order.
 */
export function controlNetImageFields(payload: Readonly<Record<string, unknown>>): ImageField[] {
  const out: ImageField[] = [];
  const take = (value: unknown, path: string): void => {
    if (typeof value === 'string' && value !== '') out.push({ path, value });
  };
  const imageAndMask = (obj: Record<string, unknown>, path: string): void => {
    take(own(obj, 'image'), appendKey(path, 'image'));
    take(own(obj, 'mask'), appendKey(path, 'mask'));
  };
  for (const { unit, path: unitPath } of controlNetUnits(payload)) {
    for (const key of CONTROLNET_IMAGE_KEYS) {
      const value = own(unit, key);
      const path = appendKey(unitPath, key);
      if (typeof value === 'string') take(value, path);
      else if (isObject(value)) imageAndMask(value, path);
      else if (Array.isArray(value)) {
        value.forEach((item, j) => (isObject(item) ? imageAndMask(item, appendIndex(path, j)) : take(item, appendIndex(path, j))));
      }
    }
  }
  return out;
}

/** The ControlNet units of `alwayson_scripts` (see {@link controlNetImageFields}) with their paths. */
function controlNetUnits(payload: Readonly<Record<string, unknown>>): Array<{ unit: Record<string, unknown>; path: string }> {
  const out: Array<{ unit: Record<string, unknown>; path: string }> = [];
  const scripts = own(payload, 'alwayson_scripts');
  if (!isObject(scripts)) return out;
  for (const title of Object.keys(scripts)) {
    if (title.toLowerCase() !== 'controlnet') continue;
    const entry = scripts[title];
    const args = isObject(entry) ? own(entry, 'args') : undefined;
    if (!Array.isArray(args)) continue;
    const argsPath = appendKey(appendKey('alwayson_scripts', title), 'args');
    args.forEach((unit, i) => isObject(unit) && out.push({ unit, path: appendIndex(argsPath, i) }));
  }
  return out;
}

/**
 * The image-carrying strings of a payload, in field order (see the module comment for the fields per route);
 * these are what `MAX_INPUT_IMAGES` counts. Values that are not strings (the schema refuses them) and an empty
 * `mask` (A1111's `if mask:` skips it) are left out. txt2img `firstpass_image` and img2img `latent_mask` are not
 * listed: A1111's API never decodes them (see {@link undecodedImageIssues}).
 */
export function imageFields(route: ImageRoute, payload: Readonly<Record<string, unknown>>): ImageField[] {
  const out: ImageField[] = [];
  switch (route.schema) {
    case 'img2img': {
      const init = own(payload, 'init_images');
      if (Array.isArray(init)) init.forEach((v, i) => typeof v === 'string' && out.push({ path: appendIndex('init_images', i), value: v }));
      const mask = own(payload, 'mask');
      if (typeof mask === 'string' && mask !== '') out.push({ path: 'mask', value: mask });
      out.push(...controlNetImageFields(payload));
      break;
    }
    case 'txt2img':
      out.push(...controlNetImageFields(payload));
      break;
    case 'interrogate':
    case 'png-info':
    case 'extra-single-image': {
      const v = own(payload, 'image');
      if (typeof v === 'string') out.push({ path: 'image', value: v });
      break;
    }
    case 'extra-batch-images': {
      const list = own(payload, 'imageList');
      if (Array.isArray(list)) {
        list.forEach((item, i) => {
          const data = isObject(item) ? own(item, 'data') : undefined;
          if (typeof data === 'string') out.push({ path: `${appendIndex('imageList', i)}.data`, value: data });
        });
      }
      break;
    }
    default:
      // ControlNet's `POST /controlnet/detect`: base64 images in `controlnet_input_images` and `controlnet_masks`
      // (sd-webui-controlnet `scripts/api.py` `detect`).
      if (route.path === '/controlnet/detect') {
        for (const key of ['controlnet_input_images', 'controlnet_masks']) {
          const list = own(payload, key);
          if (Array.isArray(list)) list.forEach((v, i) => typeof v === 'string' && v !== '' && out.push({ path: appendIndex(key, i), value: v }));
        }
      }
      break;
  }
  return out;
}

/**
 * Refusals of image fields A1111's API passes on undecoded, when the job would certainly fail with a 500
 * (A1111 v1.10.1 `modules/api/api.py` decodes only `init_images` and `mask`; `processing.py`), and of
 * ControlNet's `ipadapter_input` (a pickle: see below):
 * - txt2img `firstpass_image` (any non-null value) with `enable_hr: true`: `StableDiffusionProcessingTxt2Img.sample`
 *   runs `np.array(self.firstpass_image).astype(np.float32)` on the string (ValueError; Forge likewise). Without
 *   `enable_hr` A1111 ignores the field, and so does the worker;
 * - img2img `latent_mask` (any non-null value) with a non-empty `mask`: `StableDiffusionProcessingImg2Img.init`
 *   calls `latent_mask.convert('RGB')` on the string (AttributeError). Without `mask` it is ignored;
 * - `ipadapter_input` (any non-null value) in a ControlNet unit of txt2img/img2img: dangerous, always refused.
 * @returns `[field, reason]` pairs, in this order.
 */
export function undecodedImageIssues(route: ImageRoute, payload: Readonly<Record<string, unknown>>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const sent = (key: string): boolean => own(payload, key) !== undefined && own(payload, key) !== null;
  const tail = 'A1111 only uses this field from its web UI: drop it';
  if (route.schema === 'txt2img' && sent('firstpass_image') && own(payload, 'enable_hr') === true) {
    out.push([
      'firstpass_image',
      `A1111's API passes it on undecoded (the base64 string, not an image), so with enable_hr the job would fail with a 500 (ValueError in the hires fix); ${tail}`,
    ]);
  }
  const mask = own(payload, 'mask');
  if (route.schema === 'img2img' && sent('latent_mask') && typeof mask === 'string' && mask !== '') {
    out.push([
      'latent_mask',
      `A1111's API passes it on undecoded (the base64 string, not an image), so with a mask the job would fail with a 500 (AttributeError: 'str' object has no attribute 'convert'); ${tail}`,
    ]);
  }
  // sd-webui-controlnet (`scripts/controlnet.py` `decode_base64`) unpickles `ipadapter_input` with A1111's
  // `unsafe_torch_load` (torch.load without the safe unpickler; weights_only off by default before torch 2.6):
  // a crafted value runs code in the A1111 process. Forge's ControlNet ignores the key.
  if (route.schema === 'txt2img' || route.schema === 'img2img') {
    for (const { unit, path } of controlNetUnits(payload)) {
      const v = own(unit, 'ipadapter_input');
      if (v === undefined || v === null) continue;
      out.push([
        appendKey(path, 'ipadapter_input'),
        'not accepted: sd-webui-controlnet loads it with torch.load (a pickle), so a crafted value would run code in A1111; send the IP-Adapter image in image instead',
      ]);
    }
  }
  return out;
}

/**
 * Strings starting with `http://` or `https://` anywhere inside `alwayson_scripts` and `script_args`
 * (extension arguments A1111 may fetch as images). Iterative walk; own keys only.
 */
export function scriptUrlFields(payload: Readonly<Record<string, unknown>>): ImageField[] {
  const out: ImageField[] = [];
  const stack: Array<{ value: unknown; path: string }> = [];
  for (const key of ['script_args', 'alwayson_scripts']) {
    if (Object.hasOwn(payload, key)) stack.push({ value: payload[key], path: key });
  }
  // Visit in document order: children are pushed in reverse.
  stack.reverse();
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      if (isHttpUrl(value)) out.push({ path, value });
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: appendIndex(path, i) });
    } else if (isObject(value)) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: value[keys[i]!], path: appendKey(path, keys[i]!) });
    }
  }
  return out;
}

/**
 * Checks every input image of a validated payload (run after the JSON Schema, before A1111 is called): the
 * undecoded fields A1111 would fail on ({@link undecodedImageIssues}); base64 form, decoded size, header and
 * dimensions of each image field, ControlNet units' included ({@link imageFields}); the URL policy for image
 * URLs and for other URLs in script arguments. DNS lookups (only with `allowImageUrls`) run in parallel.
 * The count of images (`MAX_INPUT_IMAGES`) is checked by `validatePayload` with {@link imageFields}.
 *
 * @param route the resolved route; routes without images return at once.
 * @param payload the payload that passed `validatePayload`.
 * @param limits `allowImageUrls` (`ALLOW_IMAGE_URLS`), `maxInputImageBytes` (`MAX_INPUT_IMAGE_BYTES`, bytes),
 *   `maxImageSide` (`MAX_IMAGE_SIDE`, px).
 * @param opts DNS resolution (tests inject `lookup`), abort signal, DNS deadline; `checked`: image fields whose base64
 *   a request dialect has already checked under its own name (their URL policy still applies).
 * @throws JobInputError with one line naming every refused field, e.g. `invalid payload for POST
 *   /sdapi/v1/img2img: init_images[1]: not an image A1111 could open (starts with 3c68746d): formats read are PNG, …`.
 */
export async function checkImages(route: ImageRoute, payload: unknown, limits: LimitsConfig, opts: ImageCheckOptions & { checked?: readonly string[] } = {}): Promise<void> {
  if (route.body === 'none' || !isObject(payload)) return;
  const reasons: Array<string | undefined> = undecodedImageIssues(route, payload).map(([path, why]) => `${path}: ${why}`);
  const pending: Array<Promise<void>> = [];
  const urlPolicy = (field: ImageField, slot: number, what: string): void => {
    if (!limits.allowImageUrls) {
      reasons[slot] = `${field.path}: ${what} are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…)`;
      return;
    }
    pending.push(
      checkImageUrl(field.value, opts).catch((e: unknown) => {
        if (!(e instanceof ImageRefusal)) throw e;
        reasons[slot] = `${field.path}: ${e.message}`;
      }),
    );
  };
  let slot = reasons.length;
  const imagePaths = new Set<string>();
  for (const field of imageFields(route, payload)) {
    const here = slot++;
    imagePaths.add(field.path);
    if (isHttpUrl(field.value)) {
      urlPolicy(field, here, 'image URLs');
      continue;
    }
    if (opts.checked?.includes(field.path)) continue;
    try {
      checkBase64Image(field.value, limits);
    } catch (e) {
      if (!(e instanceof ImageRefusal)) throw e;
      reasons[here] = `${field.path}: ${e.message}`;
    }
  }
  for (const field of scriptUrlFields(payload)) {
    if (!imagePaths.has(field.path)) urlPolicy(field, slot++, 'URLs in script arguments (A1111 would fetch them)');
  }
  await Promise.all(pending);
  const listed = reasons.filter((r): r is string => r !== undefined);
  if (listed.length === 0) return;
  const parts = listed.slice(0, MAX_LISTED);
  if (listed.length > MAX_LISTED) parts.push(`and ${listed.length - MAX_LISTED} more fields`);
  throw new JobInputError(`invalid payload for ${route.method} ${route.path}: ${parts.join('; ')}`);
}
