/**
 * OpenAPI documents shaped as the servers serve them, built from the bundled model (schemas/*.json):
 * - A1111 v1.10.1: FastAPI 0.94 + pydantic 1, OpenAPI 3.0.2; a field is `{"title", "type", "default"}`, nullability
 *   is never marked, `list[FileData]` is an `items.$ref`;
 * - Forge: FastAPI + pydantic 2, OpenAPI 3.1.0; an Optional field is `{"anyOf": [{"type": "integer"}, {"type":
 *   "null"}], "title", "default"}`; plus Forge's Flux fields.
 */
import txt2img from '../../schemas/txt2img.json' with { type: 'json' };
import img2img from '../../schemas/img2img.json' with { type: 'json' };
import interrogate from '../../schemas/interrogate.json' with { type: 'json' };
import extraSingle from '../../schemas/extra-single-image.json' with { type: 'json' };

type Json = Record<string, unknown>;

function title(name: string): string {
  return name.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
}

function field(name: string, p: Json, v31: boolean): Json {
  const types = Array.isArray(p.type) ? (p.type as string[]) : p.type ? [p.type as string] : [];
  const real = types.filter((t) => t !== 'null');
  const base: Json = {};
  if (real.length === 1) base.type = real[0];
  if (p.items) base.items = p.items;
  if (p.enum) base.enum = p.enum;
  for (const k of ['minimum', 'maximum', 'exclusiveMinimum']) if (p[k] !== undefined) base[k] = p[k];
  const out: Json = v31 && types.includes('null') ? { anyOf: [base, { type: 'null' }] } : { ...base };
  out.title = title(name);
  // pydantic 1 leaves out a default of None.
  if (p.default !== undefined && !(p.default === null && !v31)) out.default = p.default;
  return out;
}

function component(schema: Json, v31: boolean, extra: Json = {}): Json {
  const props: Json = {};
  for (const [k, v] of Object.entries(schema.properties as Json)) props[k] = field(k, v as Json, v31);
  return { title: schema['x-model'], type: 'object', properties: { ...props, ...extra }, ...(schema.required ? { required: schema.required } : {}) };
}

const post = (model: string): Json => ({ post: { requestBody: { content: { 'application/json': { schema: { $ref: `#/components/schemas/${model}` } } }, required: true }, responses: {} } });
const get: Json = { get: { responses: {} } };

/** The common routes of both servers. */
function paths(extra: Json): Json {
  return {
    '/sdapi/v1/txt2img': post('StableDiffusionProcessingTxt2Img'),
    '/sdapi/v1/img2img': post('StableDiffusionProcessingImg2Img'),
    '/sdapi/v1/interrogate': post('InterrogateRequest'),
    '/sdapi/v1/extra-single-image': post('ExtrasSingleImageRequest'),
    '/sdapi/v1/samplers': get,
    '/sdapi/v1/options': { ...get, post: { requestBody: { content: { 'application/json': { schema: { type: 'object', title: 'Req' } } }, required: true } } },
    ...extra,
  };
}

/** A1111 v1.10.1's document (OpenAPI 3.0.2), with the ControlNet extension's routes. */
export const A1111_OPENAPI: Json = {
  openapi: '3.0.2',
  info: { title: 'FastAPI', version: '0.1.0' },
  paths: paths({ '/sdapi/v1/sd-vae': get, '/controlnet/model_list': get, '/controlnet/detect': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Body_detect_controlnet_detect_post' } } } } } } }),
  components: {
    schemas: {
      StableDiffusionProcessingTxt2Img: component(txt2img as Json, false),
      StableDiffusionProcessingImg2Img: component(img2img as Json, false),
      InterrogateRequest: component(interrogate as Json, false),
      ExtrasSingleImageRequest: component(extraSingle as Json, false),
      Body_detect_controlnet_detect_post: { title: 'Body_detect_controlnet_detect_post', type: 'object', properties: { controlnet_module: { title: 'Controlnet Module', type: 'string', default: 'none' }, controlnet_input_images: { title: 'Controlnet Input Images', type: 'array', items: { type: 'string' }, default: [] } } },
    },
  },
};

const flux = (v: number): Json => ({ anyOf: [{ type: 'number' }, { type: 'null' }], title: 'Flux', default: v });

/** Forge's document (OpenAPI 3.1.0, pydantic 2), with its Flux fields and `sd-modules` in place of `sd-vae`. */
export const FORGE_OPENAPI: Json = {
  openapi: '3.1.0',
  info: { title: 'FastAPI', version: '0.1.0' },
  paths: paths({ '/sdapi/v1/sd-modules': get, '/controlnet/model_list': get }),
  components: {
    schemas: {
      StableDiffusionProcessingTxt2Img: component(txt2img as Json, true, {
        distilled_cfg_scale: flux(3.5),
        hr_cfg: flux(1),
        hr_distilled_cfg: flux(3.5),
        hr_additional_modules: { anyOf: [{ type: 'array', items: {} }, { type: 'null' }], title: 'Hr Additional Modules', default: ['Use same choices'] },
      }),
      StableDiffusionProcessingImg2Img: component(img2img as Json, true, { distilled_cfg_scale: flux(3.5), hr_distilled_cfg: flux(3.5) }),
      InterrogateRequest: component(interrogate as Json, true),
      ExtrasSingleImageRequest: component(extraSingle as Json, true),
    },
  },
};
