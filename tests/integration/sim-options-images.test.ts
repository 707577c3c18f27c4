/**
 * The simulator's settings list and image decoding against A1111 v1.10.1:
 * - `GET /sdapi/v1/options` has every key of `modules/shared_options.py` (plus the built-in extensions'), so
 *   `POST /sdapi/v1/options` with e.g. `send_seed` (A1111's own `test/test_utils.py`) succeeds;
 * - image inputs decode in every format Pillow 9.5 (+ pillow-avif-plugin) opens: TIFF, GIF, BMP, WebP, JPEG (real
 *   Pillow-made files from tests/compat/image-data.ts) and ICO, TGA, PNM, PSD, DDS (headers built here), with
 *   whitespace inside the base64 and a `data:image/<type>;base64,` prefix; SVG, PAM and garbage stay
 *   500 `Invalid encoded image`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { IMAGE_B64 } from '../compat/image-data.js';
import { callJson as call, type JsonResponse as Res } from '../helpers/http-json.js';

/** A TGA header (uncompressed true colour, 24 bit) and its pixels. */
function tga(w: number, h: number): Buffer {
  const head = Buffer.alloc(18);
  head[2] = 2;
  head.writeUInt16LE(w, 12);
  head.writeUInt16LE(h, 14);
  head[16] = 24;
  return Buffer.concat([head, Buffer.alloc(w * h * 3, 0x80)]);
}

/** An ICO file with two BMP-less PNG entries (16×16 and 40×24): Pillow opens the largest. */
function ico(): Buffer {
  const head = Buffer.from([0, 0, 1, 0, 2, 0]);
  const entry = (w: number, h: number, off: number): Buffer => {
    const e = Buffer.alloc(16);
    e[0] = w;
    e[1] = h;
    e.writeUInt16LE(1, 4);
    e.writeUInt16LE(32, 6);
    e.writeUInt32LE(40, 8);
    e.writeUInt32LE(off, 12);
    return e;
  };
  return Buffer.concat([head, entry(16, 16, 38), entry(40, 24, 78), Buffer.alloc(80)]);
}

/** A PSD header (RGB, 8 bit). */
function psd(w: number, h: number): Buffer {
  const b = Buffer.alloc(64);
  b.write('8BPS', 0, 'latin1');
  b.writeUInt16BE(1, 4);
  b.writeUInt16BE(3, 12);
  b.writeUInt32BE(h, 14);
  b.writeUInt32BE(w, 18);
  b.writeUInt16BE(8, 22);
  b.writeUInt16BE(3, 24);
  return b;
}

/** A DDS header (`DDS ` + 124-byte header). */
function dds(w: number, h: number): Buffer {
  const b = Buffer.alloc(128 + 64);
  b.write('DDS ', 0, 'latin1');
  b.writeUInt32LE(124, 4);
  b.writeUInt32LE(0x1007, 8);
  b.writeUInt32LE(h, 12);
  b.writeUInt32LE(w, 16);
  b.writeUInt32LE(32, 76);
  b.writeUInt32LE(0x41, 80);
  b.writeUInt32LE(32, 88);
  return b;
}

const b64 = (b: Buffer): string => b.toString('base64');
const SMALL = { prompt: 'x', steps: 1, width: 64, height: 64 };

describe('simulator: A1111 v1.10.1 settings', () => {
  let sim: Simulator;
  let forge: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 0 });
    forge = await startSimulator({ port: 0, stepMs: 0, flavor: 'forge' });
  });
  afterAll(async () => {
    await sim.close();
    await forge.close();
  });

  it('lists every shared_options.py key with its default, and the built-in extensions\' settings', async () => {
    const o = (await call('GET', `${sim.url}/sdapi/v1/options`)).body;
    expect(o).toMatchObject({
      send_seed: true,
      send_size: true,
      quicksettings_list: ['sd_model_checkpoint'],
      img2img_editor_height: 720,
      sd3_enable_t5: false,
      profiling_activities: ['CPU'],
      unload_models_when_training: false,
      dataset_filename_join_string: ' ',
      extra_networks_tree_view_style: 'Dirs',
      gradio_theme: 'Default',
      prevent_screen_sleep_during_generation: true,
      beta_dist_alpha: 0.6,
      lora_filter_disabled: true,
      lora_functional: false,
      enable_prompt_comments: true,
      canvas_hotkey_zoom: 'Alt',
      hypertile_max_tile_unet: 256,
      SWIN_tile: 192,
      ldsr_steps: 100,
    });
    // OptionHTML explanations are not saved (do_not_save), so not listed
    for (const k of ['sd_vae_explanation', 'profiling_explanation', 'infotext_explanation', 'lora_show_all']) expect(o).not.toHaveProperty(k);
    expect(Object.keys(o).length).toBeGreaterThan(320);
    const f = (await call('GET', `${forge.url}/sdapi/v1/options`)).body;
    expect(f).toMatchObject({ send_seed: true, forge_preset: 'sd', SCUNET_tile: 256 });
    expect(f).not.toHaveProperty('canvas_hotkey_zoom');
  });

  it('sets send_seed / send_size through POST /sdapi/v1/options (test_utils.py test_options_write)', async () => {
    expect(await call('POST', `${sim.url}/sdapi/v1/options`, { send_seed: false, send_size: false })).toEqual({ status: 200, body: null });
    expect((await call('GET', `${sim.url}/sdapi/v1/options`)).body).toMatchObject({ send_seed: false, send_size: false });
    await call('POST', `${sim.url}/sdapi/v1/options`, { send_seed: true, send_size: true });
    expect((await call('POST', `${sim.url}/sdapi/v1/options`, { no_such_option: 1 })).status).toBe(500);
  });
});

describe('simulator: image inputs in every format Pillow opens', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 0 });
  });
  afterAll(async () => {
    await sim.close();
  });

  const png = async (image: string): Promise<Res> => call('POST', `${sim.url}/sdapi/v1/png-info`, { image });
  const img2img = async (image: string): Promise<Res> => call('POST', `${sim.url}/sdapi/v1/img2img`, { ...SMALL, init_images: [image] });

  it('decodes the Pillow-made JPEG, GIF, BMP, TIFF and WebP files, with and without a data: prefix', async () => {
    for (const [fmt, data] of Object.entries(IMAGE_B64)) {
      const r = await img2img(`data:image/${fmt};base64,${data}`);
      expect(r.status, fmt).toBe(200);
      expect(r.body.images).toHaveLength(1);
      expect((await img2img(data)).status, fmt).toBe(200);
    }
  });

  it('keeps whitespace and MIME line breaks inside the base64 out, as b64decode does', async () => {
    const mime = IMAGE_B64.tiff.replace(/.{76}/g, '$&\r\n');
    expect((await img2img(`data:image/tiff;base64,${mime}`)).status).toBe(200);
    expect((await img2img(` ${IMAGE_B64.gif.replace(/.{10}/g, '$& \t')}\n`)).status).toBe(200);
  });

  it('reads ICO (largest entry), TGA, PNM, PSD and DDS headers through image-size', async () => {
    const cases: [string, Buffer][] = [
      ['ico', ico()],
      ['tga', tga(40, 24)],
      ['ppm', Buffer.concat([Buffer.from('P6\n40 24\n255\n', 'latin1'), Buffer.alloc(40 * 24 * 3)])],
      ['psd', psd(40, 24)],
      ['dds', dds(40, 24)],
    ];
    for (const [name, buf] of cases) {
      const r = await call('POST', `${sim.url}/sdapi/v1/extra-single-image`, { image: b64(buf), upscaling_resize: 1, upscaler_1: 'Lanczos' });
      expect(r.status, name).toBe(200);
      const out = Buffer.from(r.body.image as string, 'base64');
      expect([out.readUInt32BE(16), out.readUInt32BE(20)], name).toEqual([40, 24]);
    }
  });

  it('refuses what Pillow 9.5 cannot open: SVG, PAM, a bad TGA header, text', async () => {
    const bad = [
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="24"></svg>'),
      Buffer.from('P7\nWIDTH 4\nHEIGHT 4\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n'),
      Buffer.concat([Buffer.alloc(12), Buffer.from([40, 0, 24, 0, 7, 0]), Buffer.alloc(64)]),
      Buffer.from('hello, this is not an image at all'),
    ];
    for (const buf of bad) expect(await png(b64(buf))).toEqual({ status: 500, body: expect.objectContaining({ detail: 'Invalid encoded image' }) });
  });
});
