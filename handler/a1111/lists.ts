/**
 * A1111's name lists (samplers, schedulers, checkpoints, VAEs, upscalers, LoRAs, prompt styles, scripts), fetched
 * from its `GET /sdapi/v1/<list>` routes on first use and cached, so that job payloads can be checked against
 * them before the generation call (A1111 silently substitutes unknown sampler, scheduler, checkpoint and VAE
 * names: spec a1111 §2.11, §2.12).
 *
 * A cached list is refreshed only when a name is missing from it ({@link A1111Lists.refresh}): for checkpoints,
 * VAEs and LoRAs A1111 first rescans its model folder (`POST /sdapi/v1/refresh-checkpoints`, `refresh-vae`,
 * `refresh-loras`), then the list is fetched again. A list is refreshed at most once per `refreshIntervalMs`
 * (default 30 s), so a stream of jobs with a misspelt name does not turn into a stream of folder rescans.
 */
import type { Log } from '../log.js';
import { A1111Error, type A1111Caller } from './client.js';

/** The list routes names are checked against (paths after `/sdapi/v1/`; spec a1111 §2.5). */
export type ListName =
  | 'samplers'
  | 'schedulers'
  | 'sd-models'
  | 'sd-vae'
  | 'upscalers'
  | 'latent-upscale-modes'
  | 'loras'
  | 'prompt-styles'
  | 'scripts';

/** Every {@link ListName}. */
export const LIST_NAMES: readonly ListName[] = Object.freeze([
  'samplers',
  'schedulers',
  'sd-models',
  'sd-vae',
  'upscalers',
  'latent-upscale-modes',
  'loras',
  'prompt-styles',
  'scripts',
]);

/** The refresh route A1111 has for a list (a rescan of its model folder), by list. */
export const REFRESH_ROUTES: Readonly<Partial<Record<ListName, string>>> = Object.freeze({
  'sd-models': '/sdapi/v1/refresh-checkpoints',
  'sd-vae': '/sdapi/v1/refresh-vae',
  loras: '/sdapi/v1/refresh-loras',
});

/** A sampler of `GET /sdapi/v1/samplers`: `[{name, aliases, options}]`. */
export interface SamplerEntry {
  readonly name: string;
  /** Old names (`k_euler_a`); A1111's API does **not** accept them (spec §2.11), they only help suggestions. */
  readonly aliases: readonly string[];
  /** The sampler's default scheduler (`options.scheduler`, e.g. `karras`), when it has one. */
  readonly defaultScheduler: string | null;
}

/** A scheduler of `GET /sdapi/v1/schedulers`: `[{name, label, aliases, …}]` (A1111 1.9+). */
export interface SchedulerEntry {
  /** e.g. `karras` */
  readonly name: string;
  /** e.g. `Karras` */
  readonly label: string;
  /** e.g. `["SGMUniform"]`: recognised as a sampler-name suffix only, not as a `scheduler` value (spec §2.11). */
  readonly aliases: readonly string[];
}

/** A checkpoint of `GET /sdapi/v1/sd-models`: `[{title, model_name, hash, sha256, filename, config}]`. */
export interface CheckpointEntry {
  /** `name.safetensors [shorthash]`, or the file name when A1111 runs with `--no-hashing` */
  readonly title: string;
  readonly model_name: string;
  readonly hash: string | null;
  readonly sha256: string | null;
  readonly filename: string;
  /**
   * Every value A1111's `checkpoint_aliases` maps to this checkpoint, as far as the list shows them (spec §2.12):
   * the title, the file name relative to the models folder (title without ` [hash]`), `model_name`, the file's
   * base name without extension, `<that> [hash]`, and the short and full hashes. (A1111 also takes the old
   * 8-character hash, which `/sd-models` does not show, so it is not accepted here.)
   */
  readonly aliases: readonly string[];
}

/** A LoRA of `GET /sdapi/v1/loras`: `[{name, alias, path, metadata}]`; prompts may use the name or the alias. */
export interface LoraEntry {
  readonly name: string;
  readonly alias: string | null;
}

/** The selectable and always-on scripts of `GET /sdapi/v1/scripts`, per tab, lower-case as A1111 lists them. */
export interface ScriptLists {
  readonly txt2img: readonly string[];
  readonly img2img: readonly string[];
}

/** The parsed entries of each list. */
export interface ListEntries {
  samplers: readonly SamplerEntry[];
  schedulers: readonly SchedulerEntry[];
  'sd-models': readonly CheckpointEntry[];
  /** `GET /sdapi/v1/sd-vae` `[{model_name, filename}]`: the `model_name`s (file names such as `sdxl_vae.safetensors`) */
  'sd-vae': readonly string[];
  /** `GET /sdapi/v1/upscalers` `[{name, …}]`: the names (including `None`) */
  upscalers: readonly string[];
  /** `GET /sdapi/v1/latent-upscale-modes` `[{name}]`: the names */
  'latent-upscale-modes': readonly string[];
  loras: readonly LoraEntry[];
  /** `GET /sdapi/v1/prompt-styles` `[{name, prompt, negative_prompt}]`: the names */
  'prompt-styles': readonly string[];
  scripts: ScriptLists;
}

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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** Thrown by the parsers when a 2xx answer does not have the list's shape. */
class ShapeError extends Error {}

function items(body: unknown, list: ListName): Record<string, unknown>[] {
  if (!Array.isArray(body)) throw new ShapeError(`GET /sdapi/v1/${list} did not answer a JSON array`);
  return body.filter(isRecord);
}

function namesOf(body: unknown, list: ListName, key = 'name'): string[] {
  return items(body, list)
    .map((i) => stringOrNull(i[key]))
    .filter((n): n is string => n !== null);
}

const CHECKSUM_SUFFIX = /\s*\[[^\]]+\]\s*$/;

/** The part of a path after the last `/` or `\`. */
function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

function withoutExtension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** The aliases A1111 registers for a checkpoint (`CheckpointInfo.ids`, spec §2.12), from its `/sd-models` entry. */
export function checkpointAliases(e: { title: string; model_name: string; hash: string | null; sha256: string | null; filename: string }): string[] {
  const name = e.title.replace(CHECKSUM_SUFFIX, '');
  const nameForExtra = withoutExtension(baseName(e.filename || name));
  const out = [e.title, name, e.model_name, nameForExtra];
  if (e.hash) out.push(`${name} [${e.hash}]`, `${nameForExtra} [${e.hash}]`, e.hash);
  if (e.sha256) out.push(e.sha256);
  return [...new Set(out.filter((a) => a !== ''))];
}

const PARSERS: { [L in ListName]: (body: unknown) => ListEntries[L] } = {
  samplers: (body) =>
    items(body, 'samplers')
      .filter((i) => stringOrNull(i.name) !== null)
      .map((i) => ({
        name: i.name as string,
        aliases: Array.isArray(i.aliases) ? i.aliases.filter((a): a is string => typeof a === 'string' && a !== '') : [],
        defaultScheduler: isRecord(i.options) ? stringOrNull(i.options.scheduler) : null,
      })),
  schedulers: (body) =>
    items(body, 'schedulers')
      .filter((i) => stringOrNull(i.name) !== null)
      .map((i) => ({
        name: i.name as string,
        label: stringOrNull(i.label) ?? (i.name as string),
        aliases: Array.isArray(i.aliases) ? i.aliases.filter((a): a is string => typeof a === 'string' && a !== '') : [],
      })),
  'sd-models': (body) =>
    items(body, 'sd-models')
      .filter((i) => stringOrNull(i.title) !== null)
      .map((i) => {
        const e = {
          title: i.title as string,
          model_name: stringOrNull(i.model_name) ?? (i.title as string).replace(CHECKSUM_SUFFIX, ''),
          hash: stringOrNull(i.hash),
          sha256: stringOrNull(i.sha256),
          filename: stringOrNull(i.filename) ?? '',
        };
        return { ...e, aliases: checkpointAliases(e) };
      }),
  'sd-vae': (body) => namesOf(body, 'sd-vae', 'model_name'),
  upscalers: (body) => namesOf(body, 'upscalers'),
  'latent-upscale-modes': (body) => namesOf(body, 'latent-upscale-modes'),
  loras: (body) =>
    items(body, 'loras')
      .filter((i) => stringOrNull(i.name) !== null)
      .map((i) => ({ name: i.name as string, alias: stringOrNull(i.alias) })),
  'prompt-styles': (body) => namesOf(body, 'prompt-styles'),
  scripts: (body) => {
    if (!isRecord(body)) throw new ShapeError('GET /sdapi/v1/scripts did not answer a JSON object');
    const tab = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string' && n !== '') : []);
    return { txt2img: tab(body.txt2img), img2img: tab(body.img2img) };
  },
};

/** The accepted names and the names shown, of parsed entries (see {@link ListSnapshot.names}). */
function namesFor<L extends ListName>(list: L, entries: ListEntries[L]): { names: Set<string>; shown: string[] } {
  const e = entries as ListEntries[ListName];
  switch (list) {
    case 'samplers': {
      const shown = (e as ListEntries['samplers']).map((s) => s.name);
      return { names: new Set(shown), shown };
    }
    case 'schedulers': {
      const s = e as ListEntries['schedulers'];
      return { names: new Set(s.flatMap((x) => [x.name, x.label])), shown: s.map((x) => x.name) };
    }
    case 'sd-models': {
      const c = e as ListEntries['sd-models'];
      return { names: new Set(c.flatMap((x) => x.aliases)), shown: c.map((x) => x.title) };
    }
    case 'loras': {
      const l = e as ListEntries['loras'];
      return { names: new Set(l.flatMap((x) => (x.alias ? [x.name, x.alias] : [x.name]))), shown: l.map((x) => x.name) };
    }
    case 'scripts': {
      const s = e as ListEntries['scripts'];
      const shown = [...new Set([...s.txt2img, ...s.img2img])];
      return { names: new Set(shown), shown };
    }
    default: {
      const shown = [...(e as readonly string[])];
      return { names: new Set(shown), shown };
    }
  }
}

const EMPTY_ENTRIES: ListEntries = {
  samplers: [],
  schedulers: [],
  'sd-models': [],
  'sd-vae': [],
  upscalers: [],
  'latent-upscale-modes': [],
  loras: [],
  'prompt-styles': [],
  scripts: { txt2img: [], img2img: [] },
};

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
 * Caches A1111's name lists (fetched with `client.call('GET', '/sdapi/v1/<list>')`), refreshing a list at most
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
    return (await withSignal(e.pending, signal, `/sdapi/v1/${list}`)) as ListSnapshot<L>;
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
    while (e.pending && !e.pendingRefresh) await withSignal(e.pending, signal, `/sdapi/v1/${list}`);
    if (!e.pending) {
      if (this.now() - e.freshAt < this.refreshIntervalMs) return false;
      e.pending = this.load(list, true);
      e.pendingRefresh = true;
    }
    await withSignal(e.pending, signal, `/sdapi/v1/${list}`);
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
    const path = `/sdapi/v1/${list}`;
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
