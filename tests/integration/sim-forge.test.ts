/**
 * The simulator's Forge flavor (startSimulator({flavor: 'forge'}), --flavor forge, SIM_FLAVOR=forge):
 * Forge's extra request fields and options, pydantic-2 coercion and 422 bodies, Forge's error bodies,
 * /sdapi/v1/sd-modules in place of sd-vae, no train/*, ControlNet built in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCli } from '../../sim/main.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { getJson as get, postJson as post } from '../helpers/http-json.js';

const SMALL = { width: 64, height: 64, steps: 2 };
const FORGE_FIELDS = { distilled_cfg_scale: 3.0, hr_additional_modules: ['Use same choices'], hr_cfg: 2.0, hr_distilled_cfg: 4.0 };

describe('simulator: Forge flavor', () => {
  let forge: Simulator;
  let a1111: Simulator;
  beforeAll(async () => {
    forge = await startSimulator({ port: 0, stepMs: 1, flavor: 'forge' });
    a1111 = await startSimulator({ port: 0, stepMs: 1 });
  });
  afterAll(async () => {
    await forge.close();
    await a1111.close();
  });

  it('accepts Forge fields on Forge (echoed) and ignores them on A1111 (pydantic drops extras)', async () => {
    const f = await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, ...FORGE_FIELDS });
    expect(f.status).toBe(200);
    expect(f.body.parameters).toMatchObject(FORGE_FIELDS);
    const fi = await post(`${forge.url}/sdapi/v1/txt2img`, SMALL);
    expect(fi.body.parameters).toMatchObject({ distilled_cfg_scale: 3.5, hr_additional_modules: null, hr_cfg: 1, hr_distilled_cfg: 3.5 });
    const a = await post(`${a1111.url}/sdapi/v1/txt2img`, { ...SMALL, ...FORGE_FIELDS });
    expect(a.status).toBe(200);
    for (const k of Object.keys(FORGE_FIELDS)) expect(a.body.parameters).not.toHaveProperty(k);
    const i = await post(`${forge.url}/sdapi/v1/img2img`, { ...SMALL, init_images: [(f.body.images as string[])[0]], distilled_cfg_scale: 2.5, hr_distilled_cfg: 1.5 });
    expect(i.status).toBe(200);
    expect(i.body.parameters).toMatchObject({ distilled_cfg_scale: 2.5, hr_distilled_cfg: 1.5 });
  });

  it('fails Forge hires fix without hr_additional_modules (None) after the first pass', async () => {
    const r = await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, enable_hr: true, denoising_strength: 0.5 });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: 'TypeError', detail: '', body: '', message: "argument of type 'NoneType' is not iterable" });
    const ok = await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, enable_hr: true, denoising_strength: 0.5, hr_additional_modules: [] });
    expect(ok.status).toBe(200);
  });

  it('validates like pydantic 2 (lax) with its 422 body', async () => {
    const bad = await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, steps: 'x' });
    expect(bad.status).toBe(422);
    expect(bad.body).toEqual({
      detail: [{ type: 'int_parsing', loc: ['body', 'steps'], msg: 'Input should be a valid integer, unable to parse string as an integer', input: 'x' }],
    });
    const frac = await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, steps: 2.5 });
    expect(frac.body.detail[0].type).toBe('int_from_float');
    const str = await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, prompt: 5 });
    expect(str.body.detail[0]).toEqual({ type: 'string_type', loc: ['body', 'prompt'], msg: 'Input should be a valid string', input: 5 });
    const nul = await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, send_images: null });
    expect(nul.body.detail[0]).toEqual({ type: 'bool_type', loc: ['body', 'send_images'], msg: 'Input should be a valid boolean', input: null });
    const ok = await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, steps: '2', width: 64.0, restore_faces: 'yes', tiling: 0 });
    expect(ok.status).toBe(200);
    expect(ok.body.parameters).toMatchObject({ steps: 2, width: 64, restore_faces: true, tiling: false });
    const miss = await post(`${forge.url}/sdapi/v1/png-info`, {});
    expect(miss.body.detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'image'], msg: 'Field required' });
  });

  it('answers HTTPExceptions as {"detail"}, other exceptions as {error, detail, body, message}, OOM fault too', async () => {
    expect(await post(`${forge.url}/sdapi/v1/img2img`, SMALL)).toEqual({ status: 404, body: { detail: 'Init image not found' } });
    expect(await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, script_name: 'nope' })).toEqual({ status: 422, body: { detail: "Script 'nope' not found" } });
    const ke = await post(`${forge.url}/sdapi/v1/options`, { no_such_option: 1 });
    expect(ke).toEqual({ status: 500, body: { error: 'KeyError', detail: '', body: '', message: "'no_such_option'" } });
    forge.injectFault({ kind: 'status', status: 500, count: 1, route: 'txt2img' });
    const oom = await post(`${forge.url}/sdapi/v1/txt2img`, SMALL);
    expect(oom.status).toBe(500);
    expect(Object.keys(oom.body)).toEqual(['error', 'detail', 'body', 'message']);
    expect(oom.body.error).toBe('OutOfMemoryError');
    expect(oom.body.message).toMatch(/^CUDA out of memory/);
    // A1111 keeps its wrapper
    a1111.injectFault({ kind: 'status', status: 500, count: 1, route: 'txt2img' });
    expect(Object.keys((await post(`${a1111.url}/sdapi/v1/txt2img`, SMALL)).body)).toEqual(['error', 'detail', 'body', 'errors']);
  });

  it('serves sd-modules instead of sd-vae, ControlNet built in, forge_* options', async () => {
    expect((await get(`${forge.url}/sdapi/v1/sd-vae`)).status).toBe(404);
    const mods = await get(`${forge.url}/sdapi/v1/sd-modules`);
    expect(mods.status).toBe(200);
    expect(mods.body.map((m: { model_name: string }) => m.model_name)).toContain('clip_l.safetensors');
    expect((await get(`${a1111.url}/sdapi/v1/sd-modules`)).status).toBe(404);
    expect((await post(`${forge.url}/sdapi/v1/train/embedding`, {})).status).toBe(404);
    expect((await get(`${forge.url}/controlnet/model_list`)).status).toBe(200);
    const opts = (await get(`${forge.url}/sdapi/v1/options`)).body;
    expect(opts).toMatchObject({ forge_additional_modules: [], forge_preset: 'sd', forge_inference_memory: 1024 });
    expect(await post(`${forge.url}/sdapi/v1/options`, { forge_additional_modules: ['clip_l.safetensors', 'nope.safetensors'], forge_preset: 'flux' })).toEqual({ status: 200, body: null });
    const after = (await get(`${forge.url}/sdapi/v1/options`)).body;
    expect(after.forge_additional_modules).toEqual(['/stable-diffusion-webui/models/text_encoder/clip_l.safetensors']);
    expect(after.forge_preset).toBe('flux');
    const ov = await post(`${forge.url}/sdapi/v1/txt2img`, { ...SMALL, override_settings: { forge_additional_modules: ['clip_l.safetensors'] } });
    expect(ov.status).toBe(200);
    expect((await post(`${a1111.url}/sdapi/v1/txt2img`, { ...SMALL, override_settings: { forge_additional_modules: [] } })).body).toEqual({
      error: 'KeyError',
      detail: '',
      body: '',
      errors: "'forge_additional_modules'",
    });
  });

  it('takes --flavor / SIM_FLAVOR and --extensions / SIM_EXTENSIONS on the command line', () => {
    const cfg = parseCli(['--flavor', 'forge', '--extensions', 'controlnet,adetailer'], {});
    expect(cfg !== 'help' && cfg.options).toMatchObject({ flavor: 'forge', extensions: ['controlnet', 'adetailer'] });
    const env = parseCli([], { SIM_FLAVOR: 'forge', SIM_EXTENSIONS: 'adetailer' });
    expect(env !== 'help' && env.options).toMatchObject({ flavor: 'forge', extensions: ['adetailer'] });
    expect(() => parseCli(['--flavor', 'comfy'], {})).toThrow(/a1111 or forge/);
    expect(() => parseCli(['--extensions', 'dynamic-prompts'], {})).toThrow(/unknown extension/);
  });
});
