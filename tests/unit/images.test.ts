/**
 * Input images (handler/jobs/images.ts): header parsing, base64 rules, size caps, the URL policy (SSRF) and
 * the per-route image fields.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type LimitsConfig } from '../../handler/config.js';
import { JobInputError } from '../../handler/jobs/errors.js';
import {
  ImageRefusal,
  base64Source,
  checkBase64Image,
  checkImageUrl,
  checkImages,
  imageFields,
  nonPublicReason,
  parseImageHeader,
  scriptUrlFields,
  type HostLookup,
} from '../../handler/jobs/images.js';
import { resolveRoute } from '../../handler/jobs/routes.js';
import {
  b64,
  jpegBytes,
  pngBytes,
  pngHeaderOnly,
  webpExtendedBytes,
  webpLosslessBytes,
  webpLossyBytes,
} from './image-fixtures.js';

const LIMITS: LimitsConfig = loadConfig([], {}).limits;
const URL_LIMITS: LimitsConfig = { ...LIMITS, allowImageUrls: true };
const route = (name: string) => resolveRoute('POST', `/sdapi/v1/${name}`);
const PNG_64 = b64(pngBytes(64, 64));

/** The reason of the ImageRefusal thrown by fn. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ImageRefusal);
    const m = (e as Error).message;
    expect(m).not.toMatch(/[\n\r\u2028\u2029]/);
    return m;
  }
  throw new Error('expected an ImageRefusal');
}

async function asyncRefusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ImageRefusal);
    return (e as Error).message;
  }
  throw new Error('expected an ImageRefusal');
}

async function jobError(p: Promise<unknown>): Promise<string> {
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

/** A resolver from a fixed table; unknown names fail like getaddrinfo. Records the names asked. */
function fakeDns(table: Record<string, string[]>): HostLookup & { asked: string[] } {
  const asked: string[] = [];
  const lookup: HostLookup = async (host) => {
    asked.push(host);
    const list = Object.hasOwn(table, host) ? table[host]! : undefined;
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(lookup, { asked });
}

describe('parseImageHeader', () => {
  it('reads a real PNG made by pngjs', () => {
    expect(parseImageHeader(pngBytes(3, 2))).toEqual({ format: 'PNG', width: 3, height: 2 });
    expect(parseImageHeader(pngBytes(640, 480))).toEqual({ format: 'PNG', width: 640, height: 480 });
  });

  it('reads baseline and progressive JPEG frame headers, after APPn segments and fill bytes', () => {
    expect(parseImageHeader(jpegBytes(800, 600))).toEqual({ format: 'JPEG', width: 800, height: 600 });
    expect(parseImageHeader(jpegBytes(1024, 768, { sof: 0xc2 }))).toEqual({ format: 'JPEG', width: 1024, height: 768 });
    expect(parseImageHeader(jpegBytes(5, 7, { appPadding: 60000 }))).toEqual({ format: 'JPEG', width: 5, height: 7 });
    expect(parseImageHeader(jpegBytes(9, 9, { fillBytes: 3 }))).toEqual({ format: 'JPEG', width: 9, height: 9 });
  });

  it('reads WebP VP8, VP8L and VP8X headers', () => {
    expect(parseImageHeader(webpLossyBytes(320, 240))).toEqual({ format: 'WebP', width: 320, height: 240 });
    expect(parseImageHeader(webpLosslessBytes(16383, 1))).toEqual({ format: 'WebP', width: 16383, height: 1 });
    expect(parseImageHeader(webpExtendedBytes(20000, 300))).toEqual({ format: 'WebP', width: 20000, height: 300 });
  });

  it('refuses what is not a PNG, JPEG or WebP, naming the first bytes', () => {
    expect(refusal(() => parseImageHeader(Buffer.from('<html><body>')))).toBe('not a PNG, JPEG or WebP image (starts with 3c68746d)');
    expect(refusal(() => parseImageHeader(Buffer.from('GIF89a....')))).toContain('starts with 47494638');
    expect(refusal(() => parseImageHeader(Buffer.from([1])))).toContain('starts with 01');
  });

  it('refuses truncated or corrupt headers, naming the format', () => {
    expect(refusal(() => parseImageHeader(pngBytes(4, 4).subarray(0, 20)))).toContain('PNG without a valid IHDR header');
    expect(refusal(() => parseImageHeader(jpegBytes(8, 8).subarray(0, 25)))).toContain('JPEG ends before its frame header');
    // SOS before any SOFn
    expect(refusal(() => parseImageHeader(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 0x3f, 0])))).toContain(
      'JPEG without a frame header (SOFn)',
    );
    expect(refusal(() => parseImageHeader(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0, 0, 0x12, 0x34])))).toContain(
      'corrupt segment structure',
    );
    const brokenVp8 = webpLossyBytes(10, 10);
    brokenVp8[23] = 0; // start code
    expect(refusal(() => parseImageHeader(brokenVp8))).toContain('WebP without a valid VP8/VP8L/VP8X header');
    const riffOther = webpLossyBytes(10, 10);
    riffOther.write('ALPH', 12, 'latin1');
    expect(refusal(() => parseImageHeader(riffOther))).toContain('WebP without a valid');
  });

  it('decodes only what it needs from base64 (random access)', () => {
    const jpeg = jpegBytes(123, 45, { appPadding: 65000 });
    const text = b64(jpeg);
    const src = base64Source(text, jpeg.length);
    for (const [off, len] of [[0, 4], [1, 7], [65020, 9], [jpeg.length - 3, 10]] as const) {
      expect(Buffer.from(src.read(off, len))).toEqual(jpeg.subarray(off, off + len));
    }
    expect(parseImageHeader(src)).toEqual({ format: 'JPEG', width: 123, height: 45 });
  });
});

describe('checkBase64Image', () => {
  it('accepts raw base64 and the data URI prefixes of PNG, JPEG and WebP', () => {
    expect(checkBase64Image(PNG_64, LIMITS)).toMatchObject({ format: 'PNG', width: 64, height: 64 });
    for (const mime of ['png', 'jpeg', 'jpg', 'webp']) {
      expect(checkBase64Image(`data:image/${mime};base64,${PNG_64}`, LIMITS).format).toBe('PNG');
    }
    expect(checkBase64Image(b64(jpegBytes(10, 20)), LIMITS)).toMatchObject({ format: 'JPEG', width: 10, height: 20 });
    expect(checkBase64Image(b64(webpLosslessBytes(30, 40)), LIMITS)).toMatchObject({ format: 'WebP', width: 30, height: 40 });
  });

  it('reports the decoded size exactly, for every padding', () => {
    for (const n of [40, 41, 42]) {
      const bytes = Buffer.concat([pngHeaderOnly(2, 2), Buffer.alloc(n - 33)]);
      expect(checkBase64Image(b64(bytes), LIMITS).bytes).toBe(n);
    }
  });

  it('refuses other data URI prefixes', () => {
    expect(refusal(() => checkBase64Image(`data:image/gif;base64,${PNG_64}`, LIMITS))).toBe(
      'data URI prefix "data:image/gif;base64," is not accepted: use data:image/png;base64, (or jpeg, jpg, webp)',
    );
    expect(refusal(() => checkBase64Image(`data:image/PNG;base64,${PNG_64}`, LIMITS))).toContain('is not accepted');
    expect(refusal(() => checkBase64Image(`data:text/html;base64,${PNG_64}`, LIMITS))).toContain('"data:text/html;base64,"');
    expect(refusal(() => checkBase64Image('data:image/png,rawbytes', LIMITS))).toContain('is not accepted');
    expect(refusal(() => checkBase64Image('data:image/png;base64,', LIMITS))).toBe('is empty after the data URI prefix');
  });

  it('refuses whitespace (not stripped), naming where', () => {
    const wrapped = PNG_64.slice(0, 76) + '\n' + PNG_64.slice(76);
    expect(refusal(() => checkBase64Image(wrapped, LIMITS))).toBe(
      'is not valid base64: whitespace "\\n" at offset 76; send base64 on one line without spaces (e.g. base64 -w0)',
    );
    expect(refusal(() => checkBase64Image(`data:image/png;base64, ${PNG_64}`, LIMITS))).toContain('whitespace " " at offset 22');
    expect(refusal(() => checkBase64Image(PNG_64 + '\r\n', LIMITS))).toContain('whitespace "\\r"');
    expect(refusal(() => checkBase64Image('\t' + PNG_64, LIMITS))).toContain('whitespace "\\t" at offset 0');
  });

  it('refuses the URL-safe alphabet and other characters', () => {
    expect(refusal(() => checkBase64Image('iVBO-w0K', LIMITS))).toContain('URL-safe alphabet ("-" at offset 4)');
    expect(refusal(() => checkBase64Image('iVBO_w0K', LIMITS))).toContain('URL-safe alphabet ("_" at offset 4)');
    expect(refusal(() => checkBase64Image('iVBO*w0K', LIMITS))).toBe('is not valid base64: "*" at offset 4 is not a base64 character');
    expect(refusal(() => checkBase64Image('iVBO\u0000w0K', LIMITS))).toContain('"\\u0000" at offset 4');
    expect(refusal(() => checkBase64Image('iVBO😀w0', LIMITS))).toContain('"😀" at offset 4');
    expect(refusal(() => checkBase64Image('iVBO\ud800w0K', LIMITS))).toContain('"\\ud800" at offset 4');
  });

  it('applies the padding rules', () => {
    expect(refusal(() => checkBase64Image('iVBORw0KGgoAAAAAA', LIMITS))).toMatch(/17 characters is not a multiple of 4 \(missing "=" padding\?\)$/);
    expect(refusal(() => checkBase64Image('iVBORw0KGgo', LIMITS))).toBe(
      'is not valid base64: 11 characters is not a multiple of 4 (missing "=" padding?)',
    );
    expect(refusal(() => checkBase64Image('iVB=Rw0K', LIMITS))).toBe('is not valid base64: "=" padding at offset 3, before the end');
    expect(refusal(() => checkBase64Image('iVBORw0KGg===', LIMITS))).toContain('"=" padding at offset 10, before the end');
  });

  it('refuses URLs of other schemes and anything with a scheme', () => {
    for (const v of ['file:///etc/passwd', 'ftp://example.com/a.png', 'gopher://x', 'HTTP://example.com/a.png', 'javascript:alert(1)']) {
      expect(refusal(() => checkBase64Image(v, LIMITS))).toMatch(/^a ".+:" URL is not accepted: send base64/);
    }
  });

  it('caps the decoded size at MAX_INPUT_IMAGE_BYTES without decoding', () => {
    const big = Buffer.concat([pngHeaderOnly(100, 100), Buffer.alloc(2000)]);
    const small = { ...LIMITS, maxInputImageBytes: 1024 };
    expect(refusal(() => checkBase64Image(b64(big), small))).toBe(`${big.length} bytes decoded, over MAX_INPUT_IMAGE_BYTES=1024`);
    expect(checkBase64Image(b64(big), { ...small, maxInputImageBytes: big.length }).bytes).toBe(big.length);
  });

  it('caps each side at MAX_IMAGE_SIDE and refuses 0 px', () => {
    expect(refusal(() => checkBase64Image(b64(pngHeaderOnly(9000, 512)), LIMITS))).toBe('PNG of 9000 × 512 px is over MAX_IMAGE_SIDE=8192');
    expect(refusal(() => checkBase64Image(b64(jpegBytes(100, 8193)), LIMITS))).toBe('JPEG of 100 × 8193 px is over MAX_IMAGE_SIDE=8192');
    expect(refusal(() => checkBase64Image(b64(webpExtendedBytes(10000, 10)), LIMITS))).toContain('WebP of 10000 × 10 px is over');
    expect(refusal(() => checkBase64Image(b64(pngHeaderOnly(0, 10)), LIMITS))).toBe('PNG of 0 × 10 px: width and height must be at least 1 px');
    expect(refusal(() => checkBase64Image(b64(jpegBytes(10, 0)), LIMITS))).toContain('JPEG of 10 × 0 px');
    expect(refusal(() => checkBase64Image(b64(pngHeaderOnly(0xffffffff, 1)), LIMITS))).toContain('PNG of 4294967295 × 1 px is over');
    expect(checkBase64Image(b64(pngHeaderOnly(8192, 8192)), LIMITS)).toMatchObject({ width: 8192, height: 8192 });
    expect(checkBase64Image(b64(pngHeaderOnly(9000, 9000)), { ...LIMITS, maxImageSide: 9000 })).toMatchObject({ width: 9000 });
  });

  it('is fast on a 15 MB image (only the header is decoded)', () => {
    const big = Buffer.concat([pngHeaderOnly(4096, 4096), Buffer.alloc(15 * 1024 * 1024)]);
    const text = b64(big);
    const t0 = performance.now();
    expect(checkBase64Image(text, LIMITS).bytes).toBe(big.length);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('nonPublicReason', () => {
  it.each([
    ['127.0.0.1', 'loopback 127.0.0.0/8'],
    ['127.255.255.254', 'loopback 127.0.0.0/8'],
    ['10.0.0.1', 'private 10.0.0.0/8'],
    ['172.16.0.1', 'private 172.16.0.0/12'],
    ['172.31.255.255', 'private 172.16.0.0/12'],
    ['192.168.1.1', 'private 192.168.0.0/16'],
    ['169.254.169.254', 'link-local 169.254.0.0/16'],
    ['100.64.0.1', 'carrier-grade NAT 100.64.0.0/10'],
    ['100.127.255.255', 'carrier-grade NAT 100.64.0.0/10'],
    ['0.0.0.0', '"this network" 0.0.0.0/8'],
    ['0.1.2.3', '"this network" 0.0.0.0/8'],
    ['224.0.0.1', 'multicast 224.0.0.0/4'],
    ['239.255.255.250', 'multicast 224.0.0.0/4'],
    ['255.255.255.255', 'broadcast 255.255.255.255'],
    ['240.0.0.1', 'reserved 240.0.0.0/4'],
    ['192.0.2.10', 'documentation 192.0.2.0/24'],
    ['198.51.100.10', 'documentation 198.51.100.0/24'],
    ['203.0.113.10', 'documentation 203.0.113.0/24'],
    ['198.18.0.1', 'benchmarking 198.18.0.0/15'],
    ['192.0.0.8', 'IETF protocol assignments 192.0.0.0/24'],
    ['::1', 'loopback ::1'],
    ['::', 'unspecified ::'],
    ['fe80::1', 'link-local fe80::/10'],
    ['fe80::1%eth0', 'link-local fe80::/10'],
    ['febf::1', 'link-local fe80::/10'],
    ['fc00::1', 'unique local fc00::/7'],
    ['fd12:3456::1', 'unique local fc00::/7'],
    ['ff02::1', 'multicast ff00::/8'],
    ['2001:db8::1', 'documentation 2001:db8::/32'],
    ['::ffff:127.0.0.1', 'IPv4-mapped 127.0.0.1, loopback 127.0.0.0/8'],
    ['::ffff:7f00:1', 'IPv4-mapped 127.0.0.1, loopback 127.0.0.0/8'],
    ['::ffff:10.1.2.3', 'IPv4-mapped 10.1.2.3, private 10.0.0.0/8'],
    ['::ffff:169.254.169.254', 'IPv4-mapped 169.254.169.254, link-local 169.254.0.0/16'],
    ['64:ff9b::192.168.0.1', 'NAT64 of 192.168.0.1, private 192.168.0.0/16'],
    ['2002:c0a8:0101::1', '6to4 of 192.168.1.1, private 192.168.0.0/16'],
    ['::127.0.0.1', 'reserved (outside global unicast 2000::/3)'],
    ['100::1', 'discard-only 100::/64'],
    ['example.com', 'not an IP address'],
  ])('%s is %s', (address, reason) => {
    expect(nonPublicReason(address)).toBe(reason);
  });

  it.each([['8.8.8.8'], ['1.1.1.1'], ['172.32.0.1'], ['100.128.0.1'], ['93.184.216.34'], ['2606:4700:4700::1111'], ['2a00:1450::1'], ['::ffff:8.8.8.8'], ['64:ff9b::8.8.8.8']])(
    '%s is public',
    (address) => {
      expect(nonPublicReason(address)).toBeUndefined();
    },
  );
});

describe('checkImageUrl (ALLOW_IMAGE_URLS=true)', () => {
  const dns = fakeDns({
    'images.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'loopback.example.com': ['127.0.0.1'],
    'mixed.example.com': ['93.184.216.34', '10.0.0.7'],
    'v6local.example.com': ['fd00::5'],
    'mapped.example.com': ['::ffff:192.168.0.9'],
    'empty.example.com': [],
  });

  it('accepts public hosts: literal IPs and names resolving only to public addresses', async () => {
    await expect(checkImageUrl('https://images.example.com/cat.png', { lookup: dns })).resolves.toBeUndefined();
    await expect(checkImageUrl('http://93.184.216.34:8080/cat.png?x=1#y', { lookup: dns })).resolves.toBeUndefined();
    await expect(checkImageUrl('http://[2606:4700:4700::1111]/a.png', { lookup: dns })).resolves.toBeUndefined();
  });

  it.each([
    ['http://127.0.0.1/a.png', 'URL host "127.0.0.1" is loopback 127.0.0.0/8: only public addresses are allowed'],
    ['http://10.0.0.1:3000/sdapi/v1/options', 'URL host "10.0.0.1" is private 10.0.0.0/8'],
    ['http://172.20.1.1/', 'URL host "172.20.1.1" is private 172.16.0.0/12'],
    ['http://192.168.0.1/', 'is private 192.168.0.0/16'],
    ['http://169.254.169.254/latest/meta-data/', 'is link-local 169.254.0.0/16'],
    ['http://100.100.100.200/', 'is carrier-grade NAT 100.64.0.0/10'],
    ['http://0.0.0.0:3000/', 'is "this network" 0.0.0.0/8'],
    ['http://[::1]:3000/', 'URL host "::1" is loopback ::1'],
    ['http://[::]/', 'is unspecified ::'],
    ['http://[fe80::1]/', 'is link-local fe80::/10'],
    ['http://[fd00::1]/', 'is unique local fc00::/7'],
    ['http://[::ffff:127.0.0.1]/', 'is IPv4-mapped 127.0.0.1, loopback 127.0.0.0/8'],
    ['http://2130706433/', 'URL host "2130706433" (127.0.0.1) is loopback'],
    ['http://0x7f.1/', 'URL host "0x7f.1" (127.0.0.1) is loopback'],
    ['http://127.1/', 'URL host "127.1" (127.0.0.1) is loopback'],
    ['http://017700000001/', '(127.0.0.1) is loopback'],
    ['http://localhost:3000/', 'URL host "localhost" is loopback (localhost)'],
    ['http://LOCALHOST/', 'URL host "localhost" is loopback (localhost)'],
    ['http://a.b.localhost/', 'URL host "a.b.localhost" is loopback (localhost)'],
  ])('refuses %s', async (url, reason) => {
    expect(await asyncRefusal(checkImageUrl(url, { lookup: dns }))).toContain(reason);
  });

  it('refuses names resolving to any non-public address, and names that do not resolve', async () => {
    expect(await asyncRefusal(checkImageUrl('http://loopback.example.com/a.png', { lookup: dns }))).toBe(
      'URL host "loopback.example.com" resolves to 127.0.0.1, loopback 127.0.0.0/8: only public addresses are allowed',
    );
    expect(await asyncRefusal(checkImageUrl('https://mixed.example.com/a.png', { lookup: dns }))).toContain('resolves to 10.0.0.7, private');
    expect(await asyncRefusal(checkImageUrl('https://v6local.example.com/', { lookup: dns }))).toContain('resolves to fd00::5, unique local');
    expect(await asyncRefusal(checkImageUrl('https://mapped.example.com/', { lookup: dns }))).toContain('IPv4-mapped 192.168.0.9');
    expect(await asyncRefusal(checkImageUrl('https://nowhere.example.com/', { lookup: dns }))).toBe(
      'URL host "nowhere.example.com" does not resolve (ENOTFOUND)',
    );
    expect(await asyncRefusal(checkImageUrl('https://empty.example.com/', { lookup: dns }))).toContain('does not resolve (no addresses)');
  });

  it('resolves "localhost" through the system resolver too when asked (a name resolving to loopback)', async () => {
    // The real resolver: localhost comes from /etc/hosts, no network needed. The explicit localhost rule
    // answers first; a name that resolves to loopback through the system is refused by the address check.
    expect(await asyncRefusal(checkImageUrl('http://localhost/a.png'))).toContain('loopback');
    const viaSystem: HostLookup = (h) => import('node:dns').then((d) => d.promises.lookup(h === 'alias.test' ? 'localhost' : h, { all: true }));
    expect(await asyncRefusal(checkImageUrl('http://alias.test/a.png', { lookup: viaSystem }))).toMatch(
      /^URL host "alias\.test" resolves to (127\.0\.0\.1|::1), loopback/,
    );
  });

  it.each([
    ['http://user:pass@images.example.com/a.png', 'URL carries credentials'],
    ['http://user@images.example.com/a.png', 'URL carries credentials'],
    ['http://@images.example.com/a.png', 'URL carries credentials'],
    ['http://images.example.com:80@127.0.0.1/', 'URL carries credentials'],
    ['http://images.example.com\\@127.0.0.1/', 'URL contains "\\\\" at offset 25'],
    ['http://images.example.com /a.png', 'URL contains " " at offset 25'],
    ['http://images.example.com/a\n.png', 'URL contains "\\n"'],
    ['http://%31%32%37.0.0.1/', 'URL host "%31%32%37.0.0.1" is not accepted'],
    ['http://exämple.com/', 'URL host "exämple.com" is not accepted'],
    ['http:///images.example.com/', 'URL host "" is not accepted'],
    ['https://' + 'a'.repeat(2100) + '.com/', 'URL is longer than 2048 characters'],
  ])('refuses the crafted URL %s', async (url, reason) => {
    expect(await asyncRefusal(checkImageUrl(url, { lookup: dns }))).toContain(reason);
  });

  it('does not look up names of refused URLs', async () => {
    const spy = fakeDns({});
    await asyncRefusal(checkImageUrl('http://user:pw@images.example.com/', { lookup: spy }));
    await asyncRefusal(checkImageUrl('http://127.0.0.1/', { lookup: spy }));
    expect(spy.asked).toEqual([]);
  });

  it('gives up on a slow DNS lookup and on a stopped job', async () => {
    const never: HostLookup = () => new Promise(() => {});
    expect(await asyncRefusal(checkImageUrl('http://slow.example.com/', { lookup: never, dnsTimeoutMs: 50 }))).toBe(
      'DNS lookup of "slow.example.com" took longer than 50 ms',
    );
    const ac = new AbortController();
    const p = checkImageUrl('http://slow.example.com/', { lookup: never, signal: ac.signal });
    ac.abort();
    expect(await asyncRefusal(p)).toContain('the job was stopped');
  });
});

describe('imageFields and scriptUrlFields', () => {
  it('lists the image fields of each route', () => {
    expect(
      imageFields(route('img2img'), { init_images: ['a', 'b'], mask: 'm', latent_mask: '', firstpass_image: null, prompt: 'p' }).map((f) => f.path),
    ).toEqual(['init_images[0]', 'init_images[1]', 'mask']);
    expect(imageFields(route('txt2img'), { firstpass_image: 'f' }).map((f) => f.path)).toEqual(['firstpass_image']);
    for (const name of ['interrogate', 'png-info', 'extra-single-image']) {
      expect(imageFields(route(name), { image: 'i' }).map((f) => f.path)).toEqual(['image']);
    }
    expect(imageFields(route('extra-batch-images'), { imageList: [{ data: 'a', name: 'a' }, { data: 'b', name: 'b' }] }).map((f) => f.path)).toEqual([
      'imageList[0].data',
      'imageList[1].data',
    ]);
    expect(imageFields(route('options'), { image: 'x' })).toEqual([]);
  });

  it('never reads inherited properties', () => {
    const payload = JSON.parse('{"__proto__": {"mask": "x"}}') as Record<string, unknown>;
    expect(imageFields(route('img2img'), payload)).toEqual([]);
  });

  it('finds http(s) strings anywhere in script arguments', () => {
    const payload = {
      script_args: ['x', 'https://evil.example/a.png'],
      alwayson_scripts: { controlnet: { args: [{ image: 'http://127.0.0.1/a.png', nested: [['http://10.0.0.1/']] }, 'ftp://x', 'HTTP://x'] } },
    };
    expect(scriptUrlFields(payload)).toEqual([
      { path: 'script_args[1]', value: 'https://evil.example/a.png' },
      { path: 'alwayson_scripts.controlnet.args[0].image', value: 'http://127.0.0.1/a.png' },
      { path: 'alwayson_scripts.controlnet.args[0].nested[0][0]', value: 'http://10.0.0.1/' },
    ]);
  });
});

describe('checkImages', () => {
  it('accepts valid images of every route', async () => {
    const jpeg = b64(jpegBytes(64, 64));
    await checkImages(route('img2img'), { init_images: [PNG_64, `data:image/jpeg;base64,${jpeg}`], mask: PNG_64, batch_size: 2 }, LIMITS);
    await checkImages(route('txt2img'), { firstpass_image: PNG_64, enable_hr: true }, LIMITS);
    await checkImages(route('interrogate'), { image: b64(webpLossyBytes(64, 64)) }, LIMITS);
    await checkImages(route('png-info'), { image: PNG_64 }, LIMITS);
    await checkImages(route('extra-single-image'), { image: PNG_64 }, LIMITS);
    await checkImages(route('extra-batch-images'), { imageList: [{ data: PNG_64, name: 'a.png' }] }, LIMITS);
    await checkImages(route('img2img'), { init_images: [PNG_64], mask: '' }, LIMITS);
  });

  it('names every refused field with its path, in field order', async () => {
    const html = b64(Buffer.from('<html>hello</html>!!'));
    const m = await jobError(
      checkImages(route('img2img'), { init_images: [PNG_64, html, 'abc'], mask: 'http://example.com/m.png', batch_size: 3 }, LIMITS),
    );
    expect(m).toBe(
      'invalid payload for POST /sdapi/v1/img2img: init_images[1]: not a PNG, JPEG or WebP image (starts with 3c68746d); ' +
        'init_images[2]: is not valid base64: 3 characters is not a multiple of 4 (missing "=" padding?); ' +
        'mask: image URLs are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…)',
    );
    const batch = await jobError(checkImages(route('extra-batch-images'), { imageList: [{ data: PNG_64, name: 'a' }, { data: 'iVBO\nw0K', name: 'b' }] }, LIMITS));
    expect(batch).toContain('imageList[1].data: is not valid base64: whitespace "\\n" at offset 4');
  });

  it('refuses URLs when ALLOW_IMAGE_URLS is false, without any DNS lookup', async () => {
    const spy = fakeDns({ 'images.example.com': ['93.184.216.34'] });
    const m = await jobError(checkImages(route('interrogate'), { image: 'https://images.example.com/a.png' }, LIMITS, { lookup: spy }));
    expect(m).toBe(
      'invalid payload for POST /sdapi/v1/interrogate: image: image URLs are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…)',
    );
    expect(spy.asked).toEqual([]);
  });

  it('with ALLOW_IMAGE_URLS=true accepts public URLs and refuses the others', async () => {
    const dns = fakeDns({ 'images.example.com': ['93.184.216.34'], 'intranet.example.com': ['10.1.1.1'] });
    await checkImages(route('img2img'), { init_images: ['https://images.example.com/a.png'] }, URL_LIMITS, { lookup: dns });
    const m = await jobError(
      checkImages(
        route('img2img'),
        { init_images: ['https://images.example.com/a.png', 'http://intranet.example.com/a.png'], mask: 'http://169.254.169.254/', batch_size: 2 },
        URL_LIMITS,
        { lookup: dns },
      ),
    );
    expect(m).toBe(
      'invalid payload for POST /sdapi/v1/img2img: init_images[1]: URL host "intranet.example.com" resolves to 10.1.1.1, private 10.0.0.0/8: only public addresses are allowed; ' +
        'mask: URL host "169.254.169.254" is link-local 169.254.0.0/16: only public addresses are allowed',
    );
  });

  it('applies the URL policy to script arguments', async () => {
    const payload = { alwayson_scripts: { controlnet: { args: [{ image: 'http://127.0.0.1:3000/sdapi/v1/options' }] } } };
    expect(await jobError(checkImages(route('txt2img'), payload, LIMITS))).toBe(
      'invalid payload for POST /sdapi/v1/txt2img: alwayson_scripts.controlnet.args[0].image: URLs in script arguments (A1111 would fetch them) are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…)',
    );
    expect(await jobError(checkImages(route('txt2img'), payload, URL_LIMITS))).toContain(
      'alwayson_scripts.controlnet.args[0].image: URL host "127.0.0.1" is loopback',
    );
    await checkImages(route('txt2img'), { script_args: ['ftp://x', 'plain text', 1] }, LIMITS);
  });

  it('does nothing for routes without images or a non-object payload', async () => {
    await checkImages(resolveRoute('GET', '/sdapi/v1/samplers'), undefined, LIMITS);
    await checkImages(route('options'), { sd_vae: 'x' }, LIMITS);
    await checkImages(route('txt2img'), 'nonsense', LIMITS);
  });
});
