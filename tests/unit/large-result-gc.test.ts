import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { afterResultPosted, largeResultCollection, LARGE_RESULT_BYTES, WORKER_NODE_FLAGS } from '../../handler/runpod/worker/large-result-gc.js';
import { ROOT } from '../helpers/root.js';
import { until } from '../helpers/wait.js';

type GcEntry = PerformanceEntry & { detail?: { kind?: number; flags?: number } };

/** Collects the kinds of the collections asked for through gc() (only those carry the "forced" flag). */
function forcedKinds(): { kinds: number[]; stop(): void } {
  const kinds: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as GcEntry[]) if ((e.detail?.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) kinds.push(e.detail?.kind ?? -1);
  });
  obs.observe({ entryTypes: ['gc'] });
  return { kinds, stop: () => obs.disconnect() };
}

describe('afterResultPosted', () => {
  it('without the launch flags: a minor collection after a large result, and once smaller results add up to one', async () => {
    expect(largeResultCollection()).toBe('minor');
    const seen = forcedKinds();
    try {
      // Three quarters of the threshold in small results: nothing yet; the fourth quarter: one collection.
      for (let i = 0; i < 4; i++) afterResultPosted(LARGE_RESULT_BYTES / 4);
      await until(() => seen.kinds.length >= 1, { what: 'the first forced GC', timeoutMs: 5000 });
      // One large result: one more. Had the small ones each asked for one, their entries would come before it.
      afterResultPosted(LARGE_RESULT_BYTES);
      await until(() => seen.kinds.length >= 2, { what: 'the second forced GC', timeoutMs: 5000 });
    } finally {
      seen.stop();
    }
    expect(seen.kinds).toEqual([constants.NODE_PERFORMANCE_GC_MINOR, constants.NODE_PERFORMANCE_GC_MINOR]);
    // The main context's globals are untouched: gc lives in a context of its own.
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });

  it('in a worker launched with WORKER_NODE_FLAGS: a full collection after a large result (the built module, in its own process)', () => {
    const mod = path.join(ROOT, 'dist/handler/runpod/worker/large-result-gc.js');
    const script = `
      import { PerformanceObserver, constants } from 'node:perf_hooks';
      const { afterResultPosted, largeResultCollection, LARGE_RESULT_BYTES } = await import(${JSON.stringify(mod)});
      const kinds = [];
      const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) kinds.push(e.detail.kind); });
      obs.observe({ entryTypes: ['gc'] });
      afterResultPosted(LARGE_RESULT_BYTES / 2);
      afterResultPosted(LARGE_RESULT_BYTES / 2); // small results add up to a minor collection
      afterResultPosted(LARGE_RESULT_BYTES); // a large one: a full collection
      const deadline = Date.now() + 5000;
      while (kinds.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      obs.disconnect();
      console.log(JSON.stringify({ collection: largeResultCollection(), kinds, minor: constants.NODE_PERFORMANCE_GC_MINOR, major: constants.NODE_PERFORMANCE_GC_MAJOR, gcGlobal: typeof globalThis.gc }));`;
    const out = JSON.parse(execFileSync(process.execPath, [...WORKER_NODE_FLAGS, '--input-type=module', '-e', script], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(out).toEqual({ collection: 'full', kinds: [out.minor, out.major], minor: expect.any(Number), major: expect.any(Number), gcGlobal: 'undefined' });
  });

  it('reads the raised old generation from the launch flags', () => {
    expect(largeResultCollection(['--initial-old-space-size=64'])).toBe('full');
    expect(largeResultCollection(['--initial-heap-size=128', '--cpu-prof'])).toBe('full');
    expect(largeResultCollection(['--max-old-space-size=4096'])).toBe('minor');
    expect(largeResultCollection([])).toBe('minor');
  });
});
