/**
 * A1111's name lists (samplers, schedulers, checkpoints, VAEs, upscalers, LoRAs, prompt styles, scripts, options, and
 * the ControlNet and ADetailer model lists), fetched from their GET routes (`LIST_PATHS` in `list-entries.ts`, e.g.
 * `/sdapi/v1/samplers`, `/controlnet/model_list`) on first use and cached, so that job payloads can be checked against
 * them before the generation call (A1111 silently substitutes unknown sampler, scheduler, checkpoint and VAE
 * names: docs/a1111-api.md: "Sampler and scheduler resolution (v1.10)", "`override_settings`, model switching, options").
 *
 * A cached list is refreshed only when a name is missing from it ({@link A1111Lists.refresh}): for checkpoints,
 * VAEs and LoRAs A1111 first rescans its model folder (`POST /sdapi/v1/refresh-checkpoints`, `refresh-vae`,
 * `refresh-loras`), then the list is fetched again. A list is refreshed at most once per `refreshIntervalMs`
 * (default 30 s), so a stream of jobs with a misspelt name does not turn into a stream of folder rescans.
 */
import type { Log } from '../log.js';
import { type A1111Caller } from './client.js';
import { A1111Error } from '../errors/index.js';
import { EMPTY_ENTRIES, LIST_PATHS, namesFor, PARSERS, REFRESH_ROUTES, type ListEntries, type ListName } from './list-entries.js';
import { ShapeError } from '../errors/index.js';

export {
  checkpointAliases,
  LIST_NAMES,
  LIST_PATHS,
  REFRESH_ROUTES,
  type CheckpointEntry,
  type ListEntries,
  type ListName,
  type LoraEntry,
  type SamplerEntry,
  type SchedulerEntry,
  type ScriptInfoEntry,
  type ScriptLists,
} from './list-entries.js';

/** One list as last fetched. */
export interface ListSnapshot<L extends ListName = ListName> {
  readonly list: L;
  /**
   * False when A1111 has no such list or did not give it (e.g. `/schedulers` before A1111 1.9 answers 404, `/loras`
   * without the built-in Lora extension): checks against it are skipped. Then `entries` is empty and `error` says why.
   */
  readonly available: boolean;
  readonly entries: ListEntries[L];
  /**
   * Every name A1111 accepts for this list, exactly (case-sensitive): sampler names; scheduler names and labels;
   * checkpoint aliases (see {@link CheckpointEntry.aliases}); VAE file names; upscaler names; latent upscale mode
   * names; LoRA names and aliases; style names; script names of both tabs (lower-case).
   */
  readonly names: ReadonlySet<string>;
  /** The names to show in messages, in A1111's order (checkpoints by title, LoRAs by name). */
  readonly shown: readonly string[];
  /** `performance.now()` when fetched. */
  readonly fetchedAt: number;
  /** Why the list is not available. */
  readonly error?: string;
}

/** Options of {@link A1111Lists}. */
export interface A1111ListsOptions {
  /** A list is refreshed at most once per this many ms (default 30 000). */
  refreshIntervalMs?: number;
  /** Timeout of one list or refresh call, ms (default 30 000, at most `A1111_REQUEST_TIMEOUT_S`). */
  timeoutMs?: number;
  /** How long a list that A1111 did not give (404, 5xx, timeout, bad answer) counts as unavailable before the next try, ms (default 30 000). */
  unavailableForMs?: number;
  /** Clock (ms, monotonic); default `performance.now`. Tests inject one. */
  now?: () => number;
}

interface CacheEntry {
  snapshot?: ListSnapshot;
  /** In-flight fetch or refresh, shared by every caller. */
  pending?: Promise<ListSnapshot>;
  /** Whether `pending` is a refresh (rescan + fetch) rather than a plain fetch. */
  pendingRefresh?: boolean;
  /**
   * When the list last reflected A1111's folders: the last refresh for lists with a refresh route; the last fetch
   * for the others (fetching again right away would give the same list).
   */
  freshAt: number;
}

/** Resolves with `p`, or rejects with an `aborted` A1111Error as soon as `signal` aborts (`p` keeps running). */
function withSignal<T>(p: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return p;
  const aborted = () => new A1111Error(`A1111 call ${what} aborted: ${String(signal.reason ?? 'stopped')}`, 'aborted', null, 'GET', what);
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * Caches A1111's name lists (fetched with `client.call('GET', LIST_PATHS[list])`), refreshing a list at most
 * once per miss and per `refreshIntervalMs`.
 *
 * Concurrent callers share one fetch per list; a caller's `signal` only stops its own wait, never the shared fetch.
 * A list A1111 does not give (404 — e.g. `/schedulers` before 1.9 —, another HTTP error, a timeout, an answer
 * that is not the list) is cached as unavailable for `unavailableForMs` and logged once; callers skip its checks.
 */
export class A1111Lists {
  private readonly cache = new Map<ListName, CacheEntry>();
  private readonly refreshIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly unavailableForMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: A1111Caller,
    private readonly log: Log,
    opts: A1111ListsOptions = {},
  ) {
    this.refreshIntervalMs = opts.refreshIntervalMs ?? 30_000;
    this.timeoutMs = Math.min(opts.timeoutMs ?? 30_000, client.config.requestTimeoutMs);
    this.unavailableForMs = opts.unavailableForMs ?? 30_000;
    this.now = opts.now ?? (() => performance.now());
  }

  private entry(list: ListName): CacheEntry {
    let e = this.cache.get(list);
    if (!e) {
      e = { freshAt: -Infinity };
      this.cache.set(list, e);
    }
    return e;
  }

  /**
   * A list: the cached snapshot, or fetched now on first use (and again once an unavailable list's
   * `unavailableForMs` has passed).
   * @throws A1111Error `unreachable` when A1111 cannot be reached, `aborted` when `signal` aborts
   */
  async get<L extends ListName>(list: L, signal?: AbortSignal): Promise<ListSnapshot<L>> {
    const e = this.entry(list);
    const s = e.snapshot;
    if (s && (s.available || this.now() - s.fetchedAt < this.unavailableForMs)) return s as ListSnapshot<L>;
    if (!e.pending) e.pending = this.load(list, false);
    return (await withSignal(e.pending, signal, LIST_PATHS[list])) as ListSnapshot<L>;
  }

  /**
   * The names of a list that A1111 accepts (for sd-models every alias: title, file name, model_name, base name,
   * hashes; see {@link ListSnapshot.names}). Fetched on first use, then cached. Empty when the list is unavailable.
   * @throws A1111Error `unreachable` when A1111 cannot be reached, `aborted` when `signal` aborts
   */
  async names(list: ListName, signal?: AbortSignal): Promise<ReadonlySet<string>> {
    return (await this.get(list, signal)).names;
  }

  /**
   * After a miss: POSTs the list's refresh route where A1111 has one (`refresh-checkpoints` for sd-models,
   * `refresh-vae` for sd-vae, `refresh-loras` for loras; a failure of that call is logged and the list is fetched
   * anyway), then fetches the list again. Does nothing when the list was refreshed less than `refreshIntervalMs`
   * ago (for lists without a refresh route: fetched), so repeated misses cause no refresh storm. Concurrent calls
   * share one refresh.
   * @returns true when the list was refreshed (or a running refresh was joined), false when skipped
   * @throws A1111Error `unreachable` when A1111 cannot be reached, `aborted` when `signal` aborts
   */
  async refresh(list: ListName, signal?: AbortSignal): Promise<boolean> {
    const e = this.entry(list);
    // A plain first fetch under way does not rescan anything: let it finish, then decide.
    while (e.pending && !e.pendingRefresh) await withSignal(e.pending, signal, LIST_PATHS[list]);
    if (!e.pending) {
      if (this.now() - e.freshAt < this.refreshIntervalMs) return false;
      e.pending = this.load(list, true);
      e.pendingRefresh = true;
    }
    await withSignal(e.pending, signal, LIST_PATHS[list]);
    return true;
  }

  /** Forgets cached lists (all, or one), e.g. after a job called a `refresh-*` route itself. */
  invalidate(list?: ListName): void {
    if (list) this.cache.delete(list);
    else this.cache.clear();
  }

  /** Fetches (after the refresh route, when `refresh`) and caches a list; clears `pending` when done. */
  private async load(list: ListName, refresh: boolean): Promise<ListSnapshot> {
    const e = this.entry(list);
    try {
      const route = REFRESH_ROUTES[list];
      if (refresh && route) {
        this.log.info(`Refreshing A1111's ${list} list (POST ${route}) after a name was not found`);
        try {
          await this.client.call('POST', route, {}, { timeoutMs: this.timeoutMs, timeoutName: 'name check timeout', noInterrupt: true });
        } catch (err) {
          if (err instanceof A1111Error && err.kind === 'unreachable') throw err;
          this.log.warn(`POST ${route} failed (${(err as Error).message}); fetching the ${list} list anyway`);
        }
      }
      const snapshot = await this.fetch(list);
      e.snapshot = snapshot;
      if (refresh || !route) e.freshAt = snapshot.fetchedAt;
      return snapshot;
    } finally {
      e.pending = undefined;
      e.pendingRefresh = false;
    }
  }

  private async fetch(list: ListName): Promise<ListSnapshot> {
    const path = LIST_PATHS[list];
    let why: string;
    try {
      const res = await this.client.call('GET', path, undefined, { timeoutMs: this.timeoutMs, timeoutName: 'name check timeout', noInterrupt: true });
      const entries = PARSERS[list](JSON.parse(res.body.toString('utf8')) as unknown);
      const { names, shown } = namesFor(list, entries);
      this.log.debug(`A1111 ${list}: ${shown.length} entries`);
      return { list, available: true, entries, names, shown, fetchedAt: this.now() };
    } catch (err) {
      if (err instanceof A1111Error && (err.kind === 'unreachable' || err.kind === 'aborted')) throw err;
      why = err instanceof A1111Error || err instanceof ShapeError ? err.message : `GET ${path}: answer is not JSON`;
    }
    this.log.warn(`A1111's ${list} list is not available (${why}); names checked against it are not checked for ${Math.round(this.unavailableForMs / 1000)} s`);
    return { list, available: false, entries: EMPTY_ENTRIES[list], names: new Set(), shown: [], fetchedAt: this.now(), error: why };
  }
}
