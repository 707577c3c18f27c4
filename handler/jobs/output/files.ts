/**
 * Removes the files A1111 writes to disk for a job, so the pod's disk does not fill (issue 12 item 7), unless
 * `KEEP_OUTPUTS=true`. Best effort: every failure is logged and never fails a job.
 *
 * What A1111 v1.10.1 writes for an API job (public sources, AUTOMATIC1111/stable-diffusion-webui):
 * - `modules/api/api.py`: txt2img/img2img set `do_not_save_samples = do_not_save_grid = not save_images` and
 *   `p.outpath_samples = opts.outdir_txt2img_samples` (img2img: `outdir_img2img_samples`), grids likewise; the
 *   extras routes call `run_extras(..., save_output=False)` and write nothing;
 * - `modules/processing.py`: img2img saves its init images to `outdir_init_images` when option `save_init_img` is on,
 *   whatever `save_images` says (and `override_settings` may turn it on per job); the X/Y/Z plot script saves its
 *   grids when option `grid_save` is on (default), also without `save_images`. So a job may write
 *   ({@link OutputFiles.mayWrite}) with `save_images`, with a selectable script (`script_name`), or as an img2img job
 *   with `save_init_img` on.
 * - `modules/images.py` `save_image`: `os.makedirs(path)` plus a `[date]` subfolder (`directories_filename_pattern`)
 *   when `save_to_dirs`; the image is written as `<name>.tmp` and renamed into place; `.txt` (`save_txt`) and a
 *   `.jpg` copy (`export_for_4chan`) may follow.
 * - Where: the `outdir_*` options ({@link OUTDIR_OPTIONS}, `modules/shared_options.py`; defaults
 *   `util.truncate_path(os.path.join(default_output_dir, 'txt2img-images'))` with `default_output_dir =
 *   <data_path>/outputs`, `modules/paths_internal.py`, `data_path` = `--data-dir`, default A1111's own folder). A
 *   relative value is relative to A1111's working directory; `docker/start.sh` runs A1111 from its own folder, which is
 *   the default data dir, so relative values are resolved against `GET /sdapi/v1/cmd-flags` `data_dir`. Jobs cannot
 *   change `outdir_*` (the settings deny-list, input/settings.ts), so the folders are read once per backend.
 *
 * How: before A1111 is called, {@link OutputFiles.begin} lists what is in those folders (recursively, never following
 * a symbolic link); after A1111 answered, {@link OutputFiles.end} lists them again and removes what is new: files
 * (and links, never their targets), then the new folders once empty, deepest first (a configured folder A1111
 * created during the job included). A folder that existed before is never removed, nor anything outside them. A
 * folder that is A1111's data dir or contains it is refused (a setting such as `.` would expose models and config).
 * While another job is running (several backends share the folders), what is new is kept aside and removed at the
 * next end when no other job runs (files unmodified for `settleMs` go at once), so a file A1111 is still writing
 * (`.tmp`, the `.jpg`/`.txt` that follow) is never pulled from under it. A job the worker stopped (cancel, timeout)
 * may still be saving in A1111 after its end: what it writes later stays.
 * A backend whose data dir is not readable here (A1111 on another machine) is logged once and skipped.
 */
import { lstat, readdir, realpath, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { A1111Client } from '../../a1111/client.js';
import type { Log } from '../../log.js';
import { isObject } from '../format.js';

/** The options naming A1111's output folders (`modules/shared_options.py`, section "Paths for saving"). */
export const OUTDIR_OPTIONS = [
  'outdir_samples',
  'outdir_txt2img_samples',
  'outdir_img2img_samples',
  'outdir_extras_samples',
  'outdir_grids',
  'outdir_txt2img_grids',
  'outdir_img2img_grids',
  'outdir_save',
  'outdir_init_images',
] as const;

/** One output folder: the option, its value as A1111 lists it, and the absolute path. */
export interface OutputFolder {
  option: string;
  value: string;
  path: string;
}

/** True when `child` is `parent` or lies inside it (both absolute, normalised). */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * The output folders of A1111's options: each non-empty `outdir_*` string resolved against `dataDir`. Folders that
 * are the data dir or contain it (`.`, `..`, `/`) are `refused`, with the reason.
 * @param dataDir absolute data dir (`GET /sdapi/v1/cmd-flags` `data_dir`)
 * @param options `GET /sdapi/v1/options` (other keys ignored)
 */
export function outputFolders(dataDir: string, options: Readonly<Record<string, unknown>>): { folders: OutputFolder[]; refused: (OutputFolder & { reason: string })[] } {
  const base = path.resolve(dataDir);
  const folders: OutputFolder[] = [];
  const refused: (OutputFolder & { reason: string })[] = [];
  for (const option of OUTDIR_OPTIONS) {
    const value = options[option];
    if (typeof value !== 'string' || value.trim() === '') continue;
    const p = path.resolve(base, value);
    if (isWithin(p, base)) refused.push({ option, value, path: p, reason: `it is or contains A1111's data dir ${base}` });
    else folders.push({ option, value, path: p });
  }
  return { folders, refused };
}

/** What is in the folders: real absolute path → directory or not. `complete` is false when the listing was cut. */
interface Listing {
  entries: Map<string, boolean>;
  complete: boolean;
}

/** The state kept between {@link OutputFiles.begin} and {@link OutputFiles.end} for one job. */
export interface OutputSession {
  readonly jobId: string;
  /** the configured folders (absolute) */
  readonly folders: readonly string[];
  /** what they held before A1111 was called */
  readonly before: Listing;
}

/** Options of {@link OutputFiles}. */
export interface OutputFilesOptions {
  /** `KEEP_OUTPUTS`: true = remove nothing (begin returns undefined). */
  keep: boolean;
  log: Log;
  /** Most entries listed per job (default 100 000); past it nothing is removed for that job (logged). */
  maxEntries?: number;
  /** Deepest folder level listed below a configured folder (default 16). */
  maxDepth?: number;
  /**
   * While other jobs run, a new file is removed only once unmodified for this long, ms (default 60 000): A1111 has
   * finished with it (save_image writes a file and its companions at once); younger ones wait for a quiet end.
   */
  settleMs?: number;
}

/** Per backend: its folders, or null when it is skipped (data dir not readable here, or no folder). */
type Folders = string[] | null;

/** pydantic 1's reading of a `bool` field as true (`validators.py` `bool_validator`). */
function pydanticTrue(v: unknown): boolean {
  return v === true || v === 1 || (typeof v === 'string' && ['1', 'on', 't', 'true', 'y', 'yes'].includes(v.toLowerCase()));
}

/** Python's truthiness of a JSON value (`if opts.save_init_img:` on an `override_settings` value, set unconverted). */
function pyTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && v !== null) return Object.keys(v).length > 0;
  return v !== false && v !== 0 && v !== '' && v !== null && v !== undefined;
}

/**
 * The cleaner, one per handler (all backends). `begin`/`end` never throw; their file-system work is run one at a
 * time, so one job's removal never interleaves with another's listing.
 */
export class OutputFiles {
  private readonly folders = new Map<string, Promise<Folders>>();
  private readonly maxEntries: number;
  private readonly maxDepth: number;
  private readonly settleMs: number;
  private chain: Promise<void> = Promise.resolve();
  /** Jobs between begin and end. */
  private running = 0;
  /** New entries seen while other jobs ran: removed at the next end when no other job runs. */
  private readonly pending = new Map<string, boolean>();
  /** Per backend URL: A1111's `save_init_img` option as last read or set by a `POST /options` job. */
  private readonly saveInitImg = new Map<string, boolean>();

  constructor(private readonly o: OutputFilesOptions) {
    this.maxEntries = o.maxEntries ?? 100_000;
    this.maxDepth = o.maxDepth ?? 16;
    this.settleMs = o.settleMs ?? 60_000;
  }

  /** True when `KEEP_OUTPUTS=true`. */
  get keep(): boolean {
    return this.o.keep;
  }

  /**
   * Whether a job may make A1111 write files (false with `KEEP_OUTPUTS=true`): txt2img/img2img with `save_images`
   * (read as pydantic reads a bool) or a selectable script (`script_name`, e.g. X/Y/Z plot's grids); img2img with
   * `override_settings.save_init_img` or with the backend's `save_init_img` option on, as last read (by
   * {@link begin}) or set by a `POST /sdapi/v1/options` job, which this call notes. A global `save_init_img` that
   * was never read is not known: its init images stay until a saving job has run once on that backend.
   */
  mayWrite(route: { name: string; method: string }, payload: unknown, backendUrl: string): boolean {
    if (!isObject(payload)) return false;
    if (route.method === 'POST' && route.name === 'options' && 'save_init_img' in payload) this.saveInitImg.set(backendUrl, pyTruthy(payload['save_init_img']));
    if (this.o.keep || (route.name !== 'txt2img' && route.name !== 'img2img')) return false;
    if (pydanticTrue(payload['save_images'])) return true;
    if (typeof payload['script_name'] === 'string' && payload['script_name'] !== '') return true;
    if (route.name !== 'img2img') return false;
    const ov = payload['override_settings'];
    if (isObject(ov) && 'save_init_img' in ov) return pyTruthy(ov['save_init_img']);
    return this.saveInitImg.get(backendUrl) === true;
  }

  /**
   * Lists the backend's output folders before its A1111 is called for job `jobId`. Undefined (nothing to do later)
   * with `KEEP_OUTPUTS=true`, or when the backend is skipped. Never throws.
   * @param backend the backend that runs the job (its `url` keys the folder cache)
   */
  async begin(jobId: string, backend: { url: string; client: A1111Client }): Promise<OutputSession | undefined> {
    if (this.o.keep) return undefined;
    let folders: Folders;
    try {
      folders = await this.foldersOf(backend);
    } catch (e) {
      this.o.log.warn(`Output cleanup skipped for this job: cannot read A1111's output folders from ${backend.url} (${errText(e)})`, jobId);
      return undefined;
    }
    if (!folders) return undefined;
    this.running++;
    const before = await this.serial(() => this.list(folders), undefined, jobId);
    if (!before) {
      this.running--;
      return undefined;
    }
    return { jobId, folders, before };
  }

  /**
   * After A1111 answered (or failed) for the session's job: removes what is new in the folders. Never throws;
   * returns when done (callers need not wait: {@link idle} does).
   */
  end(session: OutputSession): Promise<void> {
    this.running--;
    return this.serial(async () => {
      const after = await this.list(session.folders);
      if (!session.before.complete || !after.complete) {
        this.o.log.warn(`Output cleanup skipped: more than ${this.maxEntries} entries in A1111's output folders (${session.folders.join(', ')})`, session.jobId);
        return;
      }
      for (const [p, isDir] of after.entries) if (!session.before.entries.has(p)) this.pending.set(p, isDir);
      // Another job may be writing now: only files older than settleMs go; the rest at the next quiet end.
      await this.removePending(session, this.running > 0 ? this.settleMs : undefined);
    }, undefined, session.jobId);
  }

  /** Resolves when every begun listing and removal has finished. */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.chain;
      await seen;
    } while (seen !== this.chain);
  }

  /** Runs `fn` after the previous file-system work; a failure is logged and gives `fallback`, never a rejection. */
  private serial<T>(fn: () => Promise<T>, fallback: T, jobId: string): Promise<T> {
    const run = this.chain.then(fn).catch((e: unknown) => {
      this.o.log.warn(`Output cleanup failed: ${errText(e)}`, jobId);
      return fallback;
    });
    this.chain = run.then(() => undefined);
    return run;
  }

  /** The backend's folders (cached per URL; a failed read is retried on the next job). */
  private foldersOf(backend: { url: string; client: A1111Client }): Promise<Folders> {
    let p = this.folders.get(backend.url);
    if (!p) {
      p = this.readFolders(backend);
      this.folders.set(backend.url, p);
      p.catch(() => this.folders.delete(backend.url));
    }
    return p;
  }

  /**
   * Reads `GET /sdapi/v1/cmd-flags` (`data_dir`) and `GET /sdapi/v1/options` (`outdir_*`).
   * @throws A1111Error, or Error when an answer lacks `data_dir`
   */
  private async readFolders(backend: { url: string; client: A1111Client }): Promise<Folders> {
    const get = async (route: string): Promise<Record<string, unknown>> => {
      const res = await backend.client.call('GET', route, undefined, { noInterrupt: true });
      const v = JSON.parse(res.body.toString('utf8')) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`GET ${route}: answer is not a JSON object`);
      return v as Record<string, unknown>;
    };
    const flags = await get('/sdapi/v1/cmd-flags');
    const dataDir = flags['data_dir'];
    if (typeof dataDir !== 'string' || !path.isAbsolute(dataDir)) throw new Error(`GET /sdapi/v1/cmd-flags: no absolute data_dir (${JSON.stringify(dataDir)})`);
    try {
      if (!(await stat(dataDir)).isDirectory()) throw new Error('not a directory');
      await readdir(dataDir);
    } catch (e) {
      this.o.log.warn(`A1111's data dir ${dataDir} (${backend.url}) is not readable here (${errText(e)}): the files A1111 saves there are not removed (is A1111 on another machine?)`);
      return null;
    }
    const options = await get('/sdapi/v1/options');
    this.saveInitImg.set(backend.url, pyTruthy(options['save_init_img']));
    const { folders, refused } = outputFolders(dataDir, options);
    for (const r of refused) this.o.log.warn(`A1111's ${r.option}=${JSON.stringify(r.value)} (${r.path}): files there are not removed, ${r.reason}`);
    this.o.log.info(`Files A1111 (${backend.url}) saves for a job are removed after it from: ${folders.map((f) => f.path).join(', ') || 'no folder'} (KEEP_OUTPUTS=true keeps them)`);
    return folders.length ? folders.map((f) => f.path) : null;
  }

  /** Lists every configured folder that exists (real paths; nested folders once). */
  private async list(folders: readonly string[]): Promise<Listing> {
    const roots: string[] = [];
    for (const f of folders) {
      try {
        const real = await realpath(f);
        if ((await stat(real)).isDirectory()) roots.push(real);
      } catch {
        // not created yet: A1111 creates it when it first saves there
      }
    }
    const listing: Listing = { entries: new Map(), complete: true };
    // The folders themselves: one A1111 created during the job goes too, once empty.
    for (const root of roots) listing.entries.set(root, true);
    for (const root of roots) {
      if (roots.some((r) => r !== root && isWithin(r, root))) continue; // listed with the folder that holds it
      await this.walk(root, 0, listing);
      if (!listing.complete) break;
    }
    return listing;
  }

  /** Adds what `dir` holds, recursively; symbolic links are entries, never followed. */
  private async walk(dir: string, depth: number, listing: Listing): Promise<void> {
    let names;
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // removed meanwhile, or unreadable
    }
    for (const d of names) {
      if (listing.entries.size >= this.maxEntries) {
        listing.complete = false;
        return;
      }
      const p = path.join(dir, d.name);
      const isDir = d.isDirectory();
      listing.entries.set(p, isDir);
      if (isDir && depth < this.maxDepth) await this.walk(p, depth + 1, listing);
    }
  }

  /**
   * Removes the pending entries: non-folders first, then (only without `settleMs`) the folders, deepest first, each
   * only if empty. With `settleMs`, only files unmodified for that long (ms) go; the rest stay pending.
   */
  private async removePending(session: OutputSession, settleMs?: number): Promise<void> {
    const entries = [...this.pending];
    let files = 0;
    let dirs = 0;
    const failures: string[] = [];
    for (const [p, isDir] of entries) {
      if (isDir) continue;
      try {
        const st = await lstat(p);
        if (settleMs !== undefined && settleMs > 0 && Date.now() - st.mtimeMs < settleMs) continue; // may still be written
        this.pending.delete(p);
        if (st.isDirectory()) continue; // replaced by a folder meanwhile: left alone
        await unlink(p);
        files++;
      } catch (e) {
        this.pending.delete(p);
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') failures.push(`${p}: ${errText(e)}`);
      }
    }
    const folders = settleMs === undefined ? entries.filter(([, isDir]) => isDir).map(([p]) => p) : [];
    for (const p of folders) this.pending.delete(p);
    folders.sort((a, b) => b.split(path.sep).length - a.split(path.sep).length);
    for (const p of folders) {
      try {
        await rmdir(p); // only an empty folder goes
        dirs++;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') failures.push(`${p}: ${errText(e)}`);
      }
    }
    if (files || dirs) this.o.log.debug(`Removed ${files} file(s) and ${dirs} folder(s) A1111 saved (KEEP_OUTPUTS=false)`, session.jobId);
    if (failures.length) this.o.log.warn(`Could not remove ${failures.length} file(s) A1111 saved: ${failures.slice(0, 3).join('; ')}`, session.jobId);
  }
}

/** An error's message in one line. */
function errText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}
