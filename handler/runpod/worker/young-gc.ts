/**
 * Memory of large results: a large A1111 answer arrives as socket reads (≤ 64 KiB each, memory outside V8's heap)
 * that the result's post passes on unjoined (`HandlerContext.rawJson`). Once posted they are garbage, but V8 frees
 * them only at its next collection of the young generation, which a worker that allocates little JavaScript may not
 * run for many jobs: their memory stays resident, and the next large answer is read into new memory. One minor
 * collection after such a post (about 1 ms, off the job's path) lets the next answer reuse it: measured by
 * `npm run bench` (peak RSS with 20 MB results). It frees only buffers still young: when a mark-compact during the job
 * (set off by the answers' memory outside the heap, about once per 20 MB answer: `--trace-gc`) has moved them to the
 * old generation, they wait for the next one. A full collection here (`gc()`) frees them and lowered the peak to
 * ~115 MiB, but large jobs then cost ~1.6× as much (RSS falls to ~88 MiB after it: the next answer most likely
 * faults that memory back in), so it is not done (`gc({type: 'major'})` of Node 20's V8 did not free them at all).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Results of at least this many bytes are followed by a minor collection, bytes. */
export const YOUNG_GC_RESULT_BYTES = 4 * 1024 * 1024;

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

/**
 * After a result of `bytes` bytes has been posted: at or over {@link YOUNG_GC_RESULT_BYTES}, collects V8's young
 * generation on the next turn of the event loop (once the job's own references are gone). Never throws.
 */
export function afterLargeResult(bytes: number): void {
  if (bytes < YOUNG_GC_RESULT_BYTES) return;
  const collect = exposedGc();
  if (collect) setImmediate(() => collect({ type: 'minor' }));
}
