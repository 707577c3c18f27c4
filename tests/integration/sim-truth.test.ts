/**
 * The simulator fails where A1111 v1.10.1 fails: null for plain API fields → 422, null for Optional
 * processing fields that processing.py cannot take → 500 with the Python exception, firstpass_image /
 * latent_mask passed on undecoded, hires fix without denoising_strength; txt2img's denoising_strength
 * defaults to null; options keys as Options.set; interrupt/skip/unload/reload answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { getJson as get, postJson as post, greyPng as testPng } from '../helpers/http-json.js';

const SMALL = { width: 64, height: 64, steps: 2 };
const wrapper = (error: string, errors: string) => ({ error, detail: '', body: '', errors });

describe('simulator: A1111 v1.10.1 request models and processing failures', () => {
  let sim: Simulator;
  let url: string;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 1 });
    url = `${sim.url}/sdapi/v1`;
  });
  afterAll(() => sim.close());

  it('echoes txt2img denoising_strength as null when not sent (base-class default), img2img as 0.75', async () => {
    const t = await post(`${url}/txt2img`, SMALL);
    expect(t.status).toBe(200);
    expect(t.body.parameters.denoising_strength).toBeNull();
    expect(JSON.parse(t.body.info).denoising_strength).toBeNull();
    const i = await post(`${url}/img2img`, { ...SMALL, init_images: [testPng(64, 64)] });
    expect(i.status).toBe(200);
    expect(i.body.parameters.denoising_strength).toBe(0.75);
  });

  it('refuses null for plain API-only fields with FastAPI 422 (pydantic 1)', async () => {
    for (const field of ['send_images', 'save_images', 'sampler_index', 'script_args', 'alwayson_scripts']) {
      const r = await post(`${url}/txt2img`, { ...SMALL, [field]: null });
      expect(r.status, field).toBe(422);
      expect(r.body).toEqual({ detail: [{ loc: ['body', field], msg: 'none is not an allowed value', type: 'type_error.none.not_allowed' }] });
    }
    for (const field of ['denoising_strength', 'include_init_images']) {
      const r = await post(`${url}/img2img`, { ...SMALL, init_images: [testPng(8, 8)], [field]: null });
      expect(r.status, field).toBe(422);
      expect(r.body.detail[0].type).toBe('type_error.none.not_allowed');
    }
    // nullable ones pass
    const ok = await post(`${url}/txt2img`, { ...SMALL, script_name: null, force_task_id: null, infotext: null, sampler_name: null, seed: null });
    expect(ok.status).toBe(200);
    // pydantic 1 coercion is kept
    const co = await post(`${url}/txt2img`, { ...SMALL, steps: '2', cfg_scale: '5', seed: 7.9, restore_faces: 'no', prompt: 12 });
    expect(co.status).toBe(200);
    expect(co.body.parameters).toMatchObject({ steps: 2, cfg_scale: 5, seed: 7, restore_faces: false, prompt: '12' });
  });

  it('answers 500 with the Python exception for null fields processing.py cannot take', async () => {
    const cases: [Record<string, unknown>, ReturnType<typeof wrapper>][] = [
      [{ steps: null }, wrapper('TypeError', "unsupported operand type(s) for //: 'NoneType' and 'NoneType'")],
      [{ steps: null, sampler_name: 'Heun' }, wrapper('TypeError', "unsupported operand type(s) for *: 'NoneType' and 'int'")],
      [{ width: null }, wrapper('TypeError', "unsupported operand type(s) for //: 'NoneType' and 'int'")],
      [{ height: null }, wrapper('TypeError', "unsupported operand type(s) for //: 'NoneType' and 'int'")],
      [{ batch_size: null }, wrapper('TypeError', "unsupported operand type(s) for *: 'NoneType' and 'int'")],
      [{ n_iter: null }, wrapper('TypeError', "unsupported operand type(s) for *: 'int' and 'NoneType'")],
      [{ prompt: null }, wrapper('AssertionError', '')],
      [{ cfg_scale: null }, wrapper('TypeError', "unsupported operand type(s) for *: 'float' and 'NoneType'")],
      [{ seed_resize_from_w: null }, wrapper('TypeError', "'<=' not supported between instances of 'NoneType' and 'int'")],
      [{ subseed_strength: null }, wrapper('TypeError', "unsupported operand type(s) for -: 'float' and 'NoneType'")],
      [{ enable_hr: true, hr_scale: null }, wrapper('TypeError', "unsupported operand type(s) for *: 'int' and 'NoneType'")],
    ];
    for (const [extra, body] of cases) {
      const r = await post(`${url}/txt2img`, { ...SMALL, ...extra });
      expect(r.status, JSON.stringify(extra)).toBe(500);
      expect(r.body, JSON.stringify(extra)).toEqual(body);
    }
    // the simulator is usable afterwards
    expect((await post(`${url}/txt2img`, SMALL)).status).toBe(200);
  });

  it('fails hires fix without denoising_strength after the first pass, and runs it with one', async () => {
    const r = await post(`${url}/txt2img`, { ...SMALL, enable_hr: true });
    expect(r.status).toBe(500);
    expect(r.body).toEqual(wrapper('TypeError', "'>' not supported between instances of 'NoneType' and 'int'"));
    const ok = await post(`${url}/txt2img`, { ...SMALL, enable_hr: true, denoising_strength: 0.5 });
    expect(ok.status).toBe(200);
    expect(ok.body.images).toHaveLength(1);
  });

  it('passes firstpass_image and latent_mask on undecoded: 500 where processing uses them', async () => {
    const img = testPng(64, 64);
    const fp = await post(`${url}/txt2img`, { ...SMALL, enable_hr: true, denoising_strength: 0.5, firstpass_image: img });
    expect(fp.status).toBe(500);
    expect(fp.body.error).toBe('ValueError');
    expect(fp.body.errors).toBe(`could not convert string to float: '${img}'`);
    // without hires fix A1111 never reads it
    expect((await post(`${url}/txt2img`, { ...SMALL, firstpass_image: img })).status).toBe(200);
    const lm = await post(`${url}/img2img`, { ...SMALL, init_images: [img], mask: img, latent_mask: img });
    expect(lm.status).toBe(500);
    expect(lm.body).toEqual(wrapper('AttributeError', "'str' object has no attribute 'convert'"));
    expect((await post(`${url}/img2img`, { ...SMALL, init_images: [img], latent_mask: img })).status).toBe(200);
  });

  it('sets options as Options.set: unknown key → 500 KeyError (earlier keys kept), restricted keys ignored, path options settable', async () => {
    const r = await post(`${url}/options`, { jpeg_quality: 91, no_such_option: 1 });
    expect(r.status).toBe(500);
    expect(r.body).toEqual(wrapper('KeyError', "'no_such_option'"));
    const opts = (await get(`${url}/options`)).body;
    expect(opts.jpeg_quality).toBe(91);
    for (const k of ['emphasis', 'sd_unet', 'face_restoration_model', 'upscaler_for_img2img', 'outdir_samples', 'api_enable_requests']) expect(opts, k).toHaveProperty(k);
    expect((await post(`${url}/options`, { no_such_option: null })).status).toBe(200);
    expect((await post(`${url}/options`, { api_enable_requests: false, outdir_samples: '/tmp/out' })).status).toBe(200);
    const after = (await get(`${url}/options`)).body;
    expect(after.api_enable_requests).toBe(true);
    expect(after.outdir_samples).toBe('/tmp/out');
    const ov = await post(`${url}/txt2img`, { ...SMALL, override_settings: { no_such_option: 1 } });
    expect(ov.status).toBe(500);
    expect(ov.body).toEqual(wrapper('KeyError', "'no_such_option'"));
  });

  it('answers interrupt {}, skip null, unload/reload-checkpoint {} (unload makes the next job load the model)', async () => {
    const i = await post(`${url}/interrupt`);
    expect(i).toEqual({ status: 200, body: {} });
    const s = await post(`${url}/skip`);
    expect(s).toEqual({ status: 200, body: null });
    expect(await post(`${url}/unload-checkpoint`)).toEqual({ status: 200, body: {} });
    expect((await get(`${sim.url}/sim/state`)).body.loaded_model).toBeNull();
    expect(await post(`${url}/reload-checkpoint`)).toEqual({ status: 200, body: {} });
    expect((await get(`${sim.url}/sim/state`)).body.loaded_model).not.toBeNull();
    expect((await get(`${url}/skip`)).status).toBe(405);
  });
});
