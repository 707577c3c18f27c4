/**
 * The URL policy of input images (`ALLOW_IMAGE_URLS`; issue 4 "Bad input", A1111 `modules/api/api.py` `decode_base64_to_image`): A1111's
 * `decode_base64_to_image` fetches `http://` and `https://` values itself with `requests.get`, so such a value is
 * a request the caller makes from inside the pod. Refused unless `ALLOW_IMAGE_URLS=true`, and then only plain URLs
 * whose host is a public unicast address (a literal IP, or every address a DNS lookup returns).
 *
 * The check is made when the job arrives; A1111 fetches the URL later and resolves the name again, so **DNS
 * rebinding between the two lookups is not prevented here**: that stays the job of A1111's own
 * `api_forbid_local_requests` setting (default on), which the settings allow-list keeps any job from turning off.
 */
import dns from 'node:dns';
import net from 'node:net';
import { showValue, oneLineJson } from '../format.js';
import { isHttpUrl } from './decode.js';
import { ImageRefusal } from '../../errors/index.js';

/** Resolves a host name to all its addresses (as `dns.promises.lookup(host, {all: true})`). */
export type HostLookup = (hostname: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

/** Options of `checkImages` (images.ts) and {@link checkImageUrl}. */
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

/** `dns.promises.lookup(host, {all: true, verbatim: true})`: the system resolver, as A1111's `requests` uses. */
export const systemLookup: HostLookup = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

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
