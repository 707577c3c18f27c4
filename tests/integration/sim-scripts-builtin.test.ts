/**
 * Always-on scripts and ControlNet names the simulator gained for the compatibility corpus:
 * - Forge's built-in `*Integrated` scripts (`extensions-builtin/sd_forge_*`), in script-info/scripts with their
 *   `ui()` args, accepted in `alwayson_scripts` (Forge issue #2041's `Never OOM Integrated`);
 * - the wildcards extension (`--extensions wildcards`): `Simple wildcards`, its options, `__` removal with the
 *   original prompt in the infotext, `{"Simple wildcards": []}` passed over;
 * - ControlNet (Mikubill) preprocessor names vs aliases in `module_list` and in units/detect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCli } from '../../sim/main.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { getJson as get, postJson as post, patternPng as testPng } from '../helpers/http-json.js';

const SMALL = { prompt: 'a cat', steps: 1, width: 64, height: 48 };
const FORGE_TITLES = [
  'DynamicThresholding (CFG-Fix) Integrated',
  'FreeU Integrated (SD 1.x, SD 2.x, SDXL)',
  'Kohya HRFix Integrated',
  'LatentModifier Integrated',
  'MultiDiffusion Integrated',
  'Never OOM Integrated',
  'PerturbedAttentionGuidance Integrated',
  'SelfAttentionGuidance Integrated (SD 1.x, SD 2.x, SDXL)',
  'StyleAlign Integrated',
];

describe('simulator: Forge built-in scripts, wildcards, ControlNet names', () => {
  let forge: Simulator;
  let a1111: Simulator;
  beforeAll(async () => {
    forge = await startSimulator({ port: 0, stepMs: 0, flavor: 'forge' });
    a1111 = await startSimulator({ port: 0, stepMs: 0, extensions: ['controlnet', 'wildcards'] });
  });
  afterAll(async () => {
    await forge.close();
    await a1111.close();
  });

  it("lists Forge's built-in always-on scripts on both tabs with their ui() args", async () => {
    const scripts = (await get(`${forge.url}/sdapi/v1/scripts`)).body;
    for (const t of FORGE_TITLES) {
      expect(scripts.txt2img).toContain(t.toLowerCase());
      expect(scripts.img2img).toContain(t.toLowerCase());
    }
    expect(scripts.txt2img).not.toContain('hypertile');
    expect(scripts.img2img).toContain('soft inpainting');
    const info = (await get(`${forge.url}/sdapi/v1/script-info`)).body as { name: string; is_alwayson: boolean; is_img2img: boolean; args: { label: string; value: unknown }[] }[];
    const never = info.filter((s) => s.name === 'never oom integrated');
    expect(never.map((s) => [s.is_alwayson, s.is_img2img])).toEqual([
      [true, false],
      [true, true],
    ]);
    expect(never[0].args.map((a) => [a.label, a.value])).toEqual([
      ['Enabled for UNet (always maximize offload)', false],
      ['Enabled for VAE (always tiled)', false],
    ]);
    expect(info.find((s) => s.name === 'kohya hrfix integrated')?.args).toHaveLength(8);
    // not on A1111
    expect((await get(`${a1111.url}/sdapi/v1/scripts`)).body.txt2img).not.toContain('never oom integrated');
  });

  it('accepts their args in alwayson_scripts (Forge issue #2041)', async () => {
    const r = await post(`${forge.url}/sdapi/v1/txt2img`, {
      ...SMALL,
      alwayson_scripts: { 'Never OOM Integrated': { args: [{ unet_enabled: true, vae_enabled: false }] }, 'freeu integrated (sd 1.x, sd 2.x, sdxl)': { args: [true, 1.1, 1.2] } },
    });
    expect(r.status).toBe(200);
    expect(r.body.images).toHaveLength(1);
    expect(await post(`${a1111.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { 'Never OOM Integrated': { args: [] } } })).toEqual({
      status: 422,
      body: { error: 'HTTPException', detail: "Script 'Never OOM Integrated' not found", body: '', errors: '' },
    });
  });

  it('installs the wildcards extension: Simple wildcards, its options, __name__ replaced as without wildcard files', async () => {
    expect((await get(`${a1111.url}/sdapi/v1/scripts`)).body.txt2img).toContain('simple wildcards');
    const info = (await get(`${a1111.url}/sdapi/v1/script-info`)).body as { name: string; args: unknown[] }[];
    expect(info.filter((s) => s.name === 'simple wildcards').map((s) => s.args)).toEqual([[], []]);
    expect((await get(`${a1111.url}/sdapi/v1/options`)).body).toMatchObject({ wildcards_same_seed: false, wildcards_write_infotext: true });
    const r = await post(`${a1111.url}/sdapi/v1/txt2img`, { ...SMALL, prompt: 'a __color__ cat <lora:add_detail:0.6>', alwayson_scripts: { 'Simple wildcards': [] } });
    expect(r.status).toBe(200);
    const info2 = JSON.parse(r.body.info as string);
    expect(info2.all_prompts).toEqual(['a color cat <lora:add_detail:0.6>']);
    expect(info2.infotexts[0]).toContain('Wildcard prompt: "a __color__ cat <lora:add_detail:0.6>"');
    // without the extension the prompt is left alone and the script is unknown
    const bare = await startSimulator({ port: 0, stepMs: 0 });
    try {
      const plain = await post(`${bare.url}/sdapi/v1/txt2img`, { ...SMALL, prompt: 'a __color__ cat' });
      expect(JSON.parse(plain.body.info as string).all_prompts).toEqual(['a __color__ cat']);
      expect((await post(`${bare.url}/sdapi/v1/txt2img`, { ...SMALL, alwayson_scripts: { 'Simple wildcards': [] } })).status).toBe(422);
    } finally {
      await bare.close();
    }
    const cfg = parseCli(['--extensions', 'controlnet,wildcards'], {});
    expect(cfg !== 'help' && cfg.options.extensions).toEqual(['controlnet', 'wildcards']);
  });

  it('answers ControlNet module_list with internal names, alias_names=true with the UI labels; units and detect take both', async () => {
    const names = (await get(`${a1111.url}/controlnet/module_list`)).body;
    expect(names.module_list).toEqual(expect.arrayContaining(['none', 'depth', 'normal_map', 'lineart', 'openpose', 'canny', 'clip_vision']));
    expect(names.module_list).not.toContain('depth_midas');
    expect(Object.keys(names.module_detail)).toEqual(names.module_list);
    const labels = (await get(`${a1111.url}/controlnet/module_list?alias_names=true`)).body;
    expect(labels.module_list).toEqual(expect.arrayContaining(['none', 'depth_midas', 'normal_midas', 'lineart_realistic', 'openpose', 'canny', 't2ia_style_clipvision']));
    expect(labels.module_list).not.toContain('depth');
    expect(labels.module_list[0]).toBe('none');
    expect(labels.module_detail['normal_midas'].sliders).toHaveLength(2);
    for (const module of ['depth', 'depth_midas']) {
      const d = await post(`${a1111.url}/controlnet/detect`, { controlnet_module: module, controlnet_input_images: [testPng(32, 16)] });
      expect(d.status, module).toBe(200);
    }
    const unit = (module: string) => ({ enabled: true, module, model: 'control_v11f1p_sd15_depth [cfd03158]', image: testPng(64, 48) });
    const r = await post(`${a1111.url}/sdapi/v1/img2img`, { ...SMALL, init_images: [testPng(64, 48)], alwayson_scripts: { ControlNet: { args: [unit('depth'), unit('normal_midas')] } } });
    expect(r.status).toBe(200);
    expect(r.body.images).toHaveLength(3);
    // Forge's built-in ControlNet knows labels only
    expect((await get(`${forge.url}/controlnet/module_list`)).body.module_list).toContain('depth_midas');
    expect((await post(`${forge.url}/controlnet/detect`, { controlnet_module: 'depth', controlnet_input_images: [testPng(32, 16)] })).body).toEqual({ detail: 'Module not available' });
  });
});
