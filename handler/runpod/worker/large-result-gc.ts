/**
 * Memory of posted results. An A1111 answer arrives as socket reads (≤ 64 KiB each, memory outside V8's heap) that
 * the result's post passes on unjoined (`HandlerContext.rawJson`). Once posted they are garbage, but V8 frees them only
 * at a collection, and which one depends on where they are by then:
 * - still young: the next minor collection frees them. A worker allocates little JavaScript per job, so V8's own
 *   minor collections are seldom (one per ~40 small jobs): tens of MB of posted answers would wait for one. So a
 *   minor collection follows once the results posted since the last one reach {@link LARGE_RESULT_BYTES}.
 * - moved to the old generation (a collection ran while the job held them: a mark-compact, which V8 starts when the
 *   memory outside its heap grows by about its old generation's size, i.e. during most 20 MB answers under V8's
 *   default sizes; or a second scavenge): only the next mark-compact frees them, which may come during the next large
 *   job, which then holds two answers.
 *
 * So the worker is launched with V8's old generation starting at 64 MB ({@link WORKER_NODE_FLAGS}: `docker/start.sh`,
 * `npm start`, the bench): V8 then starts no mark-compact of its own during a 20 MB job, and a result of
 * {@link LARGE_RESULT_BYTES} or more is followed by one full collection, which frees that answer wherever it is.
 * Measured side by side, 30–40 jobs of 20 MB each (`npm run bench`'s workers, emulator and simulator; the runs are in
 * bench/RESULTS.md):
 * - V8's defaults and a minor collection (before): 39–46 ms per job, 33–41 ms of CPU, peak RSS 127–128 MiB;
 * - the flag and a minor collection: 22–34 ms, 16–25 ms of CPU, but peak RSS 129–139 MiB (an answer a scavenge moved
 *   to the old generation waits for a mark-compact, which with the flag comes about every third large job);
 * - the flag and a full collection (this): 28–37 ms, 38–48 ms of CPU (the collection, off the job's path), peak RSS
 *   115–120 MiB.
 * Without the flag (a worker started as plain `node dist/handler/main.js`) a full collection would shrink V8's limit
 * again, and each large job would run one more mark-compact (55 against 39 ms per job, measured), so there a large
 * result is followed by a minor collection too.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Results of at least this many bytes are followed by a collection, bytes. */
export const LARGE_RESULT_BYTES = 4 * 1024 * 1024;

/**
 * Node flags the worker is launched with (`node …WORKER_NODE_FLAGS dist/handler/main.js`): V8's old generation starts
 * at 64 MB, so that the memory of one large answer outside the heap does not start a mark-compact (V8 flag
 * `--initial-old-space-size`, in MB; not allowed in `NODE_OPTIONS`, and read only when the heap is made). It is a
 * starting limit, not memory taken: the heap stays ~12 MB.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/** Which collection follows a large result: `full` when this process was launched with the raised old generation. */
export function largeResultCollection(execArgv: readonly string[] = process.execArgv): 'full' | 'minor' {
  return execArgv.some((a) => a.startsWith('--initial-old-space-size=') || a.startsWith('--initial-heap-size=')) ? 'full' : 'minor';
}

type Gc = (options?: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

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

const kind = largeResultCollection();
/** Bytes of the results posted since the last collection asked for here. */
let postedSince = 0;

/**
 * After a result of `bytes` bytes has been posted: at or over {@link LARGE_RESULT_BYTES}, runs the collection of
 * {@link largeResultCollection}; else, once the results posted since the last collection reach
 * {@link LARGE_RESULT_BYTES} together, a minor one (smaller answers die young, but a worker that allocates little
 * JavaScript runs V8's own minor collections seldom, so tens of MB of posted answers would wait for one). The
 * collection runs on the next turn of the event loop (once the job's own references are gone). Never throws.
 */
export function afterResultPosted(bytes: number): void {
  postedSince += bytes;
  if (postedSince < LARGE_RESULT_BYTES) return;
  const full = bytes >= LARGE_RESULT_BYTES && kind === 'full';
  postedSince = 0;
  const collect = exposedGc();
  // The full collection runs as V8's own do, concurrently and in steps between tasks (`execution: 'async'`): the
  // event loop is not held for it. (A synchronous `{type: 'major'}` of Node 20's V8 frees nothing; `gc()` does, but
  // holds the loop for the whole collection.)
  if (collect) setImmediate(() => collect(full ? { type: 'major', execution: 'async' } : { type: 'minor' }));
}
