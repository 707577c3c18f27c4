import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { afterLargeResult, YOUNG_GC_RESULT_BYTES } from '../../handler/runpod/worker/young-gc.js';
import { until } from '../helpers/wait.js';

type GcEntry = PerformanceEntry & { detail?: { kind?: number; flags?: number } };

describe('afterLargeResult', () => {
  it('forces a collection of the young generation after a result at or over the threshold', async () => {
    const forced: number[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries() as GcEntry[]) {
        // Only a collection asked for through gc() carries the "forced" flag; V8's own scavenges do not.
        if ((e.detail?.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) forced.push(e.detail?.kind ?? -1);
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    try {
      afterLargeResult(YOUNG_GC_RESULT_BYTES);
      await until(() => forced.length > 0, { what: 'a forced GC', timeoutMs: 5000 });
    } finally {
      obs.disconnect();
    }
    expect(forced).toEqual([constants.NODE_PERFORMANCE_GC_MINOR]);
    // The main context's globals are untouched: gc lives in a context of its own.
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });
});
