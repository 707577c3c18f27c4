/**
 * Real images for the corpus' image placeholders.
 *
 * A request file writes an image as a placeholder inside a string, so the JSON stays short and readable:
 *
 * | placeholder | replaced with |
 * |---|---|
 * | `<png WxH>` | base64 of a real W×H RGB PNG (a colour gradient with a dark square, written with pngjs) |
 * | `<mask WxH>` | base64 of a real W×H RGB PNG, black with a white rectangle (A1111's convention: white = repaint) |
 * | `<jpeg 64x64>`, `<gif 64x64>`, `<bmp 64x64>`, `<tiff 64x64>`, `<webp 64x64>` | base64 of a real 64×64 image in that format (`image-data.ts`, made by `make-images.py` with Pillow) |
 * | any of the above with ` mime` before `>` (e.g. `<png 64x64 mime>`) | the same base64, wrapped every 76 characters with `\r\n` (MIME, RFC 2045) |
 *
 * A placeholder may be the whole string (`"<png 64x64>"`) or part of it (`"data:image/png;base64,<png 64x64>"`).
 */
import { PNG } from 'pngjs';
import { IMAGE_B64, IMAGE_SIZE } from './image-data.js';

/** Matches one image placeholder. */
export const IMAGE_PLACEHOLDER = /<(png|mask|jpeg|gif|bmp|tiff|webp) (\d+)x(\d+)( mime)?>/g;

const cache = new Map<string, string>();

/** Base64 of a W×H PNG: the gradient picture, or a mask (black, white rectangle in the middle). */
export function pngBase64(width: number, height: number, mask = false): string {
  const key = `${mask ? 'mask' : 'png'} ${width}x${height}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const png = new PNG({ width, height, colorType: 2 });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inner = x >= width / 4 && x < (3 * width) / 4 && y >= height / 4 && y < (3 * height) / 4;
      if (mask) {
        const v = inner ? 255 : 0;
        png.data[i] = png.data[i + 1] = png.data[i + 2] = v;
      } else {
        png.data[i] = inner ? 20 : Math.floor((x * 255) / Math.max(1, width - 1));
        png.data[i + 1] = inner ? 20 : Math.floor((y * 255) / Math.max(1, height - 1));
        png.data[i + 2] = inner ? 20 : 160;
      }
      png.data[i + 3] = 255;
    }
  }
  const b64 = PNG.sync.write(png, { colorType: 2 }).toString('base64');
  cache.set(key, b64);
  return b64;
}

/** Wraps base64 text every 76 characters with CRLF, as a MIME encoder does. */
export function mimeWrap(b64: string): string {
  return (b64.match(/.{1,76}/g) ?? []).join('\r\n');
}

/** The base64 for one placeholder; throws on a size the stored formats do not have. */
function imageFor(kind: string, width: number, height: number): string {
  if (kind === 'png' || kind === 'mask') return pngBase64(width, height, kind === 'mask');
  if (width !== IMAGE_SIZE.width || height !== IMAGE_SIZE.height) {
    throw new Error(`<${kind} ${width}x${height}>: only ${IMAGE_SIZE.width}x${IMAGE_SIZE.height} is stored for ${kind} (tests/compat/image-data.ts)`);
  }
  return IMAGE_B64[kind as keyof typeof IMAGE_B64];
}

/** Replaces every image placeholder in a string. */
export function expandImages(s: string): string {
  return s.replace(IMAGE_PLACEHOLDER, (_m, kind: string, w: string, h: string, mime: string | undefined) => {
    const b64 = imageFor(kind, Number(w), Number(h));
    return mime ? mimeWrap(b64) : b64;
  });
}

/** A deep copy of a JSON value with every string passed through `fn`. */
export function mapStrings(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, mapStrings(v, fn)]));
  }
  return value;
}
