/**
 * The URL policy of input images (handler/jobs/images/urls.ts): public-address check and the SSRF rules of
 * `ALLOW_IMAGE_URLS=true`.
 */
import { describe, expect, it } from 'vitest';
import { checkImageUrl, nonPublicReason, type HostLookup } from '../../handler/jobs/images/images.js';
import { asyncRefusal, fakeDns } from './image-fixtures.js';

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
