/**
 * How the worker's process is launched: the Node flags and the environment that `docker/start.sh`, `npm start`, the
 * bench, the demo and playground scripts and the tests' workers give it. Both only tune memory and speed; the worker
 * runs without them (the figures below are what they buy).
 *
 * An A1111 answer arrives as socket reads (≤ 64 KiB each, memory outside V8's heap, taken from the C library's
 * `malloc`) that the result's post passes on unjoined; once posted they are freed by a minor collection
 * (`large-result-gc.ts`). Two things then decide what the next large answer costs:
 * - V8's heap sizes (the flags): whether a collection runs during a job and moves an answer, still held, to the old
 *   generation, where it waits for a mark-compact.
 * - glibc's `malloc` (the environment): whether the memory of the freed reads stays in the process for the next
 *   answer, or goes back to the kernel and is faulted in again, page by page, by the next one.
 */

/**
 * Node flags the worker is launched with (`node …WORKER_NODE_FLAGS dist/handler/main.js`), V8's heap sizes in MB:
 * - `--initial-old-space-size=64`: the old generation starts at 64 MB, so that one large answer's memory outside the
 *   heap does not start a mark-compact (a starting limit, not memory taken: the heap stays ~12 MB; not allowed in
 *   `NODE_OPTIONS`, and read only when the heap is made, so it must be a flag of the command);
 * - `--max-semi-space-size=2`: the young generation stays at 2 × 2 MB (V8's default lets it grow to 2 × 16 MB): RSS
 *   after 400 small jobs 88–91 against 104–110 MiB, and fewer answers left in the old generation.
 *
 * Measured side by side with 20 MB results (`npm run bench`'s workers, emulator and simulator; every run is in
 * bench/RESULTS.md), ms per job / CPU ms per job / peak RSS:
 * - V8's defaults: 39–46 / 33–41 / 127–128 MiB. V8 starts a mark-compact during most 20 MB jobs.
 * - the old generation starting at 64 MB: 22–34 / 16–25 / 129–139 MiB. No mark-compact during a job, but the young
 *   generation grows to 16 MB and its scavenges move parts of answers to the old generation.
 * - that and a full collection after each large result: 28–37 / 38–48 / 115–120 MiB (the collection itself).
 * - both flags: 18–31 / 14–27 / 114–125 MiB; the spread of the CPU time is {@link WORKER_MALLOC_ENV}'s subject.
 * - both flags and {@link WORKER_MALLOC_ENV}: 19–23 / 15–17 / 112–113 MiB (four runs of the bench's cost section; the
 *   raw pass-through worker, with glibc's defaults, took 24–28 ms and 19–22 ms of CPU).
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64', '--max-semi-space-size=2'];

/**
 * glibc `malloc` settings of the worker's environment (read by glibc when the process starts, so they must be set by
 * its launcher; other C libraries ignore them). The names and meanings are glibc's (its manual, "Memory Allocation
 * Tunables"; `mallopt(3)`: `M_ARENA_MAX`, `M_TRIM_THRESHOLD`):
 * - `MALLOC_TRIM_THRESHOLD_` = 24 MiB: free memory at the top of the heap goes back to the kernel only once it reaches
 *   24 MiB (glibc's default starts at 128 KiB). With the default, in about half of the runs the heap's top held the
 *   20 MB of a posted answer's reads, glibc gave it back after every large job and the next one faulted it in again:
 *   4,000–4,700 page faults and 22–27 ms of CPU per 20 MB job, against 5 faults and 14–18 ms when it stayed. 24 MiB is
 *   above RunPod's 20 MB `/runsync` result (`MAX_RESULT_MB_SYNC`, default 19 MiB); a larger result's reads are
 *   given back, as before.
 * - `MALLOC_ARENA_MAX` = 1: every thread allocates from the one main arena. Setting the trim threshold turns off
 *   glibc's sliding thresholds; with it alone, V8's helper threads' arena sometimes kept 20–30 MB more (peak RSS
 *   137–143 against 114–122 MiB); with one arena, 108–113 MiB in every run. The worker's JavaScript runs on one
 *   thread; its small-job cost was unchanged.
 *
 * The launchers keep a value already set in their environment (`${MALLOC_ARENA_MAX:-1}` in `docker/start.sh`).
 */
export const WORKER_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '1',
  MALLOC_TRIM_THRESHOLD_: String(24 * 1024 * 1024),
};

/**
 * The worker's environment from `env`: {@link WORKER_MALLOC_ENV} where `env` does not set those names.
 * @param env the environment the caller would give the worker
 * @returns a new object; `env` is not changed
 */
export function withWorkerMallocEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...WORKER_MALLOC_ENV, ...env };
}
