/**
 * Input images as A1111 reads them (handler/jobs/images/decode.ts): headers of every format `image-size` reads,
 * the base64 rules of `decode_base64_to_image` (data URI prefix, whitespace), the size caps, and the cost.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type LimitsConfig } from '../../handler/config.js';
import { base64Bytes, bufferBytes, checkBase64Image, parseImageHeader, type ImageBytes } from '../../handler/jobs/images/images.js';
import {
  avifHeader,
  b64,
  b64Lines,
  bmpBytes,
  gifBytes,
  icoBytes,
  jpegBytes,
  pngBytes,
  pngHeaderOnly,
  refusal,
  svgBytes,
  tiffBytes,
  webpExtendedBytes,
  webpLosslessBytes,
  webpLossyBytes,
} from './image-fixtures.js';

const LIMITS: LimitsConfig = loadConfig([], {}).limits;
const PNG_64 = b64(pngBytes(64, 64));

/** An ImageBytes that records the head sizes asked for. */
function counting(bytes: Uint8Array): ImageBytes & { asked: number[] } {
  const inner = bufferBytes(bytes);
  const asked: number[] = [];
  return { length: inner.length, asked, head: (n) => (asked.push(n), inner.head(n)) };
}

describe('parseImageHeader (image-size)', () => {
  it.each([
    ['PNG (pngjs)', pngBytes(3, 2), 'PNG', 3, 2],
    ['baseline JPEG', jpegBytes(800, 600), 'JPEG', 800, 600],
    ['progressive JPEG', jpegBytes(1024, 768, { sof: 0xc2 }), 'JPEG', 1024, 768],
    ['JPEG after a 60 KB APP1 segment', jpegBytes(5, 7, { appPadding: 60000 }), 'JPEG', 5, 7],
    ['lossy WebP (VP8)', webpLossyBytes(320, 240), 'WebP', 320, 240],
    ['lossless WebP (VP8L)', webpLosslessBytes(16383, 1), 'WebP', 16383, 1],
    ['extended WebP (VP8X)', webpExtendedBytes(20000, 300), 'WebP', 20000, 300],
    ['GIF', gifBytes(50, 60), 'GIF', 50, 60],
    ['BMP (bottom-up)', bmpBytes(7, 5), 'BMP', 7, 5],
    ['BMP (top-down, negative height)', bmpBytes(7, 5, { topDown: true }), 'BMP', 7, 5],
    ['TIFF (little-endian)', tiffBytes(9, 4), 'TIFF', 9, 4],
    ['TIFF (big-endian)', tiffBytes(9, 4, { bigEndian: true }), 'TIFF', 9, 4],
    ['TIFF with its directory after 90 KB of pixels', tiffBytes(300, 300, { ifdAtEnd: true }), 'TIFF', 300, 300],
    ['ICO', icoBytes(32), 'ICO', 32, 32],
    ['ICO of 256 px (written as 0)', icoBytes(256), 'ICO', 256, 256],
    ['AVIF', avifHeader(640, 480), 'AVIF', 640, 480],
    ['HEIC', avifHeader(64, 48, 'heic'), 'HEIC', 64, 48],
  ])('reads %s', (_name, bytes, format, width, height) => {
    expect(parseImageHeader(bytes)).toEqual({ format, width, height });
  });

  it('refuses what no reader knows, naming the first bytes and the formats read', () => {
    expect(refusal(() => parseImageHeader(Buffer.from('<html><body>')))).toBe(
      'not an image A1111 could open (starts with 3c68746d): formats read are PNG, JPEG, WebP, GIF, BMP, TIFF, ICO, CUR, ICNS, DDS, PSD, TGA, PNM, JPEG 2000, AVIF, HEIF/HEIC, JPEG XL, KTX',
    );
    expect(refusal(() => parseImageHeader(Buffer.from([1])))).toContain('(starts with 01)');
    expect(refusal(() => parseImageHeader(Buffer.alloc(0)))).toContain('(starts with nothing)');
    // A PNG signature without its IHDR chunk is no PNG to the reader.
    expect(refusal(() => parseImageHeader(pngBytes(4, 4).subarray(0, 14)))).toContain('not an image A1111 could open (starts with 89504e47)');
  });

  it('refuses SVG: Pillow cannot read it', () => {
    expect(refusal(() => parseImageHeader(svgBytes(10, 10)))).toBe('an SVG image: A1111 opens images with Pillow, which cannot read SVG');
  });

  it('refuses a known format whose size cannot be read, naming the format', () => {
    const cut = jpegBytes(8, 8).subarray(0, 25); // ends inside the frame header, before height and width
    expect(refusal(() => parseImageHeader(cut))).toBe('a JPEG whose size cannot be read (truncated or corrupt header)');
    // Decoded from base64 into Node's shared Buffer pool: the reader must not read past the end into it.
    for (let i = 0; i < 20; i++) Buffer.from('AAAA'.repeat(100), 'base64').fill(0x11);
    expect(refusal(() => checkBase64Image(b64(cut), LIMITS))).toBe('a JPEG whose size cannot be read (truncated or corrupt header)');
    const tiff = tiffBytes(100, 100, { ifdAtEnd: true });
    expect(refusal(() => parseImageHeader(tiff.subarray(0, 9000)))).toBe('a TIFF whose size cannot be read (truncated or corrupt header)');
    expect(refusal(() => parseImageHeader(avifHeader(1, 1).subarray(0, 30)))).toBe('an AVIF whose size cannot be read (truncated or corrupt header)');
  });

  it('decodes 4 KiB first, and 16 times more only while the reader needs more', () => {
    const png = counting(Buffer.concat([pngHeaderOnly(4096, 4096), Buffer.alloc(15 * 1024 * 1024)]));
    expect(parseImageHeader(png)).toEqual({ format: 'PNG', width: 4096, height: 4096 });
    expect(png.asked).toEqual([4096]);
    const jpeg = counting(jpegBytes(5, 7, { appPadding: 60000 }));
    parseImageHeader(jpeg);
    expect(jpeg.asked).toEqual([4096, 65536]);
    const tiff = counting(tiffBytes(600, 600, { ifdAtEnd: true }));
    parseImageHeader(tiff);
    expect(tiff.asked).toEqual([4096, 65536, 1048576]);
  });

  it('base64Bytes decodes exactly the head asked for, with or without whitespace', () => {
    const bytes = tiffBytes(100, 100, { ifdAtEnd: true });
    for (const text of [b64(bytes), b64Lines(bytes), b64Lines(bytes, '\n'), ` ${b64(bytes).replace(/(.{10})/g, '$1 \t')}`]) {
      const src = base64Bytes(text, bytes.length);
      for (const n of [0, 1, 2, 3, 4, 100, 4096, bytes.length - 1, bytes.length, bytes.length + 10]) {
        expect(Buffer.from(src.head(n))).toEqual(bytes.subarray(0, n));
      }
    }
  });
});

describe('checkBase64Image: the data URI prefix A1111 strips', () => {
  it('accepts raw base64 and data:image/<any subtype>;base64, (A1111 ignores the subtype)', () => {
    expect(checkBase64Image(PNG_64, LIMITS)).toMatchObject({ format: 'PNG', width: 64, height: 64 });
    for (const mime of ['png', 'jpeg', 'jpg', 'webp', 'gif', 'bmp', 'tiff', 'avif', 'x-icon', 'PNG', '']) {
      expect(checkBase64Image(`data:image/${mime};base64,${PNG_64}`, LIMITS).format).toBe('PNG');
    }
    expect(checkBase64Image(`data:image/gif;base64,${b64(gifBytes(10, 20))}`, LIMITS)).toMatchObject({ format: 'GIF', width: 10, height: 20 });
    expect(checkBase64Image(`data:image/bmp;base64,${b64(bmpBytes(3, 4))}`, LIMITS)).toMatchObject({ format: 'BMP', width: 3, height: 4 });
    expect(checkBase64Image(`data:image/tiff;base64,${b64(tiffBytes(5, 6))}`, LIMITS)).toMatchObject({ format: 'TIFF', width: 5, height: 6 });
    expect(checkBase64Image(`data:image/x-icon;base64,${b64(icoBytes(16))}`, LIMITS)).toMatchObject({ format: 'ICO', width: 16 });
    expect(checkBase64Image(`data:image/avif;base64,${b64(avifHeader(512, 256))}`, LIMITS)).toMatchObject({ format: 'AVIF', width: 512, height: 256 });
  });

  it('refuses prefixes A1111 would not strip or would fail on', () => {
    expect(refusal(() => checkBase64Image(`data:text/html;base64,${PNG_64}`, LIMITS))).toBe(
      'data URI prefix "data:text/html;base64," is not accepted: A1111 strips only data:image/<type>;base64, (e.g. data:image/png;base64,)',
    );
    // A1111: "data:image/png,x".split(";")[1] is an IndexError; two parameters leave "name=a.png" as the image.
    expect(refusal(() => checkBase64Image(`data:image/png,${PNG_64}`, LIMITS))).toContain('is not accepted');
    expect(refusal(() => checkBase64Image(`data:image/png;name=a.png;base64,${PNG_64}`, LIMITS))).toContain('is not accepted');
    expect(refusal(() => checkBase64Image(`DATA:image/png;base64,${PNG_64}`, LIMITS))).toMatch(/^a "DATA:" URL is not accepted/);
    expect(refusal(() => checkBase64Image('data:image/png;base64,', LIMITS))).toBe('is empty after the data URI prefix');
    expect(refusal(() => checkBase64Image('data:image/png;base64,\r\n', LIMITS))).toBe('is empty after the data URI prefix');
  });

  it('refuses URLs of other schemes and anything with a scheme', () => {
    for (const v of ['file:///etc/passwd', 'ftp://example.com/a.png', 'gopher://x', 'HTTP://example.com/a.png', 'javascript:alert(1)']) {
      expect(refusal(() => checkBase64Image(v, LIMITS))).toMatch(/^a ".+:" URL is not accepted: send base64/);
    }
  });
});

describe('checkBase64Image: the base64 text', () => {
  it('accepts whitespace anywhere (dropped by b64decode): MIME lines, spaces, tabs, padding split by a line break', () => {
    const bytes = pngBytes(100, 30);
    const want = { format: 'PNG', width: 100, height: 30, bytes: bytes.length };
    expect(checkBase64Image(b64Lines(bytes), LIMITS)).toEqual(want);
    expect(checkBase64Image(b64Lines(bytes, '\n'), LIMITS)).toEqual(want);
    expect(checkBase64Image(`data:image/png;base64,\n${b64Lines(bytes)}`, LIMITS)).toEqual(want);
    expect(checkBase64Image(`  ${b64(bytes).replace(/(.{7})/g, '$1 \t')}  `, LIMITS)).toEqual(want);
    const padded = b64(Buffer.concat([pngHeaderOnly(2, 2), Buffer.alloc(7)])); // 40 bytes: "…=="
    expect(padded.endsWith('==')).toBe(true);
    expect(checkBase64Image(`${padded.slice(0, -1)}\r\n=\r\n`, LIMITS).bytes).toBe(40);
  });

  it('reports the decoded size exactly, for every padding', () => {
    for (const n of [40, 41, 42]) {
      const bytes = Buffer.concat([pngHeaderOnly(2, 2), Buffer.alloc(n - 33)]);
      expect(checkBase64Image(b64(bytes), LIMITS).bytes).toBe(n);
      expect(checkBase64Image(b64Lines(bytes), LIMITS).bytes).toBe(n);
    }
  });

  it('refuses the URL-safe alphabet and other characters b64decode would drop', () => {
    expect(refusal(() => checkBase64Image('iVBO-w0K', LIMITS))).toContain('URL-safe alphabet ("-" at offset 4)');
    expect(refusal(() => checkBase64Image('iVBO_w0K', LIMITS))).toContain('URL-safe alphabet ("_" at offset 4)');
    expect(refusal(() => checkBase64Image('iVBO*w0K', LIMITS))).toBe('is not valid base64: "*" at offset 4 is not a base64 character');
    expect(refusal(() => checkBase64Image('iVBO\u0000w0K', LIMITS))).toContain('"\\u0000" at offset 4');
    expect(refusal(() => checkBase64Image('iVBO😀w0', LIMITS))).toContain('"😀" at offset 4');
    expect(refusal(() => checkBase64Image('iVBO\u00a0w0K', LIMITS))).toContain('"\u00a0" at offset 4 is not a base64 character');
    expect(refusal(() => checkBase64Image('data:image/png;base64,iV\nB*', LIMITS))).toContain('"*" at offset 26');
  });

  it('applies the padding rules to the base64 characters (whitespace not counted)', () => {
    expect(refusal(() => checkBase64Image('iVBORw0KGgo', LIMITS))).toBe('is not valid base64: 11 characters is not a multiple of 4 (missing "=" padding?)');
    expect(refusal(() => checkBase64Image('iVBO\r\nRw0K\r\nGgo\r\n', LIMITS))).toContain('11 characters is not a multiple of 4');
    expect(refusal(() => checkBase64Image('iVB=Rw0K', LIMITS))).toBe('is not valid base64: "=" padding at offset 3, before the end');
    expect(refusal(() => checkBase64Image('iVBORw0KGg===', LIMITS))).toContain('"=" padding at offset 10, before the end');
    expect(refusal(() => checkBase64Image(' \r\n\t', LIMITS))).toBe('is empty (no base64 characters)');
    expect(refusal(() => checkBase64Image('', LIMITS))).toBe('is empty (no base64 characters)');
  });

  it('caps the decoded size at MAX_INPUT_IMAGE_BYTES without decoding', () => {
    const big = Buffer.concat([pngHeaderOnly(100, 100), Buffer.alloc(2000)]);
    const small = { ...LIMITS, maxInputImageBytes: 1024 };
    expect(refusal(() => checkBase64Image(b64(big), small))).toBe(`${big.length} bytes decoded, over MAX_INPUT_IMAGE_BYTES=1024`);
    expect(refusal(() => checkBase64Image(b64Lines(big), small))).toBe(`${big.length} bytes decoded, over MAX_INPUT_IMAGE_BYTES=1024`);
    expect(checkBase64Image(b64(big), { ...small, maxInputImageBytes: big.length }).bytes).toBe(big.length);
  });

  it('caps each side at MAX_IMAGE_SIDE in every format, and refuses 0 px', () => {
    expect(refusal(() => checkBase64Image(b64(pngHeaderOnly(9000, 512)), LIMITS))).toBe('PNG of 9000 × 512 px is over MAX_IMAGE_SIDE=8192');
    expect(refusal(() => checkBase64Image(b64(jpegBytes(100, 8193)), LIMITS))).toBe('JPEG of 100 × 8193 px is over MAX_IMAGE_SIDE=8192');
    expect(refusal(() => checkBase64Image(b64(webpExtendedBytes(10000, 10)), LIMITS))).toBe('WebP of 10000 × 10 px is over MAX_IMAGE_SIDE=8192');
    expect(refusal(() => checkBase64Image(b64(gifBytes(9000, 1)), LIMITS))).toBe('GIF of 9000 × 1 px is over MAX_IMAGE_SIDE=8192');
    expect(refusal(() => checkBase64Image(b64(bmpBytes(1, 70000, { headerOnly: true })), LIMITS))).toBe('BMP of 1 × 70000 px is over MAX_IMAGE_SIDE=8192');
    expect(refusal(() => checkBase64Image(b64(tiffBytes(8200, 1)), LIMITS))).toBe('TIFF of 8200 × 1 px is over MAX_IMAGE_SIDE=8192');
    expect(refusal(() => checkBase64Image(b64(avifHeader(16384, 16384)), LIMITS))).toBe('AVIF of 16384 × 16384 px is over MAX_IMAGE_SIDE=8192');
    expect(refusal(() => checkBase64Image(b64(pngHeaderOnly(0, 10)), LIMITS))).toBe('PNG of 0 × 10 px: width and height must be at least 1 px');
    expect(refusal(() => checkBase64Image(b64(gifBytes(10, 0)), LIMITS))).toBe('GIF of 10 × 0 px: width and height must be at least 1 px');
    expect(refusal(() => checkBase64Image(b64(pngHeaderOnly(0xffffffff, 1)), LIMITS))).toContain('PNG of 4294967295 × 1 px is over');
    expect(checkBase64Image(b64(pngHeaderOnly(8192, 8192)), LIMITS)).toMatchObject({ width: 8192, height: 8192 });
    expect(checkBase64Image(b64(pngHeaderOnly(9000, 9000)), { ...LIMITS, maxImageSide: 9000 })).toMatchObject({ width: 9000 });
  });

  it('reads 15 MB images, raw and in MIME lines: header, size and decoded bytes (speed belongs to npm run bench)', () => {
    const big = Buffer.concat([pngHeaderOnly(4096, 4096), Buffer.alloc(15 * 1024 * 1024)]);
    for (const text of [b64(big), b64Lines(big)]) {
      expect(checkBase64Image(text, LIMITS)).toEqual({ format: 'PNG', width: 4096, height: 4096, bytes: big.length });
    }
  });
});
