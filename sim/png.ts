/**
 * Image helpers of the simulator: deterministic RGB pixels, PNG encoding with
 * pngjs, `tEXt`/`iTXt` metadata chunks (spec §2.8/§2.9) and a bounded cache of encoded PNGs.
 * Decoding of image inputs is in `image-decode.ts`.
 */
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';

// ---------------------------------------------------------------- hashing / PRNG

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

/** mulberry32 PRNG: returns a function yielding floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- CRC / chunks

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 as used by PNG chunks. */
export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Builds one PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out, 4, 8 + data.length), 8 + data.length);
  return out;
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

/**
 * Text chunk as Pillow's `PngInfo.add_text` writes it: `tEXt` (Latin-1) when the
 * value is Latin-1 encodable, otherwise an uncompressed `iTXt` (UTF-8).
 */
export function textChunk(key: string, value: string): Buffer {
  if (isLatin1(value)) return pngChunk('tEXt', Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0]), Buffer.from(value, 'latin1')]));
  // keyword\0 compression-flag(0) method(0) language\0 translated-keyword\0 text
  return pngChunk(
    'iTXt',
    Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(value, 'utf8')]),
  );
}

/**
 * Returns a copy of `png` with text chunks inserted right after IHDR (where
 * Pillow puts them). `png` must start with a valid signature + IHDR.
 */
export function insertTextChunks(png: Buffer, texts: [string, string][]): Buffer {
  if (texts.length === 0) return png;
  const ihdrLen = png.readUInt32BE(8);
  const cut = 8 + 12 + ihdrLen;
  return Buffer.concat([png.subarray(0, cut), ...texts.map(([k, v]) => textChunk(k, v)), png.subarray(cut)]);
}

/**
 * Reads the text chunks (`tEXt`, `zTXt`, `iTXt`) of a PNG into a key → value map,
 * in file order (later duplicates win, as in Pillow's `info`). Returns `{}` for a
 * non-PNG or when the chunk structure is broken.
 */
export function readPngTexts(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) return out;
  let off = 8;
  while (off + 12 <= buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const dataStart = off + 8;
    const dataEnd = dataStart + len;
    if (dataEnd + 4 > buf.length) break;
    const data = buf.subarray(dataStart, dataEnd);
    try {
      if (type === 'tEXt') {
        const z = data.indexOf(0);
        if (z > 0) out[data.toString('latin1', 0, z)] = data.toString('latin1', z + 1);
      } else if (type === 'zTXt') {
        const z = data.indexOf(0);
        if (z > 0) out[data.toString('latin1', 0, z)] = inflateSync(data.subarray(z + 2)).toString('latin1');
      } else if (type === 'iTXt') {
        const z = data.indexOf(0);
        if (z > 0) {
          const key = data.toString('latin1', 0, z);
          const compressed = data[z + 1] === 1;
          const langEnd = data.indexOf(0, z + 3);
          const transEnd = data.indexOf(0, langEnd + 1);
          const raw = data.subarray(transEnd + 1);
          out[key] = (compressed ? inflateSync(raw) : raw).toString('utf8');
        }
      }
    } catch {
      // a broken text chunk is skipped, like Pillow does for damaged ancillary chunks
    }
    if (type === 'IEND') break;
    off = dataEnd + 4;
  }
  return out;
}

/**
 * What Pillow puts into `Image.info` for a PNG, as far as the simulator models
 * it: the text chunks plus `gamma` (gAMA / 100000) and `srgb` (sRGB intent).
 */
export function readPngInfo(buf: Buffer): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) return out;
  let off = 8;
  while (off + 12 <= buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (off + 12 + len > buf.length) break;
    if (type === 'gAMA' && len === 4) out['gamma'] = buf.readUInt32BE(off + 8) / 100000;
    if (type === 'sRGB' && len === 1) out['srgb'] = buf[off + 8];
    if (type === 'IDAT' || type === 'IEND') break;
    off += 12 + len;
  }
  return { ...out, ...readPngTexts(buf) };
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
 * pattern seeded by (seed, prompt, variant) plus per-pixel xorshift noise, so
 * that PNG sizes resemble real SD output (~0.5 MB at 512², ~2 MB at 1024²).
 */
export function renderRgb(key: RenderKey, noiseMask = 15): Buffer {
  const { width: w, height: h } = key;
  const base = fnv1a(`${key.seed}|${key.prompt}|${key.variant ?? ''}`);
  const rnd = mulberry32(base);
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
  let s = (base ^ 0x9e3779b9) >>> 0 || 1;
  const half = (noiseMask + 1) >> 1;
  const [c0, c1, c2] = cols;
  const [d0, d1, d2] = diags;
  let i = 0;
  for (let y = 0; y < h; y++) {
    const r0 = bases[0] + rows[0][y];
    const r1 = bases[1] + rows[1][y];
    const r2 = bases[2] + rows[2][y];
    for (let x = 0; x < w; x++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const r = s >>> 0;
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
  private readonly map = new Map<string, Promise<Buffer>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  /**
   * @param maxEntries maximum number of cached images
   * @param maxBytes maximum total size of cached PNGs (bytes)
   */
  constructor(
    private readonly maxEntries = 64,
    private readonly maxBytes = 256 * 1024 * 1024,
  ) {}

  /** Number of cached entries (including encodes still running). */
  get size(): number {
    return this.map.size;
  }

  /** Returns the PNG (no text chunks) for `key`, rendering and encoding it on a miss. */
  get(key: RenderKey): Promise<Buffer> {
    const k = `${key.seed}|${key.width}x${key.height}|${key.variant ?? ''}|${key.prompt}`;
    const hit = this.map.get(k);
    if (hit) {
      this.map.delete(k);
      this.map.set(k, hit);
      return hit;
    }
    const p = encodeRgbPng(renderRgb(key), key.width, key.height);
    this.map.set(k, p);
    p.then(
      (buf) => {
        if (this.map.get(k) !== p) return;
        this.sizes.set(k, buf.length);
        this.bytes += buf.length;
        this.evict();
      },
      () => {
        this.map.delete(k);
      },
    );
    this.evict();
    return p;
  }

  private evict(): void {
    while (this.map.size > this.maxEntries || (this.bytes > this.maxBytes && this.map.size > 1)) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
      this.bytes -= this.sizes.get(oldest) ?? 0;
      this.sizes.delete(oldest);
    }
  }
}
