/**
 * Image helpers of the simulator: deterministic RGB pixels (seeded by pure-rand), PNG encoding with pngjs and a
 * bounded cache of encoded PNGs (lru-cache). Text chunks are in `png-text.ts`, decoding of image inputs in
 * `image-decode.ts`.
 */
import { LRUCache } from 'lru-cache';
import { PNG } from 'pngjs';
import { seededRandom, seededUint32 } from './random.js';

export { PNG_SIGNATURE, insertTextChunks, readPngInfo, textChunk } from './png-text.js';

// ---------------------------------------------------------------- hashing

/** 32-bit FNV-1a hash of a string (UTF-16 code units). */
export function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** 32-bit FNV-1a hash of bytes. */
export function fnv1aBytes(b: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

// ---------------------------------------------------------------- pixels / encoding

/** Inputs that fully determine the pixels of a generated image. */
export interface RenderKey {
  /** the image's own seed (`all_seeds[i]`) */
  seed: number;
  prompt: string;
  /** px */
  width: number;
  /** px */
  height: number;
  /** extra discriminator (e.g. hash of an img2img init image); '' for txt2img */
  variant?: string;
}

/**
 * Renders deterministic RGB pixels (8-bit, `width*height*3` bytes): a smooth
 * pattern seeded by (seed, prompt, variant) plus per-pixel noise, so
 * that PNG sizes resemble real SD output (~0.5 MB at 512², ~2 MB at 1024²).
 */
export function renderRgb(key: RenderKey, noiseMask = 15): Buffer {
  const { width: w, height: h } = key;
  const base = fnv1a(`${key.seed}|${key.prompt}|${key.variant ?? ''}`);
  const rnd = seededRandom(base);
  const promptHash = fnv1a(key.prompt);
  const buf = Buffer.allocUnsafe(w * h * 3);
  const cols: Float32Array[] = [];
  const rows: Float32Array[] = [];
  const diags: Float32Array[] = [];
  const bases: number[] = [];
  for (let c = 0; c < 3; c++) {
    bases.push(70 + ((promptHash >>> (c * 8)) & 0x7f) * 0.9);
    const col = new Float32Array(w);
    const row = new Float32Array(h);
    const diag = new Float32Array(w + h);
    const f1 = 0.5 + rnd() * 3;
    const f2 = 2 + rnd() * 6;
    const p1 = rnd() * Math.PI * 2;
    const p2 = rnd() * Math.PI * 2;
    const a1 = 20 + rnd() * 30;
    const a2 = 5 + rnd() * 12;
    for (let x = 0; x < w; x++) col[x] = a1 * Math.sin((2 * Math.PI * f1 * x) / w + p1) + a2 * Math.sin((2 * Math.PI * f2 * x) / w + p2);
    const g1 = 0.5 + rnd() * 3;
    const q1 = rnd() * Math.PI * 2;
    const b1 = 15 + rnd() * 30;
    for (let y = 0; y < h; y++) row[y] = b1 * Math.cos((2 * Math.PI * g1 * y) / h + q1);
    const d1 = 1 + rnd() * 4;
    const r1 = rnd() * Math.PI * 2;
    const e1 = 10 + rnd() * 20;
    for (let i = 0; i < w + h; i++) diag[i] = e1 * Math.sin((2 * Math.PI * d1 * i) / (w + h) + r1);
    cols.push(col);
    rows.push(row);
    diags.push(diag);
  }
  const noise = seededUint32(base ^ 0x9e3779b9);
  const half = (noiseMask + 1) >> 1;
  const [c0, c1, c2] = cols;
  const [d0, d1, d2] = diags;
  let i = 0;
  for (let y = 0; y < h; y++) {
    const r0 = bases[0] + rows[0][y];
    const r1 = bases[1] + rows[1][y];
    const r2 = bases[2] + rows[2][y];
    for (let x = 0; x < w; x++) {
      const r = noise();
      const k = x + y;
      let v = r0 + c0[x] + d0[k] + (r & noiseMask) - half;
      buf[i++] = v < 0 ? 0 : v > 255 ? 255 : v;
      v = r1 + c1[x] + d1[k] + ((r >>> 8) & noiseMask) - half;
      buf[i++] = v < 0 ? 0 : v > 255 ? 255 : v;
      v = r2 + c2[x] + d2[k] + ((r >>> 16) & noiseMask) - half;
      buf[i++] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return buf;
}

function pngOptions(width: number, height: number) {
  return {
    width,
    height,
    colorType: 2 as const,
    inputColorType: 2 as const,
    inputHasAlpha: false,
    bitDepth: 8 as const,
    filterType: 1,
    deflateLevel: 3,
    deflateChunkSize: 256 * 1024,
  };
}

/**
 * Encodes 8-bit RGB pixels as a PNG with pngjs, compressing off the main
 * thread (zlib stream), so the event loop stays responsive.
 */
export function encodeRgbPng(rgb: Buffer, width: number, height: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const png = new PNG(pngOptions(width, height));
    png.data = rgb;
    const chunks: Buffer[] = [];
    png
      .pack()
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))));
  });
}

/** Synchronous variant of {@link encodeRgbPng} for small images (previews). */
export function encodeRgbPngSync(rgb: Buffer, width: number, height: number): Buffer {
  return PNG.sync.write({ width, height, data: rgb } as PNG, pngOptions(width, height));
}

/**
 * Decodes a PNG to 8-bit RGB with pngjs.
 *
 * @throws Error when pngjs cannot decode the file
 */
export function decodePngRgb(buf: Buffer): { width: number; height: number; rgb: Buffer } {
  const png = PNG.sync.read(buf);
  const { width, height, data } = png;
  const rgb = Buffer.allocUnsafe(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    rgb[i * 3] = data[j];
    rgb[i * 3 + 1] = data[j + 1];
    rgb[i * 3 + 2] = data[j + 2];
  }
  return { width, height, rgb };
}

/** Nearest-neighbour resize of RGB pixels. */
export function resizeNearestRgb(src: Buffer, sw: number, sh: number, dw: number, dh: number): Buffer {
  const out = Buffer.allocUnsafe(dw * dh * 3);
  const xs = new Uint32Array(dw);
  for (let x = 0; x < dw; x++) xs[x] = Math.min(sw - 1, Math.floor(((x + 0.5) * sw) / dw)) * 3;
  let o = 0;
  for (let y = 0; y < dh; y++) {
    const rowOff = Math.min(sh - 1, Math.floor(((y + 0.5) * sh) / dh)) * sw * 3;
    for (let x = 0; x < dw; x++) {
      const s = rowOff + xs[x];
      out[o++] = src[s];
      out[o++] = src[s + 1];
      out[o++] = src[s + 2];
    }
  }
  return out;
}

/**
 * Pads/crops RGB pixels to `dw×dh`, centring the source (Pillow `paste` onto a
 * black canvas, as A1111's "crop to fit" does).
 */
export function centerOnCanvasRgb(src: Buffer, sw: number, sh: number, dw: number, dh: number): Buffer {
  const out = Buffer.alloc(dw * dh * 3);
  const ox = Math.floor(dw / 2) - Math.floor(sw / 2);
  const oy = Math.floor(dh / 2) - Math.floor(sh / 2);
  for (let y = 0; y < dh; y++) {
    const sy = y - oy;
    if (sy < 0 || sy >= sh) continue;
    const x0 = Math.max(0, ox);
    const x1 = Math.min(dw, ox + sw);
    if (x1 <= x0) continue;
    src.copy(out, (y * dw + x0) * 3, (sy * sw + (x0 - ox)) * 3, (sy * sw + (x1 - ox)) * 3);
  }
  return out;
}

// ---------------------------------------------------------------- cache

/**
 * A bounded LRU cache of encoded PNGs (without metadata chunks), keyed by
 * their {@link RenderKey}; bounded by entry count and total bytes.
 */
export class PngCache {
  private readonly lru: LRUCache<string, Buffer>;
  /** encodes still running, shared by concurrent requests for the same key */
  private readonly running = new Map<string, Promise<Buffer>>();

  /**
   * @param maxEntries maximum number of cached images
   * @param maxBytes maximum total size of cached PNGs (bytes)
   */
  constructor(maxEntries = 64, maxBytes = 256 * 1024 * 1024) {
    this.lru = new LRUCache<string, Buffer>({ max: maxEntries, maxSize: maxBytes, sizeCalculation: (png) => Math.max(1, png.length) });
  }

  /** Number of cached entries (including encodes still running). */
  get size(): number {
    return this.lru.size + this.running.size;
  }

  /** Returns the PNG (no text chunks) for `key`, rendering and encoding it on a miss. */
  get(key: RenderKey): Promise<Buffer> {
    const k = `${key.seed}|${key.width}x${key.height}|${key.variant ?? ''}|${key.prompt}`;
    const hit = this.lru.get(k);
    if (hit) return Promise.resolve(hit);
    const pending = this.running.get(k);
    if (pending) return pending;
    const p = encodeRgbPng(renderRgb(key), key.width, key.height);
    this.running.set(k, p);
    const settle = () => {
      this.running.delete(k);
    };
    p.then((png) => {
      settle();
      this.lru.set(k, png);
    }, settle);
    return p;
  }
}
