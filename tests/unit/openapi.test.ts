import { describe, expect, it } from 'vitest';
import { bundledModel, parseOpenApi } from '../../handler/a1111/openapi.js';
import { OpenApiError } from '../../handler/errors/index.js';
import { servesPath } from '../../handler/a1111/server-model.js';
import { commonModel } from '../../handler/a1111/server-models.js';
import { A1111_OPENAPI, FORGE_OPENAPI } from './openapi-fixtures.js';

describe('parseOpenApi', () => {
  it('reads A1111 v1.10.1 (OpenAPI 3.0): fields, defaults, routes; nullability from the bundled model', () => {
    const m = parseOpenApi(A1111_OPENAPI, 'http://127.0.0.1:3000');
    expect(m).toMatchObject({ source: 'openapi', forge: false, pydantic: 1 });
    expect(m.description).toBe('GET /openapi.json of http://127.0.0.1:3000 (OpenAPI 3.0.2)');
    const t = m.models.get('/sdapi/v1/txt2img')!;
    expect(t.name).toBe('StableDiffusionProcessingTxt2Img');
    expect(t.fields.get('steps')).toMatchObject({ kind: 'integer', nullable: true, default: 50 });
    expect(t.fields.get('steps')!.nullFails).toMatch(/TypeError/);
    expect(t.fields.get('send_images')).toMatchObject({ kind: 'boolean', nullable: false, default: true });
    expect(t.fields.get('styles')).toMatchObject({ kind: 'array', items: 'string', nullable: true, hasDefault: false });
    expect(t.fields.has('distilled_cfg_scale')).toBe(false);
    expect(servesPath(m, 'GET', '/controlnet/model_list')).toBe(true);
    expect(servesPath(m, 'GET', '/sdapi/v1/sd-modules')).toBe(false);
    // A body model the bundled model does not know: its fields count as nullable.
    expect(m.models.get('/controlnet/detect')!.fields.get('controlnet_module')).toMatchObject({ kind: 'string', nullable: true, default: 'none' });
    // POST /sdapi/v1/options is dict[str, Any]: no field model.
    expect(m.models.has('/sdapi/v1/options')).toBe(false);
  });

  it('reads Forge (OpenAPI 3.1): anyOf null, plain types not nullable, Flux fields', () => {
    const m = parseOpenApi(FORGE_OPENAPI, 'http://forge');
    expect(m).toMatchObject({ forge: true, pydantic: 2 });
    const t = m.models.get('/sdapi/v1/txt2img')!;
    expect(t.fields.get('distilled_cfg_scale')).toMatchObject({ kind: 'number', nullable: true, default: 3.5 });
    expect(t.fields.get('send_images')).toMatchObject({ nullable: false });
    expect(t.fields.get('prompt')).toMatchObject({ kind: 'string', nullable: true });
    expect(servesPath(m, 'GET', '/sdapi/v1/sd-modules')).toBe(true);
  });

  it('reads constraints, Literal enums and $ref items', () => {
    const doc = {
      openapi: '3.0.2',
      paths: {
        '/sdapi/v1/txt2img': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/T' } } } } } },
        '/sdapi/v1/img2img': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/T' } } } } } },
        '/sdapi/v1/extra-batch-images': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/B' } } } } } },
      },
      components: {
        schemas: {
          T: { type: 'object', properties: { a: { allOf: [{ $ref: '#/components/schemas/E' }], default: 0 } } },
          E: { title: 'E', enum: [0, 1], type: 'integer' },
          F: { type: 'object', properties: { data: { type: 'string' }, name: { type: 'string' } }, required: ['data', 'name'] },
          B: { type: 'object', properties: { imageList: { type: 'array', items: { $ref: '#/components/schemas/F' } }, v: { type: 'number', exclusiveMinimum: 0, maximum: 1 } }, required: ['imageList'] },
        },
      },
    };
    const m = parseOpenApi(doc, 'x');
    expect(m.models.get('/sdapi/v1/txt2img')!.fields.get('a')).toMatchObject({ kind: 'integer', enum: [0, 1], default: 0 });
    const b = m.models.get('/sdapi/v1/extra-batch-images')!;
    expect(b.fields.get('imageList')).toMatchObject({ kind: 'array', items: 'object', required: true });
    expect([...b.fields.get('imageList')!.itemFields!.keys()]).toEqual(['data', 'name']);
    expect(b.fields.get('v')).toMatchObject({ exclusiveMinimum: 0, maximum: 1 });
  });

  it('refuses what is not a usable document', () => {
    expect(() => parseOpenApi({ swagger: '2.0' }, 'x')).toThrow(OpenApiError);
    expect(() => parseOpenApi({ openapi: '3.0.2', paths: {} }, 'x')).toThrow('no request model for POST /sdapi/v1/txt2img');
  });
});

describe('bundledModel', () => {
  it('is A1111 v1.10.1 with unknown routes', () => {
    const m = bundledModel();
    expect(m).toMatchObject({ source: 'bundled', forge: false, pydantic: 1, paths: null });
    expect([...m.models.keys()].sort()).toEqual(['/sdapi/v1/extra-batch-images', '/sdapi/v1/extra-single-image', '/sdapi/v1/img2img', '/sdapi/v1/interrogate', '/sdapi/v1/png-info', '/sdapi/v1/txt2img']);
    expect(servesPath(m, 'GET', '/controlnet/model_list')).toBeUndefined();
    expect(m.models.get('/sdapi/v1/png-info')!.fields.get('image')).toMatchObject({ required: true, nullable: false });
  });
});

describe('commonModel', () => {
  it('keeps what every backend accepts', () => {
    const c = commonModel([parseOpenApi(A1111_OPENAPI, 'a'), parseOpenApi(FORGE_OPENAPI, 'f')]);
    const t = c.models.get('/sdapi/v1/txt2img')!;
    expect(t.fields.has('distilled_cfg_scale')).toBe(false);
    expect(t.fields.has('steps')).toBe(true);
    expect(c.pydantic).toBe(2);
    expect(c.forge).toBe(false);
    expect(servesPath(c, 'GET', '/controlnet/model_list')).toBe(true);
    expect(servesPath(c, 'GET', '/sdapi/v1/sd-vae')).toBe(false);
    expect(c.description).toMatch(/^the common model of 2 backends/);
  });
});
