/**
 * The files A1111 writes to disk for a generation, so that tests can see them (and see them removed): only when
 * the simulator was started with a data dir (`SimOptions.dataDir`, `--data-dir`), which stands for A1111's working
 * directory and `--data-dir` at once (in the pod `start.sh` runs A1111 from its own folder, the default data dir).
 *
 * What is written, after A1111 v1.10.1:
 * - samples (`save_images: true` and option `samples_save`): `modules/api/api.py` sets `p.outpath_samples =
 *   opts.outdir_txt2img_samples` (img2img: `outdir_img2img_samples`; the API does not read `outdir_samples`), and
 *   `modules/processing.py` saves each image with `images.save_image`;
 * - a grid (`save_images: true`, option `grid_save`, more than one image as `grid_only_if_multiple` wants) into
 *   `outdir_txt2img_grids` / `outdir_img2img_grids`, named `grid-NNNN.png`;
 * - init images (img2img, option `save_init_img`, whatever `save_images` says): `outdir_init_images/<md5>.png`,
 *   never in a dated folder (`processing.py` `StableDiffusionProcessingImg2Img.init`).
 *
 * `modules/images.py` `save_image`: the folder gets a `[date]` subfolder (`YYYY-MM-DD`) when `save_to_dirs` /
 * `grid_save_to_dirs`; names are `NNNNN-<seed>.png` numbered after the highest number already there
 * (`get_next_sequence_number`); each file is written as `<name>.tmp` and renamed into place; `save_txt` adds
 * `<name>.txt` with the infotext. Relative option values are resolved against the data dir (A1111: its cwd).
 * Per-job `override_settings` apply (A1111 sets them on `opts` for the job).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SimEnv } from './env.js';
import type { DecodedImage } from './image-decode.js';
import { encodeRgbPngSync } from './png.js';

/** What one generation produced, as far as saving goes. */
export interface SavedGeneration {
  tab: 'txt2img' | 'img2img';
  /** the validated request (`save_images`, `override_settings`) */
  req: Record<string, unknown>;
  /** PNGs returned (empty with `send_images: false`: then small stand-ins are written) */
  images: Buffer[];
  /** `Processed.js()` as returned (`all_seeds`, `infotexts`) */
  info: string;
  /** img2img's decoded init images */
  initImages?: DecodedImage[];
}

/** `YYYY-MM-DD` of the local date (A1111's `[date]` pattern: `datetime.date.today()`). */
function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** `get_next_sequence_number`: 1 + the highest leading number of the names starting with `prefix` (0 when none). */
async function nextNumber(dir: string, prefix: string): Promise<number> {
  let best = -1;
  for (const name of await readdir(dir)) {
    if (!name.startsWith(prefix)) continue;
    const n = Number.parseInt(name.slice(prefix.length).split(/[-.]/)[0] ?? '', 10);
    if (Number.isInteger(n)) best = Math.max(best, n);
  }
  return best + 1;
}

/** Writes `bytes` to `file` as `save_image` does: `<stem>.tmp` first, then renamed. */
async function atomicWrite(file: string, bytes: Buffer): Promise<void> {
  const tmp = `${file.slice(0, -path.extname(file).length)}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

/**
 * Writes the files of one generation under `env.dataDir` (nothing when it is unset). Called with the queue lock
 * held, before the response, as A1111 saves inside `process_images`.
 * @throws the file system's errors (the route answers 500, as A1111 would)
 */
export async function saveGenerationFiles(env: SimEnv, g: SavedGeneration): Promise<void> {
  const dataDir = env.dataDir;
  if (!dataDir) return;
  const opts: Record<string, unknown> = { ...env.catalog.options, ...((g.req['override_settings'] as Record<string, unknown> | null) ?? {}) };
  const folder = (key: string): string | null => {
    const v = opts[key];
    return typeof v === 'string' && v !== '' ? path.resolve(dataDir, v) : null;
  };
  let info: { all_seeds?: unknown; infotexts?: unknown } = {};
  try {
    info = JSON.parse(g.info) as typeof info;
  } catch {
    // Python's NaN/Infinity: no seeds, names use 0
  }
  const seeds = Array.isArray(info.all_seeds) ? (info.all_seeds as unknown[]) : [];
  const infotexts = Array.isArray(info.infotexts) ? (info.infotexts as unknown[]) : [];
  const count = Math.max(seeds.length, g.images.length);
  const standIn = (): Buffer => encodeRgbPngSync(Buffer.from([128, 128, 128]), 1, 1);

  if (g.req['save_images'] === true) {
    const samples = folder(`outdir_${g.tab}_samples`);
    if (samples && opts['samples_save'] !== false) {
      const dir = opts['save_to_dirs'] !== false ? path.join(samples, today()) : samples;
      await mkdir(dir, { recursive: true });
      let n = await nextNumber(dir, '');
      for (let i = 0; i < count; i++, n++) {
        const stem = path.join(dir, `${String(n).padStart(5, '0')}-${String(seeds[i] ?? 0)}`);
        await atomicWrite(`${stem}.png`, g.images[i] ?? standIn());
        if (opts['save_txt'] === true && typeof infotexts[i] === 'string') await writeFile(`${stem}.txt`, `${infotexts[i] as string}\n`);
      }
    }
    const grids = folder(`outdir_${g.tab}_grids`);
    if (grids && opts['grid_save'] !== false && (count > 1 || opts['grid_only_if_multiple'] === false)) {
      const dir = opts['grid_save_to_dirs'] !== false ? path.join(grids, today()) : grids;
      await mkdir(dir, { recursive: true });
      const n = await nextNumber(dir, 'grid-');
      await atomicWrite(path.join(dir, `grid-${String(n).padStart(4, '0')}.png`), g.images[0] ?? standIn());
    }
  }
  const init = folder('outdir_init_images');
  if (g.tab === 'img2img' && init && opts['save_init_img'] === true && g.initImages?.length) {
    await mkdir(init, { recursive: true });
    for (const img of g.initImages) {
      await atomicWrite(path.join(init, `${createHash('md5').update(img.bytes).digest('hex')}.png`), img.bytes);
    }
  }
}
