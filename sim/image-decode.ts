/**
 * Image inputs as A1111 v1.10.1 reads them: `decode_base64_to_image` (`modules/api/api.py`) cuts a
 * `data:image/…` prefix as `encoding.split(";")[1].split(",")[1]`, decodes with `base64.b64decode` (not
 * validating: whitespace such as MIME line breaks and other characters outside the alphabet are dropped), then
 * `images.read` → `PIL.Image.open` (Pillow 9.5.0 + `pillow-avif-plugin` 1.4.3, `requirements_versions.txt`;
 * `modules/images.py` imports `pillow_avif`). `Image.open` is lazy: only the header is read, so any file whose header
 * Pillow accepts is an image here, even when its pixels are broken; anything else is 500 `Invalid encoded image`.
 *
 * Formats: PNG (IHDR CRC checked, as Pillow does), GIF, BMP, WebP, TIFF, ICO, CUR, ICNS, DDS, PSD, PNM (P1–P6),
 * JPEG 2000, AVIF and TGA through the `image-size` package (dimensions only; TGA with the header checks of Pillow's
 * `TgaImagePlugin._open`, which has no magic number). JPEG by our own marker walk: `image-size` knows only the
 * SOF0–SOF2 frame markers, Pillow's `JpegImagePlugin` every SOF (lossless, arithmetic-coded, …). Not accepted, as
 * Pillow 9.5 has no reader for them: SVG, HEIC, JPEG XL, KTX, PAM/PFM.
 *
 * Pixels: the simulator decodes only PNG (pngjs); where it needs the pixels of another format (extras upscaling),
 * it draws a deterministic pattern of the right size seeded by the file's bytes instead.
 */
import { imageSize } from 'image-size';
import CRC32 from 'crc-32';
import { PNG_SIGNATURE } from './png-text.js';

/** Image format (Pillow's `Image.format` name) and size read from a file header. */
export interface ImageHeader {
  format: 'PNG' | 'JPEG' | 'GIF' | 'BMP' | 'WEBP' | 'TIFF' | 'ICO' | 'CUR' | 'ICNS' | 'DDS' | 'PSD' | 'PPM' | 'JPEG2000' | 'AVIF' | 'TGA';
  /** px (ICO/CUR/ICNS: the largest image, which Pillow opens) */
  width: number;
  /** px */
  height: number;
}

/** `image-size` types Pillow opens, with Pillow's format name. */
const PILLOW_FORMATS: Record<string, ImageHeader['format']> = {
  png: 'PNG',
  gif: 'GIF',
  bmp: 'BMP',
  webp: 'WEBP',
  tiff: 'TIFF',
  ico: 'ICO',
  cur: 'CUR',
  icns: 'ICNS',
  dds: 'DDS',
  psd: 'PSD',
  pnm: 'PPM',
  j2c: 'JPEG2000',
  jp2: 'JPEG2000',
  heif: 'AVIF',
};

/**
 * TGA as Pillow 9.5's `TgaImagePlugin._open` checks it (no magic number): colour-map type 0 or 1, image type 1/2/3
 * (or RLE 9/10/11), depth 1/8/15/16/24/32, width and height (little-endian at 12/14) above 0.
 */
function tgaHeader(b: Buffer): ImageHeader | null {
  if (b.length < 18) return null;
  const width = b.readUInt16LE(12);
  const height = b.readUInt16LE(14);
  const ok = b[1] <= 1 && [1, 2, 3, 9, 10, 11].includes(b[2]) && [1, 8, 15, 16, 24, 32].includes(b[16]);
  return ok && width > 0 && height > 0 ? { format: 'TGA', width, height } : null;
}

/** Every format but JPEG: `image-size` for the size, restricted to what Pillow opens. */
function imageSizeHeader(b: Buffer): ImageHeader | null {
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(b);
  } catch {
    return tgaHeader(b);
  }
  const type = size.type ?? '';
  if (type === 'tga') return tgaHeader(b);
  const format = PILLOW_FORMATS[type];
  if (!format) return null;
  // pillow-avif-plugin opens AVIF only (ftyp major brand `avif`/`avis`), not HEIC/HEIF
  if (type === 'heif' && !['avif', 'avis'].includes(b.toString('latin1', 8, 12))) return null;
  // Pillow 9.5's PpmImagePlugin reads P1–P6 (not PAM `P7` nor PFM `Pf`/`PF`)
  if (type === 'pnm' && !/^P[1-6]$/.test(b.toString('latin1', 0, 2))) return null;
  let { width, height } = size;
  for (const img of size.images ?? []) {
    if (img.width * img.height > width * height) ({ width, height } = img);
  }
  // BMP widths are signed 32-bit: one `image-size` reads as above 2^31 is negative to Pillow
  const ok = [width, height].every((n) => Number.isInteger(n) && n > 0 && n <= 0x7fffffff);
  return ok ? { format, width, height } : null;
}

/**
 * Reads the format and dimensions of an image from its header bytes, like
 * Pillow's lazy `Image.open` (pixels are not decoded). PNG's IHDR CRC is checked.
 *
 * @returns the header, or `null` when the bytes are no recognisable image
 */
export function sniffImage(b: Buffer): ImageHeader | null {
  if (b.length >= 8 && b.subarray(0, 8).equals(PNG_SIGNATURE)) {
    const ihdrOk = b.length >= 33 && b.readUInt32BE(8) === 13 && b.toString('latin1', 12, 16) === 'IHDR' && CRC32.buf(b.subarray(12, 29)) >>> 0 === b.readUInt32BE(29);
    if (!ihdrOk) return null;
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpegHeader(b);
  return imageSizeHeader(b);
}

/** JPEG's size from its first SOF marker (any of SOF0–SOF15 but DHT, JPG and DAC), as Pillow's `JpegImagePlugin`. */
function jpegHeader(b: Buffer): ImageHeader | null {
  let off = 2;
  while (off + 4 <= b.length) {
    if (b[off] !== 0xff) return null;
    const marker = b[off + 1];
    if (marker === 0xff) {
      off += 1;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      off += 2;
      continue;
    }
    const len = b.readUInt16BE(off + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (off + 9 > b.length) return null;
      const height = b.readUInt16BE(off + 5);
      const width = b.readUInt16BE(off + 7);
      return width > 0 && height > 0 ? { format: 'JPEG', width, height } : null;
    }
    off += 2 + len;
  }
  return null;
}

/**
 * Python's `base64.b64decode(s)` (non-validating): characters outside the
 * alphabet are discarded, data after the first complete padding is ignored,
 * and incomplete padding is an error.
 *
 * @returns the decoded bytes, or `null` where Python raises `binascii.Error`
 */
export function pyB64Decode(s: string): Buffer | null {
  if (s.length % 4 === 0 && /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) {
    return Buffer.from(s, 'base64');
  }
  let data = '';
  let pads = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '=') {
      if (data.length % 4 >= 2) {
        pads++;
        if ((data.length + pads) % 4 === 0) break;
      }
      continue;
    }
    if (pads > 0) {
      // alphabet character after partial padding: Python keeps decoding the quantum
      pads = 0;
    }
    if (/[A-Za-z0-9+/]/.test(c)) data += c;
  }
  const rem = data.length % 4;
  if (rem === 1) return null;
  if (rem !== 0 && (rem + pads) % 4 !== 0) return null;
  return Buffer.from(data, 'base64');
}

/** Result of decoding an A1111 image input string. */
export interface DecodedImage {
  bytes: Buffer;
  header: ImageHeader;
}

/**
 * Decodes a base64 (optionally `data:image/...;base64,`-prefixed) image string
 * like A1111's `decode_base64_to_image` (`modules/api/api.py`), without URL handling.
 *
 * @returns the bytes and header, or `null` when A1111 would answer
 *   500 `Invalid encoded image`
 */
export function decodeImageString(encoding: string): DecodedImage | null {
  let s = encoding;
  if (s.startsWith('data:image/')) {
    const afterSemi = s.split(';')[1];
    const payload = afterSemi === undefined ? undefined : afterSemi.split(',')[1];
    if (payload === undefined) return null;
    s = payload;
  }
  const bytes = pyB64Decode(s);
  if (!bytes) return null;
  const header = sniffImage(bytes);
  return header ? { bytes, header } : null;
}

