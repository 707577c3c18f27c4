/**
 * Small image files for the input-image tests, built here from the formats' specifications (nothing copied):
 * a PNG encoded by pngjs; complete GIF, BMP, TIFF and ICO files; JPEG, WebP and AVIF files with just the headers
 * a decoder reads first (enough for the worker's header check); an SVG text.
 */
import { PNG } from 'pngjs';
import { expect } from 'vitest';
import { JobInputError } from '../../handler/errors/index.js';
import { ImageRefusal, type HostLookup } from '../../handler/jobs/images/images.js';
import { thrownMessage } from '../helpers/one-line-error.js';

/** A real PNG (RGBA, 8-bit) of `width × height` px, grey. */
export function pngBytes(width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  png.data.fill(0x80);
  return PNG.sync.write(png);
}

/** A PNG file whose IHDR claims `width × height` px (no pixel data: for the header check only). */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(25);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write('IHDR', 4, 'latin1');
  ihdr.writeUInt32BE(width >>> 0, 8);
  ihdr.writeUInt32BE(height >>> 0, 12);
  ihdr[16] = 8; // bit depth
  ihdr[17] = 2; // colour type RGB
  // compression, filter, interlace 0; CRC left 0 (not checked)
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ihdr]);
}

function segment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0xff;
  head[1] = marker;
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/**
 * A minimal baseline JPEG: SOI, APP0 (JFIF), optional extra APPn segments (e.g. a large EXIF block), a frame
 * header SOFn with the given size, SOS and EOI.
 * @param sof the frame marker: 0xC0 baseline, 0xC2 progressive…
 * @param appPadding bytes of an extra APP1 segment before the frame header (max 65533).
 */
export function jpegBytes(width: number, height: number, opts: { sof?: number; appPadding?: number } = {}): Buffer {
  const soi = Buffer.from([0xff, 0xd8]);
  const app0 = segment(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]));
  const app1 = opts.appPadding ? segment(0xe1, Buffer.alloc(opts.appPadding, 0x41)) : Buffer.alloc(0);
  const sofPayload = Buffer.alloc(15);
  sofPayload[0] = 8; // precision
  sofPayload.writeUInt16BE(height, 1);
  sofPayload.writeUInt16BE(width, 3);
  sofPayload[5] = 3; // components
  sofPayload.set([1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1], 6);
  const sof = segment(opts.sof ?? 0xc0, sofPayload);
  const sos = segment(0xda, Buffer.from([1, 1, 0, 0, 0x3f, 0]));
  return Buffer.concat([soi, app0, app1, sof, sos, Buffer.from([0x00, 0x00, 0xff, 0xd9])]);
}

function riff(chunk: string, data: Buffer): Buffer {
  const chunkHead = Buffer.alloc(8);
  chunkHead.write(chunk, 0, 'latin1');
  chunkHead.writeUInt32LE(data.length, 4);
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), chunkHead, data]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** A lossy WebP (`VP8 ` chunk): key-frame tag, start code 9D 01 2A, 14-bit width and height. */
export function webpLossyBytes(width: number, height: number): Buffer {
  const data = Buffer.alloc(16);
  data.set([0x10, 0x02, 0x00], 0); // frame tag: key frame (bit 0 = 0), show_frame
  data.set([0x9d, 0x01, 0x2a], 3);
  data.writeUInt16LE(width & 0x3fff, 6);
  data.writeUInt16LE(height & 0x3fff, 8);
  return riff('VP8 ', data);
}

/** A lossless WebP (`VP8L` chunk): signature 0x2F, then width − 1 and height − 1 in 14 bits each. */
export function webpLosslessBytes(width: number, height: number): Buffer {
  const data = Buffer.alloc(8);
  data[0] = 0x2f;
  data.writeUInt32LE((((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14)) >>> 0, 1);
  return riff('VP8L', data);
}

/** An extended WebP (`VP8X` chunk): flags, reserved, canvas width − 1 and height − 1 in 24 bits each. */
export function webpExtendedBytes(width: number, height: number): Buffer {
  const data = Buffer.alloc(10);
  data.writeUIntLE(width - 1, 4, 3);
  data.writeUIntLE(height - 1, 7, 3);
  return riff('VP8X', data);
}

/**
 * A GIF89a: logical screen `width × height` px, a 2-colour global colour table and one 1 × 1 frame (LZW minimum
 * code size 2: clear, index 0, end of information = bytes 44 01), then the trailer.
 */
export function gifBytes(width: number, height: number): Buffer {
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen[4] = 0x80; // global colour table of 2 entries, 1 bit per primary
  const table = Buffer.from([0, 0, 0, 0xff, 0xff, 0xff]);
  const frame = Buffer.alloc(10);
  frame[0] = 0x2c; // image separator; left, top 0
  frame.writeUInt16LE(1, 5);
  frame.writeUInt16LE(1, 7);
  return Buffer.concat([Buffer.from('GIF89a', 'latin1'), screen, table, frame, Buffer.from([2, 2, 0x44, 0x01, 0, 0x3b])]);
}

/**
 * A 24-bit BMP (BITMAPFILEHEADER + BITMAPINFOHEADER + rows padded to 4 bytes), grey; `topDown` writes a negative
 * height (rows top to bottom). `headerOnly` leaves out the pixels (the header still counts them).
 */
export function bmpBytes(width: number, height: number, opts: { topDown?: boolean; headerOnly?: boolean } = {}): Buffer {
  const row = Math.ceil((width * 3) / 4) * 4;
  const pixels = row * height;
  const head = Buffer.alloc(54);
  head.write('BM', 0, 'latin1');
  head.writeUInt32LE(54 + pixels, 2);
  head.writeUInt32LE(54, 10); // pixel data offset
  head.writeUInt32LE(40, 14); // BITMAPINFOHEADER size
  head.writeInt32LE(width, 18);
  head.writeInt32LE(opts.topDown ? -height : height, 22);
  head.writeUInt16LE(1, 26); // planes
  head.writeUInt16LE(24, 28); // bits per pixel
  head.writeUInt32LE(pixels, 34);
  return opts.headerOnly ? head : Buffer.concat([head, Buffer.alloc(pixels, 0x80)]);
}

/**
 * An 8-bit greyscale, uncompressed TIFF with one strip: header (`II*\0` or `MM\0*`), one IFD (ImageWidth,
 * ImageLength, BitsPerSample, Compression, PhotometricInterpretation, StripOffsets, RowsPerStrip,
 * StripByteCounts) and the pixels. `ifdAtEnd` writes the pixels first and the IFD after them, as some encoders do.
 */
export function tiffBytes(width: number, height: number, opts: { bigEndian?: boolean; ifdAtEnd?: boolean } = {}): Buffer {
  const be = opts.bigEndian ?? false;
  const u16 = (b: Buffer, v: number, at: number): number => (be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const u32 = (b: Buffer, v: number, at: number): number => (be ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const pixels = Buffer.alloc(width * height, 0x80);
  const entries: Array<[number, number, number]> = [
    [256, 4, width], [257, 4, height], [258, 3, 8], [259, 3, 1], [262, 3, 1], [273, 4, 0], [278, 4, height], [279, 4, pixels.length],
  ];
  const ifd = Buffer.alloc(2 + entries.length * 12 + 4);
  const ifdOffset = opts.ifdAtEnd ? 8 + pixels.length : 8;
  const pixelOffset = opts.ifdAtEnd ? 8 : 8 + ifd.length;
  u16(ifd, entries.length, 0);
  entries.forEach(([tag, type, value], i) => {
    const at = 2 + i * 12;
    u16(ifd, tag, at);
    u16(ifd, type, at + 2);
    u32(ifd, 1, at + 4); // count
    const v = tag === 273 ? pixelOffset : value;
    if (type === 3) u16(ifd, v, at + 8);
    else u32(ifd, v, at + 8);
  });
  const header = Buffer.alloc(8);
  header.write(be ? 'MM' : 'II', 0, 'latin1');
  u16(header, 42, 2);
  u32(header, ifdOffset, 4);
  return Buffer.concat(opts.ifdAtEnd ? [header, pixels, ifd] : [header, ifd, pixels]);
}

/** An ICO holding one PNG of `size × size` px (1–256; 256 is written as 0 in the directory entry). */
export function icoBytes(size: number): Buffer {
  const png = pngBytes(size, size);
  const head = Buffer.alloc(6 + 16);
  head.writeUInt16LE(1, 2); // type: icon
  head.writeUInt16LE(1, 4); // one image
  head[6] = size & 0xff;
  head[7] = size & 0xff;
  head.writeUInt16LE(1, 10); // planes
  head.writeUInt16LE(32, 12); // bits per pixel
  head.writeUInt32LE(png.length, 14);
  head.writeUInt32LE(head.length, 18);
  return Buffer.concat([head, png]);
}

function box(type: string, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

/**
 * The boxes of an AVIF (ISO BMFF, HEIF) that carry its size: `ftyp` (major brand `brand`), then `meta` →
 * `iprp` → `ipco` → `ispe` (image spatial extents). No image data.
 */
export function avifHeader(width: number, height: number, brand = 'avif'): Buffer {
  const ftyp = box('ftyp', Buffer.from(`${brand}\0\0\0\0mif1miaf`, 'latin1'));
  const ispeBody = Buffer.alloc(12);
  ispeBody.writeUInt32BE(width, 4);
  ispeBody.writeUInt32BE(height, 8);
  const meta = box('meta', Buffer.alloc(4), box('iprp', box('ipco', box('ispe', ispeBody))));
  return Buffer.concat([ftyp, meta]);
}

/** An SVG document of `width × height` px. */
export function svgBytes(width: number, height: number): Buffer {
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="1" height="1"/></svg>`);
}

/** base64 of bytes. */
export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** base64 of bytes in lines of 76 characters ended by `eol`, as MIME encoders (and `base64` without -w0) write. */
export const b64Lines = (bytes: Uint8Array, eol = '\r\n'): string => (b64(bytes).match(/.{1,76}/g) ?? []).join(eol) + eol;

/** A resolver from a fixed table; unknown names fail like getaddrinfo. Records the names asked. */
export function fakeDns(table: Record<string, string[]>): HostLookup & { asked: string[] } {
  const asked: string[] = [];
  const lookup: HostLookup = async (host) => {
    asked.push(host);
    const list = Object.hasOwn(table, host) ? table[host]! : undefined;
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(lookup, { asked });
}

/** The reason of the ImageRefusal thrown by fn (checked to be one line). */
export function refusal(fn: () => unknown): string {
  return thrownMessage(fn, ImageRefusal);
}

/** The reason of the ImageRefusal the promise rejects with. */
export async function asyncRefusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ImageRefusal);
    return (e as Error).message;
  }
  throw new Error('expected an ImageRefusal');
}

/** The one-line message of the JobInputError the promise rejects with. */
export async function jobError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(JobInputError);
    const m = (e as Error).message;
    expect(m).not.toMatch(/[\n\r\u2028\u2029]/);
    return m;
  }
  throw new Error('expected a JobInputError');
}
