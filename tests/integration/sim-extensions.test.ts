/**
 * The simulator's extensions (startSimulator({extensions}), --extensions, SIM_EXTENSIONS): ControlNet
 * (Mikubill) and ADetailer (Bing-su) routes, always-on scripts, detected maps appended to images, and
 * A1111's init_script_args rules for alwayson_scripts with and without the extension.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { getJson as get, postJson as post, patternPng as testPng } from '../helpers/http-json.js';

function pngSize(b64: string): [number, number] {
  const buf = Buffer.from(b64, 'base64');
  return [buf.readUInt32BE(16), buf.readUInt32BE(20)];
}

const SMALL = { width: 64, height: 48, steps: 2 };

describe('simulator: ControlNet and ADetailer extensions', () => {
  let ext: Simulator;
  let bare: Simulator;
  beforeAll(async () => {
    ext = await startSimulator({ port: 0, stepMs: 1, extensions: ['controlnet', 'adetailer'] });
    bare = await startSimulator({ port: 0, stepMs: 1 });
  });
  afterAll(async () => {
    await ext.close();
    await bare.close();
  });

  it('serves the extension routes only when installed (404 {"detail":"Not Found"} otherwise)', async () => {
    expect((await get(`${ext.url}/controlnet/version`)).body).toEqual({ version: 3 });
    const models = await get(`${ext.url}/controlnet/model_list?update=true`);
    expect(models.body.model_list).toContain('control_v11p_sd15_canny [d14c016b]');
    const mods = await get(`${ext.url}/controlnet/module_list?alias_names=true`);
    expect(mods.body.module_list).toContain('canny');
    expect(mods.body.module_detail.canny.sliders.map((s: { name: string }) => s.name)).toEqual(['Resolution', 'Low Threshold', 'High Threshold']);
    expect((await get(`${ext.url}/controlnet/control_types`)).body.control_types.Canny.default_model).toBe('control_v11p_sd15_canny [d14c016b]');
    expect((await get(`${ext.url}/controlnet/settings`)).body).toEqual({ control_net_unit_count: 3 });
    expect((await get(`${ext.url}/adetailer/v1/version`)).body).toEqual({ version: '25.3.0' });
    expect((await get(`${ext.url}/adetailer/v1/ad_model`)).body.ad_model).toContain('face_yolov8n.pt');
    const schema = (await get(`${ext.url}/adetailer/v1/schema`)).body;
    expect(schema).toMatchObject({ title: 'ADetailerArgs', type: 'object', additionalProperties: false });
    expect(schema.properties.ad_confidence).toEqual({ title: 'Ad Confidence', default: 0.3, type: 'number', minimum: 0, maximum: 1 });
    for (const path of ['/controlnet/version', '/controlnet/model_list', '/adetailer/v1/version']) {
      expect(await get(`${bare.url}${path}`), path).toEqual({ status: 404, body: { detail: 'Not Found' } });
    }
  });

  it('detects with /controlnet/detect and refuses unknown modules / no image', async () => {
    const img = testPng(80, 40);
    const r = await post(`${ext.url}/controlnet/detect`, { controlnet_module: 'canny', controlnet_input_images: [img], controlnet_processor_res: 256 });
    expect(r.status).toBe(200);
    expect(r.body.info).toBe('Success');
    expect(r.body.images).toHaveLength(1);
    expect(pngSize(r.body.images[0])).toEqual([512, 256]);
    expect(await post(`${ext.url}/controlnet/detect`, { controlnet_module: 'nope', controlnet_input_images: [img] })).toEqual({
      status: 422,
      body: { error: 'HTTPException', detail: 'Module not available', body: '', errors: '' },
    });
    expect((await post(`${ext.url}/controlnet/detect`, { controlnet_module: 'canny' })).body.detail).toBe('No image selected');
  });

  it('lists the always-on scripts in /scripts and /script-info', async () => {
    const scripts = (await get(`${ext.url}/sdapi/v1/scripts`)).body;
    expect(scripts.txt2img).toEqual(expect.arrayContaining(['controlnet', 'adetailer']));
    expect(scripts.img2img).toEqual(expect.arrayContaining(['controlnet', 'adetailer']));
    const info = (await get(`${ext.url}/sdapi/v1/script-info`)).body as { name: string; is_alwayson: boolean; args: unknown[] }[];
    const cn = info.find((s) => s.name === 'controlnet');
    expect(cn).toMatchObject({ is_alwayson: true });
    expect(cn?.args.length).toBeGreaterThan(0);
    expect(info.find((s) => s.name === 'adetailer')).toMatchObject({ is_alwayson: true });
    expect((await get(`${bare.url}/sdapi/v1/scripts`)).body.txt2img).not.toContain('controlnet');
  });

  it('appends a detected map per enabled ControlNet unit (case-insensitive title), after the generated images', async () => {
    const unit = { enabled: true, module: 'canny', model: 'control_v11p_sd15_canny [d14c016b]', image: testPng(32, 32) };
    const r = await post(`${ext.url}/sdapi/v1/txt2img`, { ...SMALL, batch_size: 2, alwayson_scripts: { ControlNet: { args: [unit, { enabled: false }] } } });
    expect(r.status).toBe(200);
    expect(r.body.images).toHaveLength(3);
    for (const img of r.body.images) expect(pngSize(img)).toEqual([64, 48]);
    expect(JSON.parse(r.body.info).all_seeds).toHaveLength(2);
    const two = await post(`${ext.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { controlnet: { args: [unit, unit] } } });
    expect(two.body.images).toHaveLength(3);
    const noMap = await post(`${ext.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { controlnet: { args: [{ ...unit, save_detected_map: false }] } } });
    expect(noMap.body.images).toHaveLength(1);
    const noImage = await post(`${ext.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { controlnet: { args: [{ enabled: true, module: 'canny' }] } } });
    expect(noImage.status).toBe(500);
    expect(noImage.body).toEqual({ error: 'ValueError', detail: '', body: '', errors: 'controlnet is enabled but no input image is given' });
    // img2img falls back to the init image
    const i2i = await post(`${ext.url}/sdapi/v1/img2img`, { ...SMALL, init_images: [testPng(64, 48)], alwayson_scripts: { controlnet: { args: [{ enabled: true, module: 'canny' }] } } });
    expect(i2i.status).toBe(200);
    expect(i2i.body.images).toHaveLength(2);
  });

  it('accepts ADetailer args and records them in the infotext', async () => {
    const r = await post(`${ext.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { ADetailer: { args: [true, false, { ad_model: 'face_yolov8n.pt' }] } } });
    expect(r.status).toBe(200);
    const infotext = JSON.parse(r.body.info).infotexts[0] as string;
    expect(infotext).toContain('ADetailer model: face_yolov8n.pt');
    expect(infotext).toContain('ADetailer version: 25.3.0');
    const off = await post(`${ext.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { adetailer: { args: [false, false, { ad_model: 'face_yolov8n.pt' }] } } });
    expect(JSON.parse(off.body.info).infotexts[0]).not.toContain('ADetailer');
  });

  it('applies init_script_args: unknown title → 422, value without args passed over, non-iterable → 500', async () => {
    for (const title of ['controlnet', 'ADetailer']) {
      expect(await post(`${bare.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { [title]: { args: [] } } })).toEqual({
        status: 422,
        body: { error: 'HTTPException', detail: `Script '${title}' not found`, body: '', errors: '' },
      });
    }
    expect((await post(`${bare.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { 'X/Y/Z plot': { args: [] } } })).body.detail).toBe(
      'Cannot have a selectable script in the always on scripts params',
    );
    for (const value of [[], {}, 'no', { other: 1 }]) {
      const r = await post(`${ext.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { controlnet: value, Seed: value } });
      expect(r.status, JSON.stringify(value)).toBe(200);
      expect(r.body.images).toHaveLength(1);
    }
    const bad = await post(`${ext.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { controlnet: 5 } });
    expect(bad).toEqual({ status: 500, body: { error: 'TypeError', detail: '', body: '', errors: "argument of type 'int' is not iterable" } });
    const nul = await post(`${ext.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { controlnet: { args: null } } });
    expect(nul.body.errors).toBe("object of type 'NoneType' has no len()");
  });
});
