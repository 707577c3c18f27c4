/**
 * Input images of a job: what the image-carrying fields may hold, checked after the JSON Schema and before
 * A1111 is called (issue 4 "Bad input", A1111 spec §2.6, §2.7, §2.10, §2.13).
 *
 * Image fields: img2img `init_images[i]`, `mask` and `latent_mask`; txt2img and img2img `firstpass_image`;
 * interrogate, png-info and extra-single-image `image`; extra-batch-images `imageList[i].data`.
 *
 * Each must be one of:
 * - **base64**: raw, or after a `data:image/png;base64,` prefix (also `jpeg`, `jpg`, `webp`; lower case, as
 *   written by browsers). Only the standard alphabet `A–Z a–z 0–9 + /`, with `=` padding to a multiple of 4
 *   characters. **Whitespace (line breaks of `base64` without `-w0`, spaces) is refused, not stripped**: the
 *   worker never rewrites a payload (A1111 receives exactly what was sent), and refusing keeps what is checked
 *   identical to what A1111 decodes. The URL-safe alphabet (`-`, `_`) is refused too: A1111's
 *   `base64.b64decode` would silently drop those characters and decode garbage. The decoded bytes must be at
 *   most `MAX_INPUT_IMAGE_BYTES` and start with a PNG, JPEG or WebP header whose width and height are 1 to
 *   `MAX_IMAGE_SIDE` px (PNG `IHDR`, JPEG `SOFn`, WebP `VP8 `/`VP8L`/`VP8X`). Only the bytes the header
 *   needs are decoded (random access into the base64 text), never the whole image.
 * - **an `http://` or `https://` URL** (A1111 fetches those itself, §2.10), only when `ALLOW_IMAGE_URLS=true`,
 *   and then only when the URL is plain (no credentials, no `%`/`\`/whitespace, host of letters, digits, `.`,
 *   `-` or a bracketed IPv6 literal) and its host — a literal IP, or every address a DNS lookup returns — is a
 *   public unicast address (see {@link nonPublicReason}). The check is made when the job arrives; A1111
 *   fetches the URL later and resolves the name again, so **DNS rebinding between the two lookups is not
 *   prevented here**: that stays the job of A1111's own `api_forbid_local_requests` setting (default on),
 *   which the settings allow-list keeps any job from turning off.
 *
 * Strings starting with `http://` or `https://` anywhere inside `alwayson_scripts` and `script_args` get the
 * same URL policy: extensions such as ControlNet pass their image arguments through A1111's
 * `decode_base64_to_image`, which fetches URLs.
 *
 * Empty `mask`, `latent_mask` and `firstpass_image` strings mean "none" to A1111 and are not checked.
 */
import dns from 'node:dns';
import net from 'node:net';
import type { LimitsConfig } from '../config.js';
import { JobInputError } from './errors.js';
import { appendIndex, appendKey, oneLineJson, showValue } from './format.js';
import type { RouteSpec } from './routes.js';

/** Why one image (or URL) was refused; the caller adds the field path. */
export class ImageRefusal extends Error {
  override name = 'ImageRefusal';
}

/** Image formats accepted. */
export type ImageFormat = 'PNG' | 'JPEG' | 'WebP';

/** What an image header says. */
export interface ImageHeader {
  format: ImageFormat;
  /** px */
  width: number;
  /** px */
  height: number;
}

/** A checked base64 image. */
export interface Base64ImageInfo extends ImageHeader {
  /** Decoded size in bytes. */
  bytes: number;
}

/** Random access to decoded bytes. */
export interface ByteSource {
  /** Total number of bytes. */
  readonly length: number;
  /** Bytes `[offset, offset + length)`, shorter at the end of the data (empty past it). */
  read(offset: number, length: number): Uint8Array;
}

/** One image-carrying value of a payload. */
export interface ImageField {
  /** Field path, e.g. `init_images[1]`, `imageList[0].data`, `alwayson_scripts.controlnet.args[0].image`. */
  path: string;
  value: string;
}

/** Resolves a host name to all its addresses (as `dns.promises.lookup(host, {all: true})`). */
export type HostLookup = (hostname: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

/** Options of {@link checkImages} and {@link checkImageUrl}. */
export interface ImageCheckOptions {
  /** Host resolution; default {@link systemLookup}. Tests inject their own. */
  lookup?: HostLookup;
  /** Aborts pending DNS lookups (job stopped). */
  signal?: AbortSignal;
  /** Deadline of one DNS lookup in ms; default {@link DNS_TIMEOUT_MS}. */
  dnsTimeoutMs?: number;
}

/** Default deadline of the DNS lookup of an image URL's host, ms. */
export const DNS_TIMEOUT_MS = 5000;

/** Longest image URL accepted, characters. */
export const MAX_IMAGE_URL_LENGTH = 2048;

/** At most this many refused images are listed in one message; the rest are counted. */
const MAX_LISTED = 50;

/** `dns.promises.lookup(host, {all: true, verbatim: true})`: the system resolver, as A1111's `requests` uses. */
export const systemLookup: HostLookup = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** The data URI prefixes accepted (A1111 strips any `data:image/…;base64,` prefix, §2.10). */
const DATA_URI = /^data:image\/(?:png|jpeg|jpg|webp);base64,/;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/** True when A1111 would fetch the value as a URL (its own, case-sensitive prefix test, §2.10). */
export function isHttpUrl(value: string): boolean {
  return value.startsWith('http://') || value.startsWith('https://');
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** A {@link ByteSource} over decoded bytes in memory. */
export function bufferSource(bytes: Uint8Array): ByteSource {
  return { length: bytes.length, read: (offset, length) => bytes.subarray(Math.max(0, offset), Math.max(0, offset + length)) };
}

/**
 * A {@link ByteSource} over base64 text that decodes only the 4-character groups covering each read.
 * @param body standard base64 with correct padding (already checked).
 * @param length decoded size in bytes.
 */
export function base64Source(body: string, length: number): ByteSource {
  return {
    length,
    read(offset, count) {
      const start = Math.max(0, offset);
      const end = Math.min(length, offset + count);
      if (end <= start) return new Uint8Array(0);
      const firstGroup = Math.floor(start / 3);
      const lastGroup = Math.ceil(end / 3);
      const chunk = Buffer.from(body.slice(firstGroup * 4, lastGroup * 4), 'base64');
      return chunk.subarray(start - firstGroup * 3, end - firstGroup * 3);
    },
  };
}

function u16be(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}

function u32be(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  return sig.every((v, i) => b[at + i] === v);
}

function ascii(b: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...b.subarray(from, to));
}

function parsePng(head: Uint8Array): ImageHeader {
  // Signature, then the IHDR chunk: length 13, type "IHDR", width and height (big-endian uint32).
  if (head.length < 24 || u32be(head, 8) !== 13 || ascii(head, 12, 16) !== 'IHDR') {
    throw new ImageRefusal('PNG without a valid IHDR header (truncated or corrupt)');
  }
  return { format: 'PNG', width: u32be(head, 16), height: u32be(head, 20) };
}

/** SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Most segments walked before the frame header; more means a crafted file. */
const MAX_JPEG_SEGMENTS = 10_000;
/** Most 0xFF fill bytes accepted before one marker. */
const MAX_JPEG_FILL = 1024;

function parseJpeg(src: ByteSource): ImageHeader {
  const truncated = (): ImageRefusal => new ImageRefusal('JPEG ends before its frame header (SOFn): truncated');
  let off = 2;
  for (let n = 0; n < MAX_JPEG_SEGMENTS; n++) {
    const first = src.read(off, 1)[0];
    if (first === undefined) throw truncated();
    if (first !== 0xff) throw new ImageRefusal(`JPEG with a corrupt segment structure (no marker at byte ${off})`);
    let marker: number | undefined;
    let fill = 0;
    do {
      off++;
      marker = src.read(off, 1)[0];
      if (++fill > MAX_JPEG_FILL) throw new ImageRefusal(`JPEG with a corrupt segment structure (fill bytes at byte ${off})`);
    } while (marker === 0xff);
    if (marker === undefined) throw truncated();
    off++;
    // Standalone markers (no length): TEM, RST0–7, a repeated SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker === 0xd9 || marker === 0xda) throw new ImageRefusal('JPEG without a frame header (SOFn) before its image data');
    const seg = src.read(off, 7);
    if (seg.length < 2) throw truncated();
    const len = u16be(seg, 0);
    if (len < 2) throw new ImageRefusal(`JPEG with a corrupt segment length at byte ${off}`);
    if (isStartOfFrame(marker)) {
      if (seg.length < 7 || len < 8) throw truncated();
      // Segment: length (2), sample precision (1), height (2), width (2).
      return { format: 'JPEG', width: u16be(seg, 5), height: u16be(seg, 3) };
    }
    off += len;
  }
  throw new ImageRefusal(`JPEG with more than ${MAX_JPEG_SEGMENTS} segments before its frame header`);
}

function parseWebp(head: Uint8Array): ImageHeader {
  const bad = (): ImageRefusal => new ImageRefusal('WebP without a valid VP8/VP8L/VP8X header (truncated or corrupt)');
  const chunk = head.length >= 16 ? ascii(head, 12, 16) : '';
  if (chunk === 'VP8 ') {
    // Frame tag (3 bytes, bit 0 = 0 for a key frame), start code 9D 01 2A, 14-bit width and height (LE).
    if (head.length < 30 || (head[20]! & 1) !== 0 || !startsWith(head, [0x9d, 0x01, 0x2a], 23)) throw bad();
    return { format: 'WebP', width: (head[26]! | (head[27]! << 8)) & 0x3fff, height: (head[28]! | (head[29]! << 8)) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    // Signature 0x2F, then 14 bits width − 1, 14 bits height − 1 (LE bit stream).
    if (head.length < 25 || head[20] !== 0x2f) throw bad();
    const bits = (head[21]! | (head[22]! << 8) | (head[23]! << 16) | (head[24]! << 24)) >>> 0;
    return { format: 'WebP', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    // Flags (1), reserved (3), canvas width − 1 (24-bit LE), canvas height − 1 (24-bit LE).
    if (head.length < 30) throw bad();
    return {
      format: 'WebP',
      width: 1 + (head[24]! | (head[25]! << 8) | (head[26]! << 16)),
      height: 1 + (head[27]! | (head[28]! << 8) | (head[29]! << 16)),
    };
  }
  throw bad();
}

/**
 * Reads the format and size of an image from its first bytes (PNG `IHDR`; JPEG: the segments up to the
 * first `SOFn`; WebP: the `VP8 `, `VP8L` or `VP8X` chunk header). Does not check the sizes against limits.
 * @param source the decoded bytes, or a {@link ByteSource} that decodes on demand.
 * @throws ImageRefusal `not a PNG, JPEG or WebP image (starts with 3c68746d)` (the first 4 bytes in hex), or a
 *   reason naming the format when its header is truncated or corrupt.
 */
export function parseImageHeader(source: Uint8Array | ByteSource): ImageHeader {
  const src = source instanceof Uint8Array ? bufferSource(source) : source;
  const head = src.read(0, 32);
  if (startsWith(head, PNG_SIGNATURE)) return parsePng(head);
  if (startsWith(head, [0xff, 0xd8, 0xff])) return parseJpeg(src);
  if (head.length >= 12 && ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return parseWebp(head);
  throw new ImageRefusal(`not a PNG, JPEG or WebP image (starts with ${hex(head.subarray(0, 4)) || 'nothing'})`);
}

/**
 * Checks one base64 image string (raw or data URI; URLs are not handled here) and its header.
 * @param value the field's string.
 * @param limits `maxInputImageBytes` (decoded size, bytes) and `maxImageSide` (px).
 * @returns format, width, height and decoded size.
 * @throws ImageRefusal with the reason, e.g. `contains whitespace at offset 76 …`,
 *   `17825792 bytes decoded, over MAX_INPUT_IMAGE_BYTES=16777216`, `PNG of 9000 × 512 px is over MAX_IMAGE_SIDE=8192`.
 */
export function checkBase64Image(value: string, limits: Pick<LimitsConfig, 'maxInputImageBytes' | 'maxImageSide'>): Base64ImageInfo {
  let prefixLength = 0;
  if (value.startsWith('data:')) {
    const m = DATA_URI.exec(value);
    if (!m) {
      const comma = value.indexOf(',');
      const prefix = comma >= 0 && comma < 100 ? value.slice(0, comma + 1) : value.slice(0, 40);
      throw new ImageRefusal(`data URI prefix ${showValue(prefix)} is not accepted: use data:image/png;base64, (or jpeg, jpg, webp)`);
    }
    prefixLength = m[0].length;
  } else {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]{0,30}):/.exec(value);
    if (scheme) {
      throw new ImageRefusal(
        `a ${oneLineJson(scheme[1] + ':')} URL is not accepted: send base64 (raw or data:image/png;base64,…); only http:// and https:// URLs can be enabled (ALLOW_IMAGE_URLS)`,
      );
    }
  }
  const body = prefixLength ? value.slice(prefixLength) : value;
  if (body.length === 0) throw new ImageRefusal('is empty after the data URI prefix');
  if (!BASE64_BODY.test(body)) {
    const at = body.search(/[^A-Za-z0-9+/=]/);
    if (at < 0) throw new ImageRefusal(`is not valid base64: "=" padding at offset ${prefixLength + body.indexOf('=')}, before the end`);
    const c = body[at]!;
    const where = `at offset ${prefixLength + at}`;
    if (/\s/.test(c)) {
      throw new ImageRefusal(`is not valid base64: whitespace ${oneLineJson(c)} ${where}; send base64 on one line without spaces (e.g. base64 -w0)`);
    }
    if (c === '-' || c === '_') {
      throw new ImageRefusal(`is not valid base64: URL-safe alphabet (${oneLineJson(c)} ${where}); use standard base64 with + and /`);
    }
    const ch = String.fromCodePoint(body.codePointAt(at)!);
    throw new ImageRefusal(`is not valid base64: ${oneLineJson(ch)} ${where} is not a base64 character`);
  }
  if (body.length % 4 !== 0) {
    throw new ImageRefusal(`is not valid base64: ${body.length} characters is not a multiple of 4 (missing "=" padding?)`);
  }
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  const bytes = (body.length / 4) * 3 - padding;
  if (bytes > limits.maxInputImageBytes) {
    throw new ImageRefusal(`${bytes} bytes decoded, over MAX_INPUT_IMAGE_BYTES=${limits.maxInputImageBytes}`);
  }
  const header = parseImageHeader(base64Source(body, bytes));
  const { format, width, height } = header;
  if (width < 1 || height < 1) throw new ImageRefusal(`${format} of ${width} × ${height} px: width and height must be at least 1 px`);
  if (width > limits.maxImageSide || height > limits.maxImageSide) {
    throw new ImageRefusal(`${format} of ${width} × ${height} px is over MAX_IMAGE_SIDE=${limits.maxImageSide}`);
  }
  return { ...header, bytes };
}

// ---------------------------------------------------------------------------------------------------------
// Addresses

/** `a.b.c.d` → 32-bit number, undefined when not a dotted-quad IPv4. */
function parseIPv4(s: string): number | undefined {
  if (net.isIPv4(s) === false) return undefined;
  const p = s.split('.').map(Number);
  return (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0);
}

/** IPv6 text (optionally with an embedded IPv4 tail; no zone) → 8 hextets. */
function parseIPv6(s: string): number[] | undefined {
  if (!net.isIPv6(s)) return undefined;
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (v4 === undefined) return undefined;
    tail.push(v4 >>> 16, v4 & 0xffff);
    // Drop the dotted tail: "::ffff:1.2.3.4" → "::ffff", "::1.2.3.4" → "::".
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const given = head.length + rest.length + tail.length;
  const zeros = halves.length === 2 ? 8 - given : 0;
  if (zeros < 0) return undefined;
  const out = [...head, ...Array<number>(zeros).fill(0), ...rest, ...tail];
  return out.length === 8 && out.every((h) => Number.isInteger(h) && h >= 0 && h <= 0xffff) ? out : undefined;
}

const IPV4_RANGES: ReadonlyArray<readonly [number, number, string]> = (
  [
    ['0.0.0.0', 8, '"this network" 0.0.0.0/8'],
    ['10.0.0.0', 8, 'private 10.0.0.0/8'],
    ['100.64.0.0', 10, 'carrier-grade NAT 100.64.0.0/10'],
    ['127.0.0.0', 8, 'loopback 127.0.0.0/8'],
    ['169.254.0.0', 16, 'link-local 169.254.0.0/16'],
    ['172.16.0.0', 12, 'private 172.16.0.0/12'],
    ['192.0.0.0', 24, 'IETF protocol assignments 192.0.0.0/24'],
    ['192.0.2.0', 24, 'documentation 192.0.2.0/24'],
    ['192.88.99.0', 24, '6to4 relay anycast 192.88.99.0/24'],
    ['192.168.0.0', 16, 'private 192.168.0.0/16'],
    ['198.18.0.0', 15, 'benchmarking 198.18.0.0/15'],
    ['198.51.100.0', 24, 'documentation 198.51.100.0/24'],
    ['203.0.113.0', 24, 'documentation 203.0.113.0/24'],
    ['224.0.0.0', 4, 'multicast 224.0.0.0/4'],
    ['255.255.255.255', 32, 'broadcast 255.255.255.255'],
    ['240.0.0.0', 4, 'reserved 240.0.0.0/4'],
  ] as const
).map(([base, bits, label]) => [parseIPv4(base)!, bits, label] as const);

function ipv4Reason(v4: number): string | undefined {
  for (const [base, bits, label] of IPV4_RANGES) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (((v4 & mask) >>> 0) === base) return label;
  }
  return undefined;
}

function v4Text(hi: number, lo: number): string {
  return [hi >>> 8, hi & 0xff, lo >>> 8, lo & 0xff].join('.');
}

/** True when the first `bits` bits of `h` equal those of `prefix` (hextets). */
function inPrefix(h: readonly number[], prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const take = Math.min(16, bits);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((h[i]! & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

function ipv6Reason(h: readonly number[]): string | undefined {
  if (h.every((x) => x === 0)) return 'unspecified ::';
  if (h.slice(0, 7).every((x) => x === 0) && h[7] === 1) return 'loopback ::1';
  if (inPrefix(h, [0, 0, 0, 0, 0, 0xffff], 96)) {
    const inner = ipv4Reason(((h[6]! << 16) | h[7]!) >>> 0);
    return inner ? `IPv4-mapped ${v4Text(h[6]!, h[7]!)}, ${inner}` : undefined;
  }
  if (inPrefix(h, [0x64, 0xff9b], 96)) {
    const inner = ipv4Reason(((h[6]! << 16) | h[7]!) >>> 0);
    return inner ? `NAT64 of ${v4Text(h[6]!, h[7]!)}, ${inner}` : undefined;
  }
  if (inPrefix(h, [0x2002], 16)) {
    const inner = ipv4Reason(((h[1]! << 16) | h[2]!) >>> 0);
    return inner ? `6to4 of ${v4Text(h[1]!, h[2]!)}, ${inner}` : undefined;
  }
  const ranges: ReadonlyArray<readonly [readonly number[], number, string]> = [
    [[0x64, 0xff9b, 1], 48, 'local-use NAT64 64:ff9b:1::/48'],
    [[0x100], 64, 'discard-only 100::/64'],
    [[0x2001, 0xdb8], 32, 'documentation 2001:db8::/32'],
    [[0x2001], 23, 'IETF protocol assignments 2001::/23 (Teredo, benchmarking…)'],
    [[0x3fff], 20, 'documentation 3fff::/20'],
    [[0xfc00], 7, 'unique local fc00::/7'],
    [[0xfe80], 10, 'link-local fe80::/10'],
    [[0xfec0], 10, 'site-local fec0::/10'],
    [[0xff00], 8, 'multicast ff00::/8'],
  ];
  for (const [prefix, bits, label] of ranges) if (inPrefix(h, prefix, bits)) return label;
  if (!inPrefix(h, [0x2000], 3)) return 'reserved (outside global unicast 2000::/3)';
  return undefined;
}

/**
 * Why an IP address is not a public unicast address, or `undefined` when it is one.
 *
 * Refused (IANA special-purpose registries): IPv4 0/8, 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16,
 * 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24,
 * 224/4 (multicast), 240/4 (reserved) and 255.255.255.255; IPv6 `::`, `::1`, everything outside 2000::/3
 * (so fc00::/7 ULA, fe80::/10 link-local, ff00::/8 multicast, the rest of ::/8), 2001::/23, 2001:db8::/32,
 * 3fff::/20, 64:ff9b:1::/48; IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
 * (`2002:AABB:CCDD::`) addresses are judged by the IPv4 address they carry.
 *
 * @param address an IPv4 or IPv6 literal (IPv6 without brackets; a `%zone` suffix is ignored).
 * @returns e.g. `loopback 127.0.0.0/8`, `IPv4-mapped 10.0.0.1, private 10.0.0.0/8`, or `not an IP address`.
 */
export function nonPublicReason(address: string): string | undefined {
  const v4 = parseIPv4(address);
  if (v4 !== undefined) return ipv4Reason(v4);
  const h = parseIPv6(address.replace(/%.*$/, ''));
  if (h) return ipv6Reason(h);
  return 'not an IP address';
}

// ---------------------------------------------------------------------------------------------------------
// URLs

const AUTHORITY = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** `lookup(host)`, refused with an ImageRefusal after `timeoutMs` or when `signal` aborts. */
async function lookupWithDeadline(
  lookup: HostLookup,
  host: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ReadonlyArray<{ address: string; family: number }>> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      lookup(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ImageRefusal(`DNS lookup of ${JSON.stringify(host)} took longer than ${timeoutMs} ms`)), timeoutMs);
        if (signal) {
          onAbort = () => reject(new ImageRefusal('the job was stopped while the URL host was being resolved'));
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Checks an `http://`/`https://` image URL under the policy of `ALLOW_IMAGE_URLS=true` (the caller checks
 * that URLs are allowed at all): at most {@link MAX_IMAGE_URL_LENGTH} characters; no whitespace, control
 * characters or backslashes; an authority of just `host[:port]` (no `user:password@`, no `%`-escapes, host of
 * ASCII letters, digits, `.`, `-`, or a bracketed IPv6 literal) — so that this check and A1111's `requests`
 * cannot parse different hosts from it; a host that is not `localhost`/`*.localhost` and whose addresses are
 * all public unicast ({@link nonPublicReason}): an IP literal is judged as is (WHATWG forms such as `0x7f.1`
 * or `2130706433` are normalised first), a name by every address `lookup` returns.
 *
 * A1111 fetches the URL later and resolves the name again: DNS rebinding is left to A1111's
 * `api_forbid_local_requests` (kept on, see settings.ts).
 *
 * @throws ImageRefusal naming what is wrong, e.g. `URL host "127.0.0.1" is loopback 127.0.0.0/8: only public addresses are allowed`.
 */
export async function checkImageUrl(url: string, opts: ImageCheckOptions = {}): Promise<void> {
  if (url.length > MAX_IMAGE_URL_LENGTH) throw new ImageRefusal(`URL is longer than ${MAX_IMAGE_URL_LENGTH} characters`);
  if (!isHttpUrl(url)) throw new ImageRefusal('only http:// and https:// URLs are accepted');
  const bad = /[\s\\\u0000-\u001f\u007f]/.exec(url);
  if (bad) throw new ImageRefusal(`URL contains ${oneLineJson(bad[0])} at offset ${bad.index}: whitespace, control characters and backslashes are not accepted`);
  const afterScheme = url.slice(url.indexOf('//') + 2);
  const authority = afterScheme.slice(0, afterScheme.search(/[/?#]|$/));
  if (authority.includes('@')) throw new ImageRefusal('URL carries credentials (user:password@host): not accepted in image URLs');
  if (!AUTHORITY.test(authority)) {
    throw new ImageRefusal(`URL host ${showValue(authority)} is not accepted: use host[:port] with letters, digits, "." and "-", or [IPv6]`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ImageRefusal('is not a valid URL');
  }
  if (parsed.username || parsed.password) throw new ImageRefusal('URL carries credentials (user:password@host): not accepted in image URLs');
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === '' || host.length > 253) throw new ImageRefusal('URL has no valid host');
  // The host as written, and as WHATWG normalised it when that differs (`0x7f.1` → 127.0.0.1).
  const written = authority.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const shown = written === host ? JSON.stringify(host) : `${JSON.stringify(written)} (${host})`;
  if (host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.') {
    throw new ImageRefusal(`URL host ${shown} is loopback (localhost): only public addresses are allowed`);
  }
  if (net.isIP(host)) {
    const why = nonPublicReason(host);
    if (why) throw new ImageRefusal(`URL host ${shown} is ${why}: only public addresses are allowed`);
    return;
  }
  let addresses: ReadonlyArray<{ address: string; family: number }>;
  try {
    addresses = await lookupWithDeadline(opts.lookup ?? systemLookup, host, opts.dnsTimeoutMs ?? DNS_TIMEOUT_MS, opts.signal);
  } catch (e) {
    if (e instanceof ImageRefusal) throw e;
    const code = (e as { code?: unknown }).code;
    throw new ImageRefusal(`URL host ${shown} does not resolve${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  if (addresses.length === 0) throw new ImageRefusal(`URL host ${shown} does not resolve (no addresses)`);
  for (const { address } of addresses) {
    const why = nonPublicReason(address);
    if (why) throw new ImageRefusal(`URL host ${shown} resolves to ${address}, ${why}: only public addresses are allowed`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Fields

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(obj: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * The image-carrying strings of a payload, in field order (see the module comment for the fields per
 * route). Values that are not strings (the schema refuses them) and empty optional images (`mask`,
 * `latent_mask`, `firstpass_image`: "none" for A1111) are left out.
 */
export function imageFields(route: RouteSpec, payload: Readonly<Record<string, unknown>>): ImageField[] {
  const out: ImageField[] = [];
  const optional = (key: string): void => {
    const v = own(payload, key);
    if (typeof v === 'string' && v !== '') out.push({ path: key, value: v });
  };
  switch (route.schema) {
    case 'img2img': {
      const init = own(payload, 'init_images');
      if (Array.isArray(init)) init.forEach((v, i) => typeof v === 'string' && out.push({ path: appendIndex('init_images', i), value: v }));
      optional('mask');
      optional('latent_mask');
      optional('firstpass_image');
      break;
    }
    case 'txt2img':
      optional('firstpass_image');
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
      break;
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
 * Checks every input image of a validated payload (run after the JSON Schema, before A1111 is called):
 * base64 form, decoded size, header and dimensions of each image; the URL policy for image URLs and for
 * URLs in script arguments. DNS lookups (only with `allowImageUrls`) run in parallel.
 *
 * @param route the resolved route; routes without images return at once.
 * @param payload the payload that passed `validatePayload`.
 * @param limits `allowImageUrls` (`ALLOW_IMAGE_URLS`), `maxInputImageBytes` (`MAX_INPUT_IMAGE_BYTES`, bytes),
 *   `maxImageSide` (`MAX_IMAGE_SIDE`, px).
 * @param opts DNS resolution (tests inject `lookup`), abort signal, DNS deadline.
 * @throws JobInputError with one line naming every refused field, e.g. `invalid payload for POST
 *   /sdapi/v1/img2img: init_images[1]: not a PNG, JPEG or WebP image (starts with 3c68746d)`.
 */
export async function checkImages(route: RouteSpec, payload: unknown, limits: LimitsConfig, opts: ImageCheckOptions = {}): Promise<void> {
  if (route.schema === null || !isObject(payload)) return;
  const reasons: Array<string | undefined> = [];
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
  let slot = 0;
  for (const field of imageFields(route, payload)) {
    const here = slot++;
    if (isHttpUrl(field.value)) {
      urlPolicy(field, here, 'image URLs');
      continue;
    }
    try {
      checkBase64Image(field.value, limits);
    } catch (e) {
      if (!(e instanceof ImageRefusal)) throw e;
      reasons[here] = `${field.path}: ${e.message}`;
    }
  }
  for (const field of scriptUrlFields(payload)) urlPolicy(field, slot++, 'URLs in script arguments (A1111 would fetch them)');
  await Promise.all(pending);
  const listed = reasons.filter((r): r is string => r !== undefined);
  if (listed.length === 0) return;
  const parts = listed.slice(0, MAX_LISTED);
  if (listed.length > MAX_LISTED) parts.push(`and ${listed.length - MAX_LISTED} more fields`);
  throw new JobInputError(`invalid payload for ${route.method} ${route.path}: ${parts.join('; ')}`);
}
