/**
 * Base64 input images as A1111 reads them, and their headers (A1111 `modules/api/api.py` `decode_base64_to_image`).
 *
 * A1111's `decode_base64_to_image` (modules/api/api.py, v1.10.1): a value starting with `data:image/` is cut as
 * `encoding.split(";")[1].split(",")[1]`, then `base64.b64decode` (not `validate=True`: characters outside the
 * alphabet, such as line breaks, are dropped) and `PIL.Image.open` reads whatever format Pillow knows. This
 * module accepts the same and refuses only what A1111 would certainly fail on, or what the operator capped:
 * - the prefix `data:image/<any subtype>;<one parameter>,` (e.g. `data:image/gif;base64,`); any other `data:`
 *   prefix, or any other `scheme:`, is refused (A1111 would decode its letters as image bytes);
 * - the standard alphabet `A–Z a–z 0–9 + /`, `=` padding only at the end, and ASCII whitespace anywhere (spaces,
 *   tabs, `\r\n` line breaks of MIME encoders: dropped by A1111 as by Node). The URL-safe `-`/`_` and other
 *   characters are refused: `b64decode` would silently drop them and decode garbage. The number of base64
 *   characters must be a multiple of 4 (`b64decode` raises `Incorrect padding` otherwise);
 * - decoded size at most `MAX_INPUT_IMAGE_BYTES` (computed from the text, nothing decoded);
 * - a header the `image-size` package reads (PNG, JPEG, WebP, GIF, BMP, TIFF, ICO, CUR, ICNS, DDS, PSD, TGA,
 *   PNM, JPEG 2000, AVIF, HEIF/HEIC, JPEG XL, KTX) with width and height 1 to `MAX_IMAGE_SIDE` px, except SVG
 *   (Pillow has no SVG reader). Only the head of the image is decoded: 4 KiB, then ×16 while the reader needs
 *   more (a JPEG's frame header after large EXIF/ICC segments, a TIFF directory at the end of the file).
 *
 * Pillow 9.5 (A1111 v1.10.1) reads AVIF through `pillow-avif-plugin` (in A1111's requirements); HEIC, JPEG XL
 * and KTX need plugins A1111 does not install: they are passed on (a server may have them), and a server without
 * them answers 500 `Invalid encoded image`. `image-size` reads JPEG sizes from SOF0–SOF2 frames only, and not
 * after 0xFF fill bytes before a marker: such rare JPEGs are refused as unreadable.
 */
import { imageSize } from 'image-size';
import { typeHandlers, types as imageTypes } from 'image-size/types/index';
import type { LimitsConfig } from '../../config.js';
import { oneLineJson, showValue } from '../format.js';
import { ImageRefusal } from '../../errors/index.js';

/**
 * An image format as shown in messages: `PNG`, `JPEG`, `WebP`, `GIF`, `BMP`, `TIFF`, `BigTIFF`, `ICO`, `CUR`,
 * `ICNS`, `DDS`, `PSD`, `TGA`, `PNM`, `JPEG 2000`, `AVIF`, `HEIC`, `HEIF`, `JPEG XL`, `KTX`.
 */
export type ImageFormat = string;

/** What an image header says. */
export interface ImageHeader {
  format: ImageFormat;
  /** px (for ICO/CUR/ICNS with several images: the largest, as `image-size` reports) */
  width: number;
  /** px */
  height: number;
}

/** A checked base64 image. */
export interface Base64ImageInfo extends ImageHeader {
  /** Decoded size in bytes. */
  bytes: number;
}

/** The decoded bytes of an image, read from the start. */
export interface ImageBytes {
  /** Total number of decoded bytes. */
  readonly length: number;
  /** The first `min(count, length)` bytes. */
  head(count: number): Uint8Array;
}

/** The formats named in refusals, in that order. */
export const IMAGE_FORMATS_READ =
  'PNG, JPEG, WebP, GIF, BMP, TIFF, ICO, CUR, ICNS, DDS, PSD, TGA, PNM, JPEG 2000, AVIF, HEIF/HEIC, JPEG XL, KTX';

/** Bytes decoded first for the header; multiplied by {@link HEAD_GROWTH} while the reader needs more. */
const FIRST_HEAD_BYTES = 4096;
const HEAD_GROWTH = 16;

const FORMAT_NAMES: Readonly<Record<string, string>> = {
  bmp: 'BMP', cur: 'CUR', dds: 'DDS', gif: 'GIF', icns: 'ICNS', ico: 'ICO', j2c: 'JPEG 2000', jp2: 'JPEG 2000',
  jpg: 'JPEG', jxl: 'JPEG XL', 'jxl-stream': 'JPEG XL', ktx: 'KTX', png: 'PNG', pnm: 'PNM', psd: 'PSD', svg: 'SVG',
  tga: 'TGA', tiff: 'TIFF', bigtiff: 'BigTIFF', webp: 'WebP', heif: 'HEIF', avif: 'AVIF', heic: 'HEIC', heix: 'HEIC',
  hevc: 'HEIC', hevx: 'HEIC', mif1: 'HEIF', msf1: 'HEIF',
};

function formatName(type: string): string {
  return FORMAT_NAMES[type] ?? type.toUpperCase();
}

/** True when A1111 would fetch the value as a URL (its own, case-sensitive prefix test in `decode_base64_to_image`). */
export function isHttpUrl(value: string): boolean {
  return value.startsWith('http://') || value.startsWith('https://');
}

/** {@link ImageBytes} over bytes in memory. */
export function bufferBytes(bytes: Uint8Array): ImageBytes {
  return { length: bytes.length, head: (count) => bytes.subarray(0, Math.max(0, count)) };
}

const WHITESPACE = /[\t\n\v\f\r ]+/g;

/**
 * {@link ImageBytes} over base64 text that decodes only the head asked for.
 * @param body base64 already checked by {@link checkBase64Image}'s rules (alphabet, whitespace, padding).
 * @param length decoded size in bytes.
 * @param hasWhitespace whether `body` contains whitespace (then each head is compacted first).
 */
export function base64Bytes(body: string, length: number, hasWhitespace = /[\t\n\v\f\r ]/.test(body)): ImageBytes {
  return {
    length,
    head(count) {
      const bytes = Math.min(Math.max(0, count), length);
      const chars = Math.ceil(bytes / 3) * 4;
      let text = body.slice(0, chars);
      if (hasWhitespace) {
        // Grow the slice until it holds `chars` base64 characters (or the whole body).
        let end = chars;
        text = text.replace(WHITESPACE, '');
        while (text.length < chars && end < body.length) {
          end = Math.min(body.length, end + (chars - text.length) * 2 + 1024);
          text = body.slice(0, end).replace(WHITESPACE, '');
        }
        text = text.slice(0, chars);
      }
      return Buffer.from(text, 'base64').subarray(0, bytes);
    },
  };
}

/**
 * `bytes` in an ArrayBuffer of its own, of exactly its length: `image-size` reads through a DataView over
 * `input.buffer`, which would see past the end of a view (into the rest of the image, or into Node's shared
 * Buffer pool for small decoded chunks) instead of failing on a truncated head.
 */
function exactCopy(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/** The `image-size` type whose signature matches the head (the formats it knows), or undefined. */
function detectType(head: Uint8Array): string | undefined {
  for (const type of imageTypes) {
    try {
      if (typeHandlers.get(type)?.validate(head)) return type;
    } catch {
      // A reader that cannot even test this head does not know it.
    }
  }
  return undefined;
}

function sizeOf(head: Uint8Array): { type: string; width: number; height: number } | undefined {
  try {
    const r = imageSize(head);
    const ok = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
    return r.type && ok(r.width) && ok(r.height) ? { type: r.type, width: r.width, height: r.height } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the format and size of an image from its first bytes with the `image-size` package: 4 KiB first, 16
 * times more while its reader needs more, at most the whole image. Does not check the size against limits.
 * @param source the decoded bytes, or {@link ImageBytes} that decode on demand.
 * @returns the format (display name, see {@link ImageFormat}), width and height in px.
 * @throws ImageRefusal `not an image A1111 could open (starts with 3c68746d): formats read are PNG, JPEG, …`,
 *   `an SVG image: A1111 opens images with Pillow, which cannot read SVG`, or
 *   `a JPEG whose size cannot be read (truncated or corrupt header)`.
 */
export function parseImageHeader(source: Uint8Array | ImageBytes): ImageHeader {
  const src = source instanceof Uint8Array ? bufferBytes(source) : source;
  let want = FIRST_HEAD_BYTES;
  let known: string | undefined;
  for (;;) {
    const head = exactCopy(src.head(want));
    const complete = head.length >= src.length;
    const size = sizeOf(head);
    if (size?.type === 'svg' || (size === undefined && detectType(head) === 'svg')) {
      throw new ImageRefusal('an SVG image: A1111 opens images with Pillow, which cannot read SVG');
    }
    if (size && size.width > 0 && size.height > 0) return { format: formatName(size.type), width: size.width, height: size.height };
    known ??= size?.type ?? detectType(head);
    if (known === undefined) {
      const first = Buffer.from(head.subarray(0, 4)).toString('hex') || 'nothing';
      throw new ImageRefusal(`not an image A1111 could open (starts with ${first}): formats read are ${IMAGE_FORMATS_READ}`);
    }
    if (size && complete) return { format: formatName(size.type), width: size.width, height: size.height };
    if (complete) {
      // HEIF files name their kind (avif, heic, mif1…) by the major brand at bytes 8–11.
      const name = formatName(known === 'heif' ? Buffer.from(head.subarray(8, 12)).toString('latin1') : known);
      throw new ImageRefusal(`${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name} whose size cannot be read (truncated or corrupt header)`);
    }
    want *= HEAD_GROWTH;
  }
}

/** Number of whitespace characters in `body` (one native regex scan; ~25 ms for 20 MB with MIME line breaks). */
function countWhitespace(body: string): number {
  let n = 0;
  WHITESPACE.lastIndex = 0;
  for (let m = WHITESPACE.exec(body); m; m = WHITESPACE.exec(body)) n += m[0].length;
  return n;
}

/** The data URI prefix A1111 strips: `data:image/<subtype>;<parameter>,` (its `split(";")[1].split(",")[1]`). */
const DATA_URI = /^data:image\/[^;]*;[^;,]*,/;
const BASE64_ONLY = /^[A-Za-z0-9+/]*={0,2}$/;

function dataUriPrefix(value: string): number {
  const m = DATA_URI.exec(value);
  if (m) return m[0].length;
  const comma = value.indexOf(',');
  const prefix = comma >= 0 && comma < 100 ? value.slice(0, comma + 1) : value.slice(0, 40);
  throw new ImageRefusal(
    `data URI prefix ${showValue(prefix)} is not accepted: A1111 strips only data:image/<type>;base64, (e.g. data:image/png;base64,)`,
  );
}

/** Refuses a character outside the base64 alphabet, `=` and whitespace. */
function refuseCharacter(body: string, at: number, prefixLength: number): never {
  const c = body[at]!;
  const where = `at offset ${prefixLength + at}`;
  if (c === '-' || c === '_') {
    throw new ImageRefusal(`is not valid base64: URL-safe alphabet (${oneLineJson(c)} ${where}); use standard base64 with + and /`);
  }
  const ch = String.fromCodePoint(body.codePointAt(at)!);
  throw new ImageRefusal(`is not valid base64: ${oneLineJson(ch)} ${where} is not a base64 character`);
}

/**
 * The decoded size of checked base64 text, in bytes, refusing misplaced `=` and a count of base64 characters
 * that is not a multiple of 4.
 */
function decodedLength(body: string, prefixLength: number, whitespace: number): number {
  const firstPad = body.indexOf('=');
  let padding = 0;
  if (firstPad >= 0) {
    const tail = body.slice(firstPad).replace(WHITESPACE, '');
    if (!/^={1,2}$/.test(tail)) {
      throw new ImageRefusal(`is not valid base64: "=" padding at offset ${prefixLength + firstPad}, before the end`);
    }
    padding = tail.length;
  }
  const chars = body.length - whitespace;
  if (chars % 4 !== 0) {
    throw new ImageRefusal(`is not valid base64: ${chars} characters is not a multiple of 4 (missing "=" padding?)`);
  }
  return (chars / 4) * 3 - padding;
}

/**
 * Checks one base64 image string (raw or data URI; URLs are not handled here) and its header, as A1111's
 * `decode_base64_to_image` reads it (see the module comment).
 * @param value the field's string.
 * @param limits `maxInputImageBytes` (`MAX_INPUT_IMAGE_BYTES`, decoded size in bytes) and `maxImageSide`
 *   (`MAX_IMAGE_SIDE`, px).
 * @returns format, width and height (px) and decoded size (bytes).
 * @throws ImageRefusal with the reason, e.g. `is not valid base64: "*" at offset 4 is not a base64 character`,
 *   `17825792 bytes decoded, over MAX_INPUT_IMAGE_BYTES=16777216`, `PNG of 9000 × 512 px is over MAX_IMAGE_SIDE=8192`,
 *   or a {@link parseImageHeader} refusal.
 */
export function checkBase64Image(value: string, limits: Pick<LimitsConfig, 'maxInputImageBytes' | 'maxImageSide'>): Base64ImageInfo {
  let prefixLength = 0;
  if (value.startsWith('data:')) {
    prefixLength = dataUriPrefix(value);
  } else {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]{0,30}):/.exec(value);
    if (scheme) {
      throw new ImageRefusal(
        `a ${oneLineJson(scheme[1] + ':')} URL is not accepted: send base64 (raw or data:image/png;base64,…); only http:// and https:// URLs can be enabled (ALLOW_IMAGE_URLS)`,
      );
    }
  }
  const body = prefixLength ? value.slice(prefixLength) : value;
  let whitespace = 0;
  if (!BASE64_ONLY.test(body)) {
    const bad = body.search(/[^A-Za-z0-9+/=\t\n\v\f\r ]/);
    if (bad >= 0) refuseCharacter(body, bad, prefixLength);
    whitespace = countWhitespace(body);
  }
  if (body.length === whitespace) {
    throw new ImageRefusal(prefixLength ? 'is empty after the data URI prefix' : 'is empty (no base64 characters)');
  }
  const bytes = decodedLength(body, prefixLength, whitespace);
  if (bytes > limits.maxInputImageBytes) {
    throw new ImageRefusal(`${bytes} bytes decoded, over MAX_INPUT_IMAGE_BYTES=${limits.maxInputImageBytes}`);
  }
  const header = parseImageHeader(base64Bytes(body, bytes, whitespace > 0));
  const { format, width, height } = header;
  if (width < 1 || height < 1) throw new ImageRefusal(`${format} of ${width} × ${height} px: width and height must be at least 1 px`);
  if (width > limits.maxImageSide || height > limits.maxImageSide) {
    throw new ImageRefusal(`${format} of ${width} × ${height} px is over MAX_IMAGE_SIDE=${limits.maxImageSide}`);
  }
  return { ...header, bytes };
}
