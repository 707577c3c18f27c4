/**
 * Small, real image files for the input-image tests: a PNG encoded by pngjs, and JPEG / WebP files built by
 * hand with just the headers a decoder reads first (enough for the worker's header check).
 */
import { PNG } from 'pngjs';

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
export function jpegBytes(width: number, height: number, opts: { sof?: number; appPadding?: number; fillBytes?: number } = {}): Buffer {
  const soi = Buffer.from([0xff, 0xd8]);
  const app0 = segment(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]));
  const app1 = opts.appPadding ? segment(0xe1, Buffer.alloc(opts.appPadding, 0x41)) : Buffer.alloc(0);
  const sofPayload = Buffer.alloc(15);
  sofPayload[0] = 8; // precision
  sofPayload.writeUInt16BE(height, 1);
  sofPayload.writeUInt16BE(width, 3);
  sofPayload[5] = 3; // components
  sofPayload.set([1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1], 6);
  const fill = Buffer.alloc(opts.fillBytes ?? 0, 0xff);
  const sof = segment(opts.sof ?? 0xc0, sofPayload);
  const sos = segment(0xda, Buffer.from([1, 1, 0, 0, 0x3f, 0]));
  return Buffer.concat([soi, app0, app1, fill, sof, sos, Buffer.from([0x00, 0x00, 0xff, 0xd9])]);
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

/** base64 of bytes. */
export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
