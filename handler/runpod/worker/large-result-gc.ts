/**
 * Memory of posted results. An A1111 answer arrives as socket reads (≤ 64 KiB each, memory outside V8's heap) that
 * the result's post passes on unjoined (`HandlerContext.rawJson`). Once posted they are garbage, but V8 frees them only
 * at a collection, and which one depends on where they are by then:
 * - still young: the next minor collection frees them. A worker allocates little JavaScript per job, so V8's own
 *   minor collections are seldom: tens of MB of posted answers would wait for one. So the runtime asks for one once
 *   the results posted since the last one add up to {@link LARGE_RESULT_BYTES}.
 * - moved to the old generation (a collection ran while the job held them): only a mark-compact frees them.
 *
 * How often the second happens depends on V8's heap sizes, which the launch flags {@link WORKER_NODE_FLAGS} set
 * (`docker/start.sh`, `npm start`, the bench, the tests' workers). Measured side by side with 20 MB results
 * (`npm run bench`'s workers, emulator and simulator; every run is in bench/RESULTS.md), ms per job / CPU ms per job /
 * peak RSS:
 * - V8's defaults: 39–46 / 33–41 / 127–128 MiB. V8 starts a mark-compact during most 20 MB jobs (the memory outside
 *   its heap grows by more than its old generation), which costs time and moves the answer, still held, to the old
 *   generation, where it waits for the next one.
 * - the old generation starting at 64 MB: 22–34 / 16–25 / 129–139 MiB. No mark-compact during a job, but the young
 *   generation grows to 16 MB and the scavenges it runs while an answer is read move parts of it to the old
 *   generation, where it waits for a mark-compact, which then comes every few large jobs.
 * - that and a full collection after each large result: 28–37 / 38–48 / 115–120 MiB (the collection itself).
 * - the old generation starting at 64 MB and the young one kept at 2 MB (this): 18–31 / 14–27 / 115–125 MiB (five
 *   runs of the bench's cost section; the raw pass-through worker took 24–26 ms).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Results posted that add up to this many bytes are followed by a minor collection, bytes. */
export const LARGE_RESULT_BYTES = 4 * 1024 * 1024;

/**
 * Node flags the worker is launched with (`node …WORKER_NODE_FLAGS dist/handler/main.js`), V8's heap sizes in MB:
 * - `--initial-old-space-size=64`: the old generation starts at 64 MB, so that one large answer's memory outside the
 *   heap does not start a mark-compact (a starting limit, not memory taken: the heap stays ~12 MB; not allowed in
 *   `NODE_OPTIONS`, and read only when the heap is made, so it must be a flag of the command);
 * - `--max-semi-space-size=2`: the young generation stays at 2 × 2 MB (V8's default lets it grow to 2 × 16 MB): RSS
 *   after 400 small jobs 88–91 against 104–110 MiB, and fewer answers left in the old generation (above).
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64', '--max-semi-space-size=2'];

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
