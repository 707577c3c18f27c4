import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeBody, followSignal } from '../../handler/http-call.js';

describe('followSignal', () => {
  it('aborts with the parent reason, and not after end()', () => {
    const parent = new AbortController();
    const a = followSignal(parent.signal);
    const b = followSignal(parent.signal);
    b.end();
    const reason = new Error('job stopped');
    parent.abort(reason);
    expect(a.controller.signal.aborted).toBe(true);
    expect(a.controller.signal.reason).toBe(reason);
    expect(b.controller.signal.aborted).toBe(false);
  });

  it('is aborted at once when the parent already is, and stands alone without a parent', () => {
    const parent = new AbortController();
    parent.abort(new Error('gone'));
    expect(followSignal(parent.signal).controller.signal.reason).toBe(parent.signal.reason);
    const alone = followSignal();
    expect(alone.controller.signal.aborted).toBe(false);
    alone.end();
  });

  it('leaves no listener on the parent once ended (a job signal followed by many calls)', () => {
    const parent = new AbortController();
    let added = 0;
    let removed = 0;
    const add = parent.signal.addEventListener.bind(parent.signal);
    const remove = parent.signal.removeEventListener.bind(parent.signal);
    parent.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => (added++, add(...args))) as AbortSignal['addEventListener'];
    parent.signal.removeEventListener = ((...args: Parameters<AbortSignal['removeEventListener']>) => (removed++, remove(...args))) as AbortSignal['removeEventListener'];
    for (let i = 0; i < 100; i++) followSignal(parent.signal).end();
    expect([added, removed]).toEqual([100, 100]);
  });
});

describe('decodeBody', () => {
  const text = Buffer.from('{"images":["abc"]}'.repeat(50));
  it.each([
    ['gzip', gzipSync(text)],
    ['x-gzip', gzipSync(text)],
    ['deflate', deflateSync(text)],
    ['br', brotliCompressSync(text)],
  ])('decodes %s', (encoding, bytes) => {
    expect(decodeBody(bytes, encoding).equals(text)).toBe(true);
  });

  it('passes identity and unknown encodings through as they are', () => {
    expect(decodeBody(text, undefined)).toBe(text);
    expect(decodeBody(text, 'identity')).toBe(text);
    expect(decodeBody(text, 'zstd')).toBe(text);
  });
});
