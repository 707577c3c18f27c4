/**
 * The output folders the worker cleans (handler/jobs/output/files.ts `outputFolders`): A1111's `outdir_*` options
 * resolved against its data dir, folders that are or hold the data dir refused; which jobs may write files.
 */
import { describe, expect, it } from 'vitest';
import { silentLog } from '../../handler/log.js';
import { isWithin, OutputFiles, outputFolders } from '../../handler/jobs/output/files.js';

/** The `outdir_*` defaults of A1111 v1.10.1 as `GET /sdapi/v1/options` lists them when data dir = cwd. */
const DEFAULTS = {
  outdir_samples: '',
  outdir_txt2img_samples: 'outputs/txt2img-images',
  outdir_img2img_samples: 'outputs/img2img-images',
  outdir_extras_samples: 'outputs/extras-images',
  outdir_grids: '',
  outdir_txt2img_grids: 'outputs/txt2img-grids',
  outdir_img2img_grids: 'outputs/img2img-grids',
  outdir_save: 'log/images',
  outdir_init_images: 'outputs/init-images',
};

describe('outputFolders', () => {
  it('resolves the defaults against the data dir and skips the empty overrides', () => {
    const { folders, refused } = outputFolders('/sd', { ...DEFAULTS, samples_format: 'png' });
    expect(refused).toEqual([]);
    expect(folders.map((f) => [f.option, f.path])).toEqual([
      ['outdir_txt2img_samples', '/sd/outputs/txt2img-images'],
      ['outdir_img2img_samples', '/sd/outputs/img2img-images'],
      ['outdir_extras_samples', '/sd/outputs/extras-images'],
      ['outdir_txt2img_grids', '/sd/outputs/txt2img-grids'],
      ['outdir_img2img_grids', '/sd/outputs/img2img-grids'],
      ['outdir_save', '/sd/log/images'],
      ['outdir_init_images', '/sd/outputs/init-images'],
    ]);
  });

  it('keeps absolute folders as they are (A1111 with --data-dir elsewhere lists absolute defaults)', () => {
    const { folders } = outputFolders('/workspace/a1111', { outdir_samples: '/runpod-volume/outputs', outdir_txt2img_samples: '/workspace/a1111/outputs/txt2img-images' });
    expect(folders.map((f) => f.path)).toEqual(['/runpod-volume/outputs', '/workspace/a1111/outputs/txt2img-images']);
  });

  it('refuses folders that are or contain the data dir, naming the option and the reason', () => {
    const { folders, refused } = outputFolders('/sd/data', { outdir_samples: '.', outdir_grids: '..', outdir_save: '/', outdir_init_images: 'sub/../..', outdir_txt2img_grids: './grids' });
    expect(folders.map((f) => f.path)).toEqual(['/sd/data/grids']);
    // in OUTDIR_OPTIONS order
    expect(refused.map((r) => [r.option, r.path])).toEqual([
      ['outdir_samples', '/sd/data'],
      ['outdir_grids', '/sd'],
      ['outdir_save', '/'],
      ['outdir_init_images', '/sd'],
    ]);
    expect(refused[0]!.reason).toBe("it is or contains A1111's data dir /sd/data");
  });

  it('ignores values that are not strings or are blank', () => {
    expect(outputFolders('/sd', { outdir_samples: null, outdir_grids: 3, outdir_save: '  ' }).folders).toEqual([]);
  });
});

describe('isWithin', () => {
  it('tells inside from outside, including names that start with ..', () => {
    expect(isWithin('/a', '/a')).toBe(true);
    expect(isWithin('/a', '/a/b/c')).toBe(true);
    expect(isWithin('/a', '/a/..b')).toBe(true);
    expect(isWithin('/a', '/ab')).toBe(false);
    expect(isWithin('/a/b', '/a')).toBe(false);
    expect(isWithin('/', '/anything')).toBe(true);
  });
});

describe('OutputFiles.mayWrite', () => {
  const T2I = { name: 'txt2img', method: 'POST' };
  const I2I = { name: 'img2img', method: 'POST' };
  const OPTIONS = { name: 'options', method: 'POST' };
  const files = () => new OutputFiles({ keep: false, log: silentLog });

  it('save_images as pydantic reads a bool, or a selectable script (X/Y/Z plot saves grids)', () => {
    const f = files();
    for (const v of [true, 1, 'true', 'Yes', 'on', 't', '1']) expect(f.mayWrite(T2I, { save_images: v }, 'u'), String(v)).toBe(true);
    for (const v of [false, 0, 'false', 'no', '', null]) expect(f.mayWrite(T2I, { save_images: v }, 'u'), String(v)).toBe(false);
    expect(f.mayWrite(T2I, { prompt: 'x' }, 'u')).toBe(false);
    expect(f.mayWrite(T2I, { script_name: 'x/y/z plot' }, 'u')).toBe(true);
    expect(f.mayWrite(T2I, { script_name: '' }, 'u')).toBe(false);
  });

  it('img2img: save_init_img per job (Python truthiness) or as a POST /options job set it on that backend', () => {
    const f = files();
    expect(f.mayWrite(I2I, { override_settings: { save_init_img: true } }, 'u')).toBe(true);
    expect(f.mayWrite(I2I, { override_settings: { save_init_img: 'false' } }, 'u')).toBe(true); // a non-empty str
    expect(f.mayWrite(I2I, {}, 'u')).toBe(false);
    expect(f.mayWrite(OPTIONS, { save_init_img: true }, 'u')).toBe(false);
    expect(f.mayWrite(I2I, {}, 'u')).toBe(true);
    expect(f.mayWrite(I2I, {}, 'other')).toBe(false);
    expect(f.mayWrite(T2I, {}, 'u')).toBe(false); // txt2img has no init images
    expect(f.mayWrite(I2I, { override_settings: { save_init_img: false } }, 'u')).toBe(false);
    f.mayWrite(OPTIONS, { save_init_img: 0 }, 'u');
    expect(f.mayWrite(I2I, {}, 'u')).toBe(false);
  });

  it('never with KEEP_OUTPUTS=true, nor for other routes', () => {
    expect(new OutputFiles({ keep: true, log: silentLog }).mayWrite(T2I, { save_images: true }, 'u')).toBe(false);
    expect(files().mayWrite({ name: 'extra-single-image', method: 'POST' }, { save_images: true }, 'u')).toBe(false);
    expect(files().mayWrite(T2I, 'not an object', 'u')).toBe(false);
  });
});
