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
import ipaddr from 'ipaddr.js';
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
// Addresses (IANA's IPv4 and IPv6 Special-Purpose Address Registries), matched with `ipaddr.js`

/** A refused range and the reason a refusal names. */
type Range<A> = readonly [A, number, string];

function ranges<A>(parseCIDR: (cidr: string) => [A, number], table: ReadonlyArray<readonly [string, string]>): ReadonlyArray<Range<A>> {
  return table.map(([cidr, reason]) => [...parseCIDR(cidr), reason] as const);
}

/** IPv4 ranges refused, in the order they are tried. */
const IPV4_RANGES = ranges((cidr) => ipaddr.IPv4.parseCIDR(cidr), [
  ['0.0.0.0/8', '"this network" 0.0.0.0/8'],
  ['10.0.0.0/8', 'private 10.0.0.0/8'],
  ['100.64.0.0/10', 'carrier-grade NAT 100.64.0.0/10'],
  ['127.0.0.0/8', 'loopback 127.0.0.0/8'],
  ['169.254.0.0/16', 'link-local 169.254.0.0/16'],
  ['172.16.0.0/12', 'private 172.16.0.0/12'],
  ['192.0.0.0/24', 'IETF protocol assignments 192.0.0.0/24'],
  ['192.0.2.0/24', 'documentation 192.0.2.0/24'],
  ['192.88.99.0/24', '6to4 relay anycast 192.88.99.0/24'],
  ['192.168.0.0/16', 'private 192.168.0.0/16'],
  ['198.18.0.0/15', 'benchmarking 198.18.0.0/15'],
  ['198.51.100.0/24', 'documentation 198.51.100.0/24'],
  ['203.0.113.0/24', 'documentation 203.0.113.0/24'],
  ['224.0.0.0/4', 'multicast 224.0.0.0/4'],
  ['255.255.255.255/32', 'broadcast 255.255.255.255'],
  ['240.0.0.0/4', 'reserved 240.0.0.0/4'],
]);

/** IPv6 ranges refused, in the order they are tried (after {@link IPV6_CARRIERS}); then all outside 2000::/3. */
const IPV6_RANGES = ranges((cidr) => ipaddr.IPv6.parseCIDR(cidr), [
  ['::/128', 'unspecified ::'],
  ['::1/128', 'loopback ::1'],
  ['64:ff9b:1::/48', 'local-use NAT64 64:ff9b:1::/48'],
  ['100::/64', 'discard-only 100::/64'],
  ['2001:db8::/32', 'documentation 2001:db8::/32'],
  ['2001::/23', 'IETF protocol assignments 2001::/23 (Teredo, benchmarking…)'],
  ['3fff::/20', 'documentation 3fff::/20'],
  ['fc00::/7', 'unique local fc00::/7'],
  ['fe80::/10', 'link-local fe80::/10'],
  ['fec0::/10', 'site-local fec0::/10'],
  ['ff00::/8', 'multicast ff00::/8'],
]);

/** IPv6 ranges whose addresses carry an IPv4 address (at byte `at`), judged by that address. */
const IPV6_CARRIERS: ReadonlyArray<{ range: Range<ipaddr.IPv6>; at: number }> = [
  { range: [...ipaddr.IPv6.parseCIDR('::ffff:0:0/96'), 'IPv4-mapped'], at: 12 },
  { range: [...ipaddr.IPv6.parseCIDR('64:ff9b::/96'), 'NAT64 of'], at: 12 },
  { range: [...ipaddr.IPv6.parseCIDR('2002::/16'), '6to4 of'], at: 2 },
];

const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

function firstRange<A extends ipaddr.IPv4 | ipaddr.IPv6>(address: A, list: ReadonlyArray<Range<A>>): string | undefined {
  return list.find(([range, bits]) => address.match(range, bits))?.[2];
}

function ipv6Reason(address: ipaddr.IPv6): string | undefined {
  for (const { range, at } of IPV6_CARRIERS) {
    if (!address.match(range[0], range[1])) continue;
    const v4 = new ipaddr.IPv4(address.toByteArray().slice(at, at + 4));
    const inner = firstRange(v4, IPV4_RANGES);
    return inner ? `${range[2]} ${v4.toString()}, ${inner}` : undefined;
  }
  const reason = firstRange(address, IPV6_RANGES);
  if (reason) return reason;
  return address.match(GLOBAL_UNICAST) ? undefined : 'reserved (outside global unicast 2000::/3)';
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
  // Node's checks first: ipaddr.js also parses forms such as `0x7f.1`, which are not IP literals here.
  if (net.isIPv4(address)) return firstRange(ipaddr.IPv4.parse(address), IPV4_RANGES);
  const bare = address.replace(/%.*$/, '');
  // Through WHATWG's serialisation, which writes a dotted IPv4 tail in hex: ipaddr.js would read the deprecated
  // IPv4-compatible `::a.b.c.d` as IPv4-mapped.
  if (net.isIPv6(bare)) return ipv6Reason(ipaddr.IPv6.parse(new URL(`http://[${bare}]/`).hostname.slice(1, -1)));
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
