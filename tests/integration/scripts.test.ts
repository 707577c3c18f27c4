/**
 * Script checks (handler/jobs/input/scripts.ts through checkNames): `script_name`, `alwayson_scripts` titles against the
 * simulator's `GET /sdapi/v1/script-info`, and the ControlNet / ADetailer names against their list routes. The
 * simulator has no ControlNet or ADetailer; a thin caller in front of it answers their routes (and adds their
 * always-on scripts to script-info) from fixed lists shaped as sd-webui-controlnet `scripts/api.py` and
 * adetailer answer, and counts the calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { A1111Client, type A1111Caller, type A1111Response } from '../../handler/a1111/client.js';
import { A1111Lists } from '../../handler/a1111/lists.js';
import { JobInputError } from '../../handler/errors/index.js';
import { checkNames } from '../../handler/jobs/input/names.js';
import { resolveRoute, type RouteSpec } from '../../handler/jobs/input/routes.js';
import { silentLog } from '../../handler/log.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { a1111Config } from '../helpers/fixtures.js';

const TXT2IMG = resolveRoute('POST', '/sdapi/v1/txt2img');
const IMG2IMG = resolveRoute('POST', '/sdapi/v1/img2img');

const CN_MODELS = ['None', 'control_v11p_sd15_canny [d14c016b]', 'control_v11f1p_sd15_depth [cfd03158]', 'ip-adapter_sd15 [6a3f6166]'];
const CN_MODULES = ['none', 'canny', 'depth', 'depth_leres', 'invert', 'ip-adapter_clip_sd15'];
const CN_LABELS = ['none', 'canny', 'depth_midas', 'depth_leres', 'invert (from white bg & black line)', 'ip-adapter_clip_sd15'];
const AD_MODELS = ['face_yolov8n.pt', 'hand_yolov8n.pt', 'mediapipe_face_full'];

/** The simulator plus ControlNet and ADetailer routes (when `extensions`), counting calls by path. */
function caller(sim: Simulator, extensions: boolean, calls: string[]): A1111Caller {
  const real = new A1111Client(a1111Config({ url: sim.url, requestTimeoutMs: 10_000 }), silentLog);
  const json = (v: unknown): A1111Response => ({ status: 200, body: Buffer.from(JSON.stringify(v)) });
  const routes: Record<string, unknown> = {
    '/controlnet/model_list': { model_list: CN_MODELS },
    '/controlnet/module_list': { module_list: CN_MODULES, module_detail: Object.fromEntries(CN_MODULES.map((m) => [m, {}])) },
    '/controlnet/module_list?alias_names=true': { module_list: CN_LABELS, module_detail: {} },
    '/adetailer/v1/ad_model': { ad_model: AD_MODELS },
  };
  return {
    config: real.config,
    async call(method, path, payload, opts) {
      calls.push(path);
      if (extensions && method === 'GET' && Object.hasOwn(routes, path)) return json(routes[path]);
      const res = await real.call(method, path, payload, opts);
      if (!extensions || path !== '/sdapi/v1/script-info') return res;
      const info = JSON.parse(res.body.toString('utf8')) as unknown[];
      for (const img2img of [false, true]) {
        info.push({ name: 'controlnet', is_alwayson: true, is_img2img: img2img, args: [] }, { name: 'adetailer', is_alwayson: true, is_img2img: img2img, args: [] });
      }
      return json(info);
    },
  };
}

describe('script and extension names', () => {
  let sim: Simulator;
  let withExt: A1111Lists;
  let plain: A1111Lists;
  const extCalls: string[] = [];
  const plainCalls: string[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 0 });
    withExt = new A1111Lists(caller(sim, true, extCalls), silentLog);
    plain = new A1111Lists(caller(sim, false, plainCalls), silentLog);
  });
  afterAll(async () => {
    await sim.close();
  });

  async function refusal(route: RouteSpec, payload: unknown, l: A1111Lists): Promise<string> {
    const e = await checkNames(route, payload, l, { strict: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(JobInputError);
    const m = (e as Error).message;
    expect(m).not.toMatch(/[\n\r]/);
    return m;
  }
  async function accepted(route: RouteSpec, payload: unknown, l: A1111Lists): Promise<void> {
    const before = JSON.stringify(payload);
    expect(await checkNames(route, payload, l, { strict: true })).toEqual([]);
    expect(JSON.stringify(payload)).toBe(before);
  }

  it('takes always-on titles in any case, with any value, per tab', async () => {
    await accepted(TXT2IMG, { alwayson_scripts: { Hypertile: { args: [true] }, 'EXTRA OPTIONS': [], seed: 'whatever', lora: { notArgs: 1 } } }, plain);
    await accepted(IMG2IMG, { init_images: [], alwayson_scripts: { 'soft inpainting': { args: [] } } }, plain);
    expect(await refusal(TXT2IMG, { alwayson_scripts: { 'Soft Inpainting': {} } }, plain)).toMatch(
      /^alwayson_scripts\["Soft Inpainting"\]: script "Soft Inpainting" is not an always-on A1111 txt2img script; valid: refiner, seed, /,
    );
    expect(await refusal(TXT2IMG, { alwayson_scripts: { Hypertiles: {} } }, plain)).toMatch(/^alwayson_scripts\.Hypertiles: script "Hypertiles" is not an always-on A1111 txt2img script \(did you mean "hypertile"\?\)/);
    expect(await refusal(TXT2IMG, { alwayson_scripts: { 'X/Y/Z plot': { args: [] } } }, plain)).toBe(
      'alwayson_scripts["X/Y/Z plot"]: "X/Y/Z plot" is a selectable script, not an always-on one (A1111 answers 422): send it as script_name',
    );
  });

  it('refuses ControlNet units when ControlNet is not installed (its title is unknown), without checking its lists', async () => {
    const m = await refusal(TXT2IMG, { alwayson_scripts: { ControlNet: { args: [{ model: 'x', module: 'y' }] } } }, plain);
    expect(m).toMatch(/^alwayson_scripts\.ControlNet: script "ControlNet" is not an always-on A1111 txt2img script/);
    expect(m).not.toContain('ControlNet model');
    // Its lists answered 404: unavailable, checks skipped.
    expect((await plain.get('controlnet-models')).available).toBe(false);
  });

  it('checks ControlNet models and modules as ControlNet resolves them', async () => {
    const unit = (u: Record<string, unknown>) => ({ alwayson_scripts: { controlnet: { args: [u] } } });
    for (const u of [
      { enabled: true, model: 'control_v11p_sd15_canny [d14c016b]', module: 'canny' },
      { model: 'control_v11p_sd15_canny', module: 'depth_midas' }, // file name without hash; a module label
      { model: 'CANNY', module: 'invert (from white bg & black line)' }, // part of one file name, any case
      { model: 'None', module: 'none' },
      { enabled: false, model: 'nope', module: 'nope' }, // disabled units are not used
    ]) {
      await accepted(TXT2IMG, unit(u), withExt);
    }
    await accepted(TXT2IMG, { alwayson_scripts: { ControlNet: { args: [true, 'legacy', { model: 'depth' }] } } }, withExt);
    const m = await refusal(IMG2IMG, { init_images: [], alwayson_scripts: { ControlNet: { args: [{ model: 'control_v11p_sd15_cany', module: 'cany' }] } } }, withExt);
    expect(m).toBe(
      'alwayson_scripts.ControlNet.args[0].model: "control_v11p_sd15_cany" is not a ControlNet model (did you mean "control_v11p_sd15_canny [d14c016b]"?); valid: None, control_v11p_sd15_canny [d14c016b], control_v11f1p_sd15_depth [cfd03158], ip-adapter_sd15 [6a3f6166]; ' +
        'alwayson_scripts.ControlNet.args[0].module: "cany" is not a ControlNet module (preprocessor) (did you mean "canny"?); valid: none, canny, depth, depth_leres, invert, ip-adapter_clip_sd15',
    );
  });

  it('checks ADetailer models unless ADetailer is disabled', async () => {
    await accepted(TXT2IMG, { alwayson_scripts: { ADetailer: { args: [true, false, { ad_model: 'face_yolov8n.pt' }, { ad_model: 'None' }] } } }, withExt);
    await accepted(TXT2IMG, { alwayson_scripts: { ADetailer: { args: [false, false, { ad_model: 'nope' }] } } }, withExt);
    expect(await refusal(TXT2IMG, { alwayson_scripts: { adetailer: { args: [{ ad_model: 'face_yolov8.pt' }] } } }, withExt)).toBe(
      'alwayson_scripts.adetailer.args[0].ad_model: "face_yolov8.pt" is not an ADetailer model (did you mean "face_yolov8n.pt"?); valid: face_yolov8n.pt, hand_yolov8n.pt, mediapipe_face_full',
    );
  });

  it('fetches each extension list once and re-fetches it on a miss only after the interval', async () => {
    const count = (p: string) => extCalls.filter((c) => c === p).length;
    const before = count('/controlnet/model_list');
    await refusal(TXT2IMG, { alwayson_scripts: { controlnet: { args: [{ model: 'nope' }] } } }, withExt);
    await refusal(TXT2IMG, { alwayson_scripts: { controlnet: { args: [{ model: 'nope2' }] } } }, withExt);
    expect(count('/controlnet/model_list') - before).toBeLessThanOrEqual(1);
    expect(count('/controlnet/model_list')).toBeGreaterThanOrEqual(1);
  });
});
