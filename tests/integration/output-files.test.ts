/**
 * Files A1111 saves for a job are removed after it (issue 12 item 7), through the real job handler against the
 * A1111 simulator started with a temporary data dir (`dataDir`: it reports it in `GET /sdapi/v1/cmd-flags` and
 * writes saved images, grids and init images there as A1111's `save_image` does). Real files, real loopback.
 */
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Lists } from '../../handler/a1111/lists.js';
import { loadConfig } from '../../handler/config.js';
import { createA1111Handler, type JobContext } from '../../handler/jobs/handler.js';
import { OutputFiles } from '../../handler/jobs/output/files.js';
import { silentLog, type Log } from '../../handler/log.js';
import { RawJson } from '../../handler/runpod/index.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { a1111Config } from '../helpers/fixtures.js';
import { greyPng, postJson } from '../helpers/http-json.js';

const LIMITS = loadConfig([], {}).limits;

let root: string;
let dataDir: string;
let sim: Simulator;
let client: A1111Client;
let lists: A1111Lists;
let jobNo = 0;

/** Every path under `dir` (relative, `/`-separated, folders with a trailing `/`), sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const rel = path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/');
    out.push(e.isDirectory() ? `${rel}/` : rel);
  }
  return out.sort();
}

/** A Log that keeps every line. */
function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

const ctx = (): JobContext => ({ signal: new AbortController().signal, rawJson: (b) => new RawJson(b), progress: () => undefined, stream: async () => undefined });

/** Runs one job through a handler with `files` and waits until its cleanup is done. */
async function runJob(files: OutputFiles, input: unknown, log: Log = silentLog): Promise<Record<string, unknown>> {
  const handler = createA1111Handler({ client, limits: LIMITS, log, lists, outputFiles: files });
  const out = (await handler({ id: `job-${++jobNo}`, input }, ctx())) as Record<string, unknown>;
  await files.idle();
  return out instanceof RawJson ? (JSON.parse(out.bytes.toString('utf8')) as Record<string, unknown>) : out;
}

const txt2img = (payload: Record<string, unknown>) => ({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'a cat', steps: 2, width: 64, height: 64, ...payload } });

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'output-files-'));
  dataDir = path.join(root, 'webui');
  sim = await startSimulator({ port: 0, stepMs: 0, dataDir });
  client = new A1111Client(a1111Config({ url: sim.url, readyTimeoutMs: 5000, requestTimeoutMs: 30_000 }), silentLog);
  lists = new A1111Lists(client, silentLog);
});
afterAll(async () => {
  await sim.close();
  await rm(root, { recursive: true, force: true });
});

/** What the data dir holds before each test: A1111's own files and earlier outputs, which must stay. */
beforeEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(path.join(dataDir, 'models/Stable-diffusion'), { recursive: true });
  await writeFile(path.join(dataDir, 'config.json'), '{}');
  await mkdir(path.join(dataDir, 'outputs/txt2img-images/2020-01-01'), { recursive: true });
  await writeFile(path.join(dataDir, 'outputs/txt2img-images/2020-01-01/00000-1.png'), 'old');
  await writeFile(path.join(dataDir, 'outputs/txt2img-images/notes.txt'), 'old');
});
afterEach(async () => {
  await postJson(`${sim.url}/sdapi/v1/options`, { save_init_img: false, save_txt: false });
});

describe('files A1111 saves for a job', () => {
  it('save_images: true with a batch of 2 (images, grid, .txt) leaves nothing new; older files stay', async () => {
    await postJson(`${sim.url}/sdapi/v1/options`, { save_txt: true });
    const before = await tree(dataDir);
    const log = recordingLog();
    const out = await runJob(new OutputFiles({ keep: false, log }), txt2img({ save_images: true, batch_size: 2 }), log);
    expect(out.images).toHaveLength(2);
    expect(await tree(dataDir)).toEqual(before);
    expect(log.lines.join('\n')).toMatch(/DEBUG Removed 5 file\(s\) and 3 folder\(s\) A1111 saved/);
    expect(log.lines.join('\n')).toContain(`from: ${path.join(dataDir, 'outputs/txt2img-images')}, `);
  });

  it('KEEP_OUTPUTS=true: the saved images and the grid stay where A1111 put them', async () => {
    const before = await tree(dataDir);
    await runJob(new OutputFiles({ keep: true, log: silentLog }), txt2img({ save_images: true, batch_size: 2, seed: 7 }));
    const added = (await tree(dataDir)).filter((p) => !before.includes(p));
    const day = added.find((p) => p.startsWith('outputs/txt2img-images/') && p.endsWith('/'))!;
    expect(day).toMatch(/^outputs\/txt2img-images\/\d{4}-\d{2}-\d{2}\/$/);
    expect(added).toEqual(
      [day, `${day}00000-7.png`, `${day}00001-8.png`, 'outputs/txt2img-grids/', `outputs/txt2img-grids/${day.split('/')[2]}/`, `outputs/txt2img-grids/${day.split('/')[2]}/grid-0000.png`].sort(),
    );
  });

  it('KEEP_OUTPUTS comes from the config: the handler built without outputFiles keeps files when it is true', async () => {
    const before = await tree(dataDir);
    const output = { ...loadConfig([], { KEEP_OUTPUTS: 'true' }).output };
    expect(output.keepOutputs).toBe(true);
    const handler = createA1111Handler({ client, limits: LIMITS, log: silentLog, lists, output });
    await handler({ id: 'keep-env', input: txt2img({ save_images: true }) }, ctx());
    expect((await tree(dataDir)).length).toBeGreaterThan(before.length);
    expect(loadConfig([], {}).output.keepOutputs).toBe(false);
  });

  it('img2img with save_init_img (not gated by save_images) leaves no init image behind', async () => {
    const before = await tree(dataDir);
    const files = new OutputFiles({ keep: false, log: silentLog });
    const input = { api: { method: 'POST', endpoint: '/sdapi/v1/img2img' }, payload: { prompt: 'x', steps: 2, width: 64, height: 64, init_images: [greyPng(64, 64)], override_settings: { save_init_img: true } } };
    await runJob(new OutputFiles({ keep: true, log: silentLog }), input);
    expect((await tree(dataDir)).some((p) => /^outputs\/init-images\/[0-9a-f]{32}\.png$/.test(p))).toBe(true);
    await rm(path.join(dataDir, 'outputs/init-images'), { recursive: true });
    await runJob(files, input);
    expect(await tree(dataDir)).toEqual(before); // outputs/init-images, made by the job, went too
  });

  it('img2img after a POST /options job turned save_init_img on: the init image goes too', async () => {
    const before = await tree(dataDir);
    const files = new OutputFiles({ keep: false, log: silentLog });
    await runJob(files, { api: { method: 'POST', endpoint: '/sdapi/v1/options' }, payload: { save_init_img: true } });
    await runJob(files, { api: { method: 'POST', endpoint: '/sdapi/v1/img2img' }, payload: { prompt: 'x', steps: 2, width: 64, height: 64, init_images: [greyPng(64, 64)] } });
    expect(await tree(dataDir)).toEqual(before);
  });

  it('a job that saves nothing costs no extra A1111 call and removes nothing', async () => {
    const before = await tree(dataDir);
    const n = sim.requests.length;
    await runJob(new OutputFiles({ keep: false, log: silentLog }), txt2img({}));
    const paths = sim.requests.slice(n).map((r) => r.path);
    expect(paths).toContain('/sdapi/v1/txt2img');
    expect(paths).not.toContain('/sdapi/v1/cmd-flags');
    expect(paths).not.toContain('/sdapi/v1/options');
    expect(await tree(dataDir)).toEqual(before);
  });
});

describe('OutputFiles on its own (files made by the test between begin and end)', () => {
  const backend = () => ({ url: sim.url, client });

  it('removes new files and new folders only inside the output folders, never through a link', async () => {
    const outside = path.join(root, 'outside');
    await rm(outside, { recursive: true, force: true });
    await mkdir(outside);
    await symlink(outside, path.join(dataDir, 'outputs/txt2img-images/link'));
    const files = new OutputFiles({ keep: false, log: silentLog });
    const s = await files.begin('j', backend());
    expect(s).toBeDefined();
    await writeFile(path.join(outside, 'via-link.png'), 'x'); // new, but reached only through the link
    await writeFile(path.join(dataDir, 'config2.json'), 'x'); // new, but outside the output folders
    await mkdir(path.join(dataDir, 'outputs/txt2img-images/2020-01-01/deep/er'), { recursive: true });
    await writeFile(path.join(dataDir, 'outputs/txt2img-images/2020-01-01/deep/er/a.png'), 'x');
    await writeFile(path.join(dataDir, 'outputs/txt2img-images/2020-01-01/00001-2.tmp'), 'x');
    await files.end(s!);
    expect(await readdir(outside)).toEqual(['via-link.png']);
    expect(await readdir(dataDir)).toContain('config2.json');
    expect(await tree(path.join(dataDir, 'outputs/txt2img-images'))).toEqual(['2020-01-01/', '2020-01-01/00000-1.png', 'link', 'notes.txt']);
  });

  it('while another job runs, young new files wait for the quiet end; settled ones go at once', async () => {
    const dir = path.join(dataDir, 'outputs/txt2img-images');
    const files = new OutputFiles({ keep: false, log: silentLog });
    const a = (await files.begin('a', backend()))!;
    const b = (await files.begin('b', backend()))!;
    await writeFile(path.join(dir, 'new.png'), 'x');
    await files.end(a);
    expect(await readdir(dir)).toContain('new.png'); // b may still be writing it
    await files.end(b);
    expect(await readdir(dir)).not.toContain('new.png');

    const eager = new OutputFiles({ keep: false, log: silentLog, settleMs: 0 });
    const c = (await eager.begin('c', backend()))!;
    const d = (await eager.begin('d', backend()))!;
    await writeFile(path.join(dir, 'settled.png'), 'x');
    await eager.end(c);
    expect(await readdir(dir)).not.toContain('settled.png');
    await eager.end(d);
  });

  it('refuses an output folder that is the data dir, and leaves what is new there', async () => {
    await postJson(`${sim.url}/sdapi/v1/options`, { outdir_save: '.' });
    try {
      const log = recordingLog();
      const files = new OutputFiles({ keep: false, log });
      const s = await files.begin('j', backend());
      await writeFile(path.join(dataDir, 'new-in-data-dir.bin'), 'x');
      await files.end(s!);
      expect(await readdir(dataDir)).toContain('new-in-data-dir.bin');
      expect(log.lines.join('\n')).toContain(`WARN A1111's outdir_save="." (${dataDir}): files there are not removed, it is or contains A1111's data dir ${dataDir}`);
    } finally {
      await postJson(`${sim.url}/sdapi/v1/options`, { outdir_save: 'log/images' });
    }
  });

  it('a data dir that is not readable here (A1111 elsewhere) is logged once and skipped', async () => {
    const remote = await startSimulator({ port: 0, stepMs: 0, dataDir: path.join(root, 'no-such-dir') });
    try {
      const log = recordingLog();
      const files = new OutputFiles({ keep: false, log });
      const rc = new A1111Client(a1111Config({ url: remote.url }), silentLog);
      expect(await files.begin('j1', { url: remote.url, client: rc })).toBeUndefined();
      expect(await files.begin('j2', { url: remote.url, client: rc })).toBeUndefined();
      const warns = log.lines.filter((l) => l.startsWith('WARN'));
      expect(warns).toHaveLength(1);
      expect(warns[0]).toMatch(new RegExp(`^WARN A1111's data dir ${path.join(root, 'no-such-dir')} \\(${remote.url}\\) is not readable here \\(ENOENT`));
    } finally {
      await remote.close();
    }
  });
});
