/**
 * The job `input` as JSON Schemas, for the local endpoint's API docs (`--rp_serve_api`, `/docs`): the envelope
 * `{"api": {"method", "endpoint"}, "payload", …}` and the payload model of each route or request dialect, built from
 * the bundled schemas in `schemas/` (docs/request-model.md), with the repository's `test_input.json` as the example.
 *
 * The schemas are self-contained and in JSON Schema 2020-12 (the dialect of an OpenAPI 3.1 Schema Object), so that
 * each can sit in `components.schemas`: `$schema`/`$id` are dropped, the dialects' `common.json#/definitions/X` are
 * inlined, and draft-07's tuple `items: [...]` becomes `prefixItems`. The envelope refers to the models as `#/components/schemas/<name>`, `<name>` being their key in
 * {@link JOB_INPUT_SCHEMAS}. The running server's own model (its `/openapi.json`) may accept more fields than the
 * bundled v1.10.1 model describes; the worker checks a payload against the running server's (docs/request-model.md).
 */
import testInput from '../../test_input.json' with { type: 'json' };
import common from '../../schemas/common.json' with { type: 'json' };
import options from '../../schemas/options.json' with { type: 'json' };
import sdcnTxt2img from '../../schemas/sdcn-txt2img.json' with { type: 'json' };
import sdcnImg2img from '../../schemas/sdcn-img2img.json' with { type: 'json' };
import sdcnInterrogate from '../../schemas/sdcn-interrogate.json' with { type: 'json' };
import openaiGenerations from '../../schemas/openai-generations.json' with { type: 'json' };
import openaiEdits from '../../schemas/openai-edits.json' with { type: 'json' };
import { BUNDLED_SCHEMAS } from './openapi.js';

type Json = Record<string, unknown>;

/** Where the dialects' shared definitions are referred to from their schemas. */
const COMMON_REF = 'common.json#/definitions/';

/**
 * A copy of a bundled (draft-07) schema in 2020-12 form, without `$schema`/`$id`, with every `$ref` to
 * `common.json#/definitions/X` replaced by that definition (merged with the referring object's other keys, which win).
 */
function selfContained(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(selfContained);
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  const obj = value as Json;
  const ref = obj.$ref;
  if (typeof ref === 'string' && ref.startsWith(COMMON_REF)) {
    const def = (common.definitions as Record<string, unknown>)[ref.slice(COMMON_REF.length)];
    if (def === undefined) throw new Error(`bundled schema refers to ${ref}, which schemas/common.json does not define`);
    Object.assign(out, selfContained(def));
  }
  for (const [k, v] of Object.entries(obj)) {
    if (k === '$schema' || k === '$id' || (k === '$ref' && typeof ref === 'string' && ref.startsWith(COMMON_REF))) continue;
    // Draft-07's tuple form `items: [...]` (with `additionalItems`) is 2020-12's `prefixItems` (with `items`).
    if (k === 'items' && Array.isArray(v)) out.prefixItems = selfContained(v);
    else if (k === 'additionalItems') out.items = selfContained(v);
    else out[k] = selfContained(v);
  }
  return out;
}

/** One payload model: the `input.api` it goes with, and its bundled schema. */
interface PayloadModel {
  /** `api.method`. */
  method: 'POST';
  /** `api.endpoint`, exactly as sent. */
  endpoint: string;
  /** Who reads it: A1111 itself, or the worker's translation of a request dialect (README, "Request dialects"). */
  owner: 'A1111' | 'SDCN' | 'OpenAI-style';
  schema: unknown;
}

/** The payload models by their name in the docs. */
const MODELS: Readonly<Record<string, PayloadModel>> = {
  ...Object.fromEntries(
    [...BUNDLED_SCHEMAS].map(([path, schema]) => [`a1111.${path.slice(path.lastIndexOf('/') + 1)}`, { method: 'POST', endpoint: path, owner: 'A1111', schema }]),
  ),
  'a1111.options': { method: 'POST', endpoint: '/sdapi/v1/options', owner: 'A1111', schema: options },
  'sdcn.txt2img': { method: 'POST', endpoint: '/txt2img', owner: 'SDCN', schema: sdcnTxt2img },
  'sdcn.img2img': { method: 'POST', endpoint: '/img2img', owner: 'SDCN', schema: sdcnImg2img },
  'sdcn.interrogate': { method: 'POST', endpoint: '/interrogate', owner: 'SDCN', schema: sdcnInterrogate },
  'openai.generations': { method: 'POST', endpoint: '/v1/images/generations', owner: 'OpenAI-style', schema: openaiGenerations },
  'openai.edits': { method: 'POST', endpoint: '/v1/images/edits', owner: 'OpenAI-style', schema: openaiEdits },
};

/** The name of the envelope's schema in {@link JOB_INPUT_SCHEMAS}. */
export const JOB_INPUT = 'JobInput';

const refTo = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

/** The envelope: `api`, `payload` (one of the models, chosen by `api.endpoint`) and the worker's per-job options. */
function envelope(): Json {
  const names = Object.keys(MODELS);
  const table = names.map((n) => `\`${MODELS[n]!.method} ${MODELS[n]!.endpoint}\` → ${n} (${MODELS[n]!.owner})`).join('; ');
  return {
    title: 'Job input (the worker envelope)',
    description:
      'The `input` of a `/run` or `/runsync` body: which A1111 route (or request dialect) to call, and its payload. ' +
      "An input without `api` is read as a txt2img payload (the official worker's shape). GET routes such as " +
      '`/sdapi/v1/samplers`, `/sdapi/v1/schedulers`, `/sdapi/v1/sd-models` and payload-less POST routes (`/sdapi/v1/interrupt`, ' +
      '`refresh-*`) take no payload (absent, null or {}). A refused input ends the job FAILED with an `error` naming the field.',
    type: 'object',
    required: ['api'],
    additionalProperties: false,
    properties: {
      api: {
        type: 'object',
        required: ['method', 'endpoint'],
        additionalProperties: false,
        properties: {
          method: { type: 'string', enum: ['GET', 'POST'], description: 'HTTP method of the A1111 route (any case); request dialects take POST.' },
          endpoint: {
            type: 'string',
            maxLength: 200,
            description: 'The full path of an allowed A1111 route (a leading / optional), or a request dialect endpoint.',
            examples: ['/sdapi/v1/txt2img', '/sdapi/v1/img2img', '/sdapi/v1/samplers', '/txt2img', '/v1/images/generations'],
          },
        },
      },
      payload: { description: `The request body of the route, by api.endpoint: ${table}.`, anyOf: [...names.map(refTo), { type: 'null' }] },
      preview: { type: 'boolean', default: false, description: "Stream A1111's live previews (read them with /stream)." },
      timeout_s: { type: 'number', exclusiveMinimum: 0, description: "This job's A1111 timeout, seconds (capped by MAX_JOB_TIMEOUT_S)." },
      output: { type: 'string', enum: ['base64', 's3'], description: 'base64: images in the output; s3: uploaded (needs a bucket). Default: S3 when a bucket is set.' },
      refresh_worker: { type: 'boolean', default: false, description: 'Ask RunPod to replace the worker after this job (stopPod).' },
    },
    // The payload's model by endpoint, for validators (A1111's paths may be sent without their leading /).
    allOf: names.map((n) => {
      const { endpoint } = MODELS[n]!;
      const sent = MODELS[n]!.owner === 'A1111' ? [endpoint, endpoint.slice(1)] : [endpoint];
      return {
        if: { required: ['api'], properties: { api: { required: ['endpoint'], properties: { endpoint: { enum: sent } } } } },
        then: { properties: { payload: refTo(n) } },
      };
    }),
  };
}

/**
 * The envelope (key {@link JOB_INPUT}) and every payload model, by name (`a1111.txt2img`, `sdcn.txt2img`,
 * `openai.generations`, …); names match OpenAPI's component-name pattern `^[a-zA-Z0-9._-]+$`.
 */
export const JOB_INPUT_SCHEMAS: Readonly<Record<string, object>> = Object.freeze({
  [JOB_INPUT]: envelope(),
  ...Object.fromEntries(Object.entries(MODELS).map(([name, m]) => [name, selfContained(m.schema) as object])),
});

/**
 * Example `/run` bodies for the docs, by key, the first being the one the page fills in: the repository's
 * `test_input.json` (SDXL txt2img, what the README's demo runs), and a GET route through the worker.
 */
export const EXAMPLE_REQUESTS: Readonly<Record<string, { summary: string; value: unknown }>> = Object.freeze({
  test_input: { summary: 'test_input.json: SDXL txt2img', value: testInput },
  samplers: { summary: 'GET /sdapi/v1/samplers through the worker', value: { input: { api: { method: 'GET', endpoint: '/sdapi/v1/samplers' } } } },
  sdcn: { summary: 'SDCN txt2img', value: { input: { api: { method: 'POST', endpoint: '/txt2img' }, payload: { prompt: 'a lighthouse at dusk', steps: 20, width: 512, height: 512 } } } },
});
