/**
 * V8 heap settings of the worker process, set before any other module loads (main.ts imports this module first).
 * Both are measured by `npm run bench` (cost section: CPU per job and peak RSS); a `node` flag or `NODE_OPTIONS`
 * that sets either one wins over these.
 *
 * - `--semi-space-growth-factor=1`: the young generation keeps its initial size. Start-up (module loading) would
 *   otherwise grow it to 16 MiB for good; then it is collected only every few dozen jobs, and the A1111 answers of
 *   those jobs (socket reads, memory outside the heap that only a collection frees) stay resident: higher RSS.
 * - `--heap-growing-percent=150`: the old generation may grow to 2.5 × what was live after a full collection. V8
 *   counts the answers' memory against that limit, and for this ~12 MB heap its own rule leaves ~8 MB of room: a
 *   full mark-compact every ~10 small jobs (most of the worker's CPU beyond the floor's, issue 15's profile).
 */
import v8 from 'node:v8';

/** The V8 flags this module sets, each unless the process was started with it. */
export const WORKER_V8_FLAGS: readonly string[] = ['--semi-space-growth-factor=1', '--heap-growing-percent=150'];

// V8 reads `_` and `-` alike in flag names.
const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ').replaceAll('_', '-');
for (const flag of WORKER_V8_FLAGS) {
  if (!given.includes(flag.slice(0, flag.indexOf('=')))) v8.setFlagsFromString(flag);
}
