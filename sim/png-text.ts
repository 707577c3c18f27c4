/**
 * PNG text chunks as Pillow writes and reads them (A1111 `modules/images.py` saves the infotext in a `parameters`
 * text chunk; docs/a1111-api.md, "PNG infotext format"): chunks framed by `png-chunks-encode`, read by
 * `png-chunks-extract` (which checks every CRC), `tEXt` by `png-chunk-text`.
 */
import { inflateSync } from 'node:zlib';
import { decode as decodeText, encode as encodeText } from 'png-chunk-text';
import encodeChunks from 'png-chunks-encode';
import extractChunks from 'png-chunks-extract';

/** The 8-byte PNG file signature. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const isLatin1 = (s: string) => /^[\x01-\xff]*$/.test(s);

/**
 * One text chunk, framed (length, type, data, CRC), as Pillow's `PngInfo.add_text` writes it: `tEXt` (Latin-1)
 * when the value is Latin-1 encodable, otherwise an uncompressed `iTXt` (UTF-8).
 */
export function textChunk(key: string, value: string): Buffer {
  let chunk: { name: string; data: Uint8Array };
  if (value === '') chunk = { name: 'tEXt', data: Buffer.from(`${key}\0`, 'latin1') }; // png-chunk-text refuses empty text
  else if (isLatin1(value)) chunk = encodeText(key, value);
  // keyword\0 compression-flag(0) method(0) language\0 translated-keyword\0 text
  else chunk = { name: 'iTXt', data: Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(value, 'utf8')]) };
  return Buffer.from(encodeChunks([chunk]).subarray(PNG_SIGNATURE.length));
}

/**
 * Returns a copy of `png` with text chunks inserted right after IHDR (where Pillow puts them). `png` must start with
 * a valid signature + IHDR; the rest is copied as it is (image data is not re-framed).
 */
export function insertTextChunks(png: Buffer, texts: [string, string][]): Buffer {
  if (texts.length === 0) return png;
  const cut = PNG_SIGNATURE.length + 12 + png.readUInt32BE(PNG_SIGNATURE.length);
  return Buffer.concat([png.subarray(0, cut), ...texts.map(([k, v]) => textChunk(k, v)), png.subarray(cut)]);
}

function readText(name: string, data: Uint8Array): [string, string] | null {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const z = b.indexOf(0);
  if (z <= 0) return null;
  const key = b.toString('latin1', 0, z);
  if (name === 'tEXt') return [key, decodeText(b).text];
  if (name === 'zTXt') return [key, inflateSync(b.subarray(z + 2)).toString('latin1')];
  // iTXt: keyword\0 flag method language\0 translated\0 text
  const langEnd = b.indexOf(0, z + 3);
  const transEnd = b.indexOf(0, langEnd + 1);
  const raw = b.subarray(transEnd + 1);
  return [key, (b[z + 1] === 1 ? inflateSync(raw) : raw).toString('utf8')];
}

/**
 * What Pillow puts into `Image.info` for a PNG, as far as the simulator models it: the text chunks (`tEXt`,
 * `zTXt`, `iTXt`; later duplicates win), `gamma` (gAMA / 100000) and `srgb` (sRGB intent). Returns `{}` for a
 * non-PNG or a damaged file (bad CRC, truncated); a damaged text chunk is skipped.
 */
export function readPngInfo(buf: Buffer): Record<string, string | number> {
  let chunks: { name: string; data: Uint8Array }[];
  try {
    chunks = extractChunks(buf);
  } catch {
    return {};
  }
  const info: Record<string, string | number> = {};
  const texts: Record<string, string> = {};
  let beforeImage = true;
  for (const { name, data } of chunks) {
    if (name === 'IDAT') beforeImage = false;
    if (beforeImage && name === 'gAMA' && data.length === 4) info['gamma'] = Buffer.from(data).readUInt32BE(0) / 100000;
    if (beforeImage && name === 'sRGB' && data.length === 1) info['srgb'] = data[0];
    if (name !== 'tEXt' && name !== 'zTXt' && name !== 'iTXt') continue;
    try {
      const kv = readText(name, data);
      if (kv) texts[kv[0]] = kv[1];
    } catch {
      // a broken text chunk is skipped, like Pillow does for damaged ancillary chunks
    }
  }
  return { ...info, ...texts };
}
