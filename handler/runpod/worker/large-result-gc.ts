/**
 * Memory of posted results. An A1111 answer arrives as socket reads (≤ 64 KiB each, memory outside V8's heap) that
 * the result's post passes on unjoined (`HandlerContext.rawJson`). Once posted they are garbage, but V8 frees them only
 * at a collection, and which one depends on where they are by then:
 * - still young: the next minor collection frees them. A worker allocates little JavaScript per job, so V8's own
 *   minor collections are seldom: tens of MB of posted answers would wait for one. So the runtime asks for one once
 *   the results posted since the last one add up to {@link LARGE_RESULT_BYTES}.
 * - moved to the old generation (a collection ran while the job held them): only a mark-compact frees them.
 *
 * How often the second happens depends on V8's heap sizes, which the launch flags set (`launch.ts`,
 * `WORKER_NODE_FLAGS`); whether the freed memory serves the next answer depends on glibc's `malloc`, which the launch
 * environment sets (`launch.ts`, `WORKER_MALLOC_ENV`).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Results posted that add up to this many bytes are followed by a minor collection, bytes. */
export const LARGE_RESULT_BYTES = 4 * 1024 * 1024;

type Gc = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: Gc | null | undefined;

/**
 * V8's `gc` function, exposed once through `--expose-gc` in a context of its own (the main context's globals are
 * untouched); null when this V8 refuses the flag.
 */
function exposedGc(): Gc | null {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const f: unknown = vm.runInNewContext('typeof gc === "function" ? gc : null');
      gc = typeof f === 'function' ? (f as Gc) : null;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** Bytes of the results posted since the last collection asked for here. */
let postedSince = 0;

/**
 * After a result of `bytes` bytes has been posted: once the results posted since the last collection asked for here
 * add up to {@link LARGE_RESULT_BYTES} (one large result does), a minor collection on the next turn of the event loop
 * (once the job's own references are gone; about 1 ms, off the job's path). Never throws.
 */
export function afterResultPosted(bytes: number): void {
  postedSince += bytes;
  if (postedSince < LARGE_RESULT_BYTES) return;
  postedSince = 0;
  const collect = exposedGc();
  if (collect) setImmediate(() => collect({ type: 'minor' }));
}
