import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { afterResultPosted, LARGE_RESULT_BYTES } from '../../handler/runpod/worker/large-result-gc.js';
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
  it('asks for a minor collection once the results posted add up to the threshold, a large one at once', async () => {
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
});
