/**
 * GET /openapi.json of the simulator, A1111 flavor (FastAPI 0.94 + pydantic 1, OpenAPI 3.0.2) and Forge
 * flavor (pydantic 2, OpenAPI 3.1.0), checked against the shapes FastAPI gives for A1111's models.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { getJson as get } from '../helpers/http-json.js';

describe('simulator /openapi.json (A1111 v1.10.1)', () => {
  let sim: Simulator;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let doc: any;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 1, extensions: ['controlnet', 'adetailer'] });
    const r = await get(`${sim.url}/openapi.json`);
    expect(r.status).toBe(200);
    doc = r.body;
  });
  afterAll(() => sim.close());

  it('has FastAPI 0.94 header and every served route with get/post', async () => {
    expect(doc.openapi).toBe('3.0.2');
    expect(doc.info).toEqual({ title: 'FastAPI', version: '0.1.0' });
    for (const path of ['/sdapi/v1/txt2img', '/sdapi/v1/img2img', '/sdapi/v1/options', '/sdapi/v1/sd-vae', '/sdapi/v1/loras', '/controlnet/detect', '/adetailer/v1/schema']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(Object.keys(doc.paths['/sdapi/v1/options']).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/sdapi/v1/sd-modules']).toBeUndefined();
    // every path listed answers something other than the router's 404 on its method
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      if (!('get' in ops)) continue;
      const r = await get(`${sim.url}${path}`);
      expect(r.status, path).toBe(200);
    }
  });

  it('POST operations reference the request models by A1111 name, required', () => {
    const names: Record<string, string> = {
      '/sdapi/v1/txt2img': 'StableDiffusionProcessingTxt2Img',
      '/sdapi/v1/img2img': 'StableDiffusionProcessingImg2Img',
      '/sdapi/v1/extra-single-image': 'ExtrasSingleImageRequest',
      '/sdapi/v1/extra-batch-images': 'ExtrasBatchImagesRequest',
      '/sdapi/v1/png-info': 'PNGInfoRequest',
      '/sdapi/v1/interrogate': 'InterrogateRequest',
    };
    for (const [path, model] of Object.entries(names)) {
      const rb = doc.paths[path].post.requestBody;
      expect(rb.required).toBe(true);
      expect(rb.content['application/json'].schema).toEqual({ $ref: `#/components/schemas/${model}` });
      expect(doc.components.schemas[model].title).toBe(model);
    }
    expect(doc.paths['/sdapi/v1/txt2img'].post.operationId).toBe('text2imgapi_sdapi_v1_txt2img_post');
    expect(doc.paths['/sdapi/v1/txt2img'].post.summary).toBe('Text2Imgapi');
    expect(doc.paths['/sdapi/v1/options'].post.requestBody.content['application/json'].schema).toEqual({ title: 'Req', type: 'object' });
    expect(doc.components.schemas['FileData'].required).toEqual(['data', 'name']);
  });

  it('renders fields as pydantic 1: defaults, no nullability, Any/dict/list/Literal/constraints', () => {
    const t2i = doc.components.schemas['StableDiffusionProcessingTxt2Img'];
    const p = t2i.properties;
    expect(t2i.type).toBe('object');
    expect(t2i.required).toBeUndefined();
    expect(p.steps).toEqual({ title: 'Steps', type: 'integer', default: 50 });
    expect(p.cfg_scale).toEqual({ title: 'Cfg Scale', type: 'number', default: 7 });
    expect(p.denoising_strength).toEqual({ title: 'Denoising Strength', type: 'number' });
    expect(p.sampler_name).toEqual({ title: 'Sampler Name', type: 'string' });
    expect(p.styles).toEqual({ title: 'Styles', type: 'array', items: { type: 'string' } });
    expect(p.override_settings).toEqual({ title: 'Override Settings', type: 'object' });
    expect(p.script_args).toEqual({ title: 'Script Args', type: 'array', items: {}, default: [] });
    expect(p.alwayson_scripts).toEqual({ title: 'Alwayson Scripts', type: 'object', default: {} });
    expect(p.sampler_index).toEqual({ title: 'Sampler Index', type: 'string', default: 'Euler' });
    expect(p.firstpass_image).toEqual({ title: 'Firstpass Image', type: 'string' });
    expect(p.distilled_cfg_scale).toBeUndefined();
    expect(JSON.stringify(t2i)).not.toMatch(/null|anyOf|nullable/);
    // field order as A1111's model generator makes it
    const keys = Object.keys(p);
    expect(keys.indexOf('denoising_strength')).toBeLessThan(keys.indexOf('enable_hr'));
    expect(keys.slice(-7)).toEqual(['sampler_index', 'script_name', 'script_args', 'send_images', 'save_images', 'alwayson_scripts', 'infotext']);
    const i2i = doc.components.schemas['StableDiffusionProcessingImg2Img'].properties;
    expect(i2i.denoising_strength).toEqual({ title: 'Denoising Strength', type: 'number', default: 0.75 });
    expect(i2i.init_images).toEqual({ title: 'Init Images', type: 'array', items: {} });
    expect(i2i.latent_mask).toEqual({ title: 'Latent Mask', type: 'string' });
    expect(i2i.mask_blur).toEqual({ title: 'Mask Blur', type: 'integer' });
    const ex = doc.components.schemas['ExtrasSingleImageRequest'].properties;
    expect(ex.resize_mode).toMatchObject({ title: 'Resize Mode', default: 0, enum: [0, 1], type: 'integer' });
    expect(ex.gfpgan_visibility).toMatchObject({ type: 'number', minimum: 0, maximum: 1, default: 0 });
    expect(ex.upscaling_resize).toMatchObject({ type: 'number', exclusiveMinimum: 0, default: 2 });
    expect(doc.components.schemas['ExtrasBatchImagesRequest'].properties.imageList).toMatchObject({
      title: 'Images',
      type: 'array',
      items: { $ref: '#/components/schemas/FileData' },
    });
    expect(doc.components.schemas['ExtrasBatchImagesRequest'].required).toEqual(['imageList']);
    expect(doc.components.schemas['PNGInfoRequest'].required).toEqual(['image']);
    expect(Object.keys(doc.components.schemas)).toEqual([...Object.keys(doc.components.schemas)].sort());
    expect(doc.paths['/sdapi/v1/progress'].get.parameters[0]).toMatchObject({ name: 'skip_current_image', in: 'query', required: false });
  });
});

describe('simulator /openapi.json (Forge)', () => {
  let sim: Simulator;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let doc: any;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 1, flavor: 'forge' });
    doc = (await get(`${sim.url}/openapi.json`)).body;
  });
  afterAll(() => sim.close());

  it('is OpenAPI 3.1.0 with pydantic-2 anyOf-null for Optional fields and Forge fields', () => {
    expect(doc.openapi).toBe('3.1.0');
    const p = doc.components.schemas['StableDiffusionProcessingTxt2Img'].properties;
    expect(p.steps).toEqual({ anyOf: [{ type: 'integer' }, { type: 'null' }], title: 'Steps', default: 50 });
    expect(p.denoising_strength).toEqual({ anyOf: [{ type: 'number' }, { type: 'null' }], title: 'Denoising Strength', default: null });
    expect(p.send_images).toEqual({ type: 'boolean', title: 'Send Images', default: true });
    expect(p.distilled_cfg_scale).toEqual({ anyOf: [{ type: 'number' }, { type: 'null' }], title: 'Distilled Cfg Scale', default: 3.5 });
    expect(p.hr_additional_modules).toEqual({ anyOf: [{ type: 'array', items: {} }, { type: 'null' }], title: 'Hr Additional Modules', default: null });
    expect(p.hr_cfg.default).toBe(1);
    expect(doc.components.schemas['StableDiffusionProcessingImg2Img'].properties.hr_distilled_cfg.default).toBe(3.5);
    expect(doc.paths['/sdapi/v1/sd-modules'].get).toBeDefined();
    expect(doc.paths['/sdapi/v1/sd-vae']).toBeUndefined();
    expect(doc.paths['/controlnet/model_list'].get).toBeDefined();
    expect(doc.paths['/controlnet/version']).toBeUndefined();
  });
});
