/**
 * The local endpoint's API docs (handler/endpoint/docs/) over real loopback HTTP, with the job-input schemas and
 * examples main.ts passes (handler/a1111/input-schemas.ts): `/openapi.json` is an OpenAPI 3.1 document naming every
 * public route the emulator serves (each one answered by the emulator, not by its "no route" 404), every `$ref`
 * resolves, the input schemas are there and test_input.json validates against the `/run` body schema (ajv, JSON
 * Schema 2020-12 as OpenAPI 3.1 reads it); `/docs` serves swagger-ui's page and assets; neither needs the API key,
 * which the document then declares as a bearer scheme.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_REQUESTS, JOB_INPUT_SCHEMAS } from '../../handler/a1111/input-schemas.js';
import { startEndpoint, type LocalEndpoint } from '../../handler/endpoint/index.js';
import { ROOT } from '../helpers/root.js';

type Json = Record<string, unknown>;

const KEY = 'docs-key';
/** The public routes of handler/endpoint/public-api.ts, with their methods, under `/v2/{endpointId}`. */
const PUBLIC_ROUTES: Record<string, string[]> = {
  '/run': ['post'],
  '/runsync': ['post'],
  '/status/{id}': ['get'],
  '/status-sync/{id}': ['get'],
  '/stream/{id}': ['get'],
  '/cancel/{id}': ['post'],
  '/retry/{id}': ['post'],
  '/purge-queue': ['post'],
  '/health': ['get'],
};

let keyed: LocalEndpoint;
let open: LocalEndpoint;
let doc: Json;

async function getJson(url: string): Promise<{ status: number; json: Json }> {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as Json };
}

/** Every `$ref` string in `value`, with the JSON path where it sits. */
function refs(value: unknown, at = '#'): { at: string; ref: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => refs(v, `${at}/${i}`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value as Json).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [{ at, ref: v }] : refs(v, `${at}/${k}`)));
}

/** The value a local `#/…` pointer names in `root` (undefined when it names nothing). */
function resolve(root: unknown, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, seg) => (typeof node === 'object' && node !== null ? (node as Json)[seg] : undefined), root);
}

beforeAll(async () => {
  const apiDocs = { inputSchemas: JOB_INPUT_SCHEMAS, examples: EXAMPLE_REQUESTS };
  [keyed, open] = await Promise.all([startEndpoint({ port: 0, apiKey: KEY, apiDocs }), startEndpoint({ port: 0, apiDocs: {} })]);
  const r = await getJson(`${keyed.url}/openapi.json`);
  expect(r.status).toBe(200);
  doc = r.json;
});

afterAll(async () => {
  await Promise.all([keyed?.close(), open?.close()]);
});

describe('/openapi.json', () => {
  it('is an OpenAPI 3.1 document with every public route, each with a 200 answer and its path parameters', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect((doc.info as Json).title).toEqual(expect.any(String));
    const paths = doc.paths as Record<string, Json>;
    expect(Object.keys(paths).sort()).toEqual(Object.keys(PUBLIC_ROUTES).map((p) => `/v2/{endpointId}${p}`).sort());
    const operationIds = new Set<string>();
    for (const [p, methods] of Object.entries(PUBLIC_ROUTES)) {
      const item = paths[`/v2/{endpointId}${p}`]!;
      for (const m of methods) {
        const op = item[m] as Json;
        expect(op, `${m} ${p}`).toBeDefined();
        expect(Object.keys(op.responses as Json)).toContain('200');
        operationIds.add(op.operationId as string);
        const params = [...((item.parameters as Json[]) ?? []), ...((op.parameters as Json[]) ?? [])];
        for (const name of [...`/v2/{endpointId}${p}`.matchAll(/\{(\w+)\}/g)].map((x) => x[1])) {
          expect(params.some((q) => q.name === name && q.in === 'path' && q.required === true), `${p} declares {${name}}`).toBe(true);
        }
      }
    }
    expect(operationIds.size).toBe(Object.values(PUBLIC_ROUTES).flat().length);
  });

  it('names only routes the emulator serves, under /v2/{endpointId} and bare', async () => {
    for (const [p, methods] of Object.entries(PUBLIC_ROUTES)) {
      for (const m of methods) {
        for (const prefix of ['/v2/local', '']) {
          const res = await fetch(`${open.url}${prefix}${p.replace('{id}', 'no-such-job')}`, {
            method: m.toUpperCase(),
            headers: { 'content-type': 'application/json' },
            ...(m === 'post' ? { body: '{}' } : {}),
          });
          const body = (await res.json()) as Json;
          expect(String(body.error ?? ''), `${m} ${prefix}${p}`).not.toMatch(/^no route/);
        }
      }
    }
  });

  it('every $ref resolves within the document', () => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(20);
    for (const { at, ref } of all) {
      expect(ref, at).toMatch(/^#\//);
      expect(resolve(doc, ref), `${ref} at ${at}`).toBeDefined();
    }
  });

  it('describes the job input with the envelope and every request model', () => {
    const schemas = (doc.components as Json).schemas as Record<string, Json>;
    for (const name of ['JobInput', 'a1111.txt2img', 'a1111.img2img', 'a1111.interrogate', 'sdcn.txt2img', 'openai.generations']) {
      expect(schemas[name], name).toBeDefined();
    }
    expect((schemas.RunRequest!.properties as Json).input).toEqual({ $ref: '#/components/schemas/JobInput' });
    const payload = (schemas.JobInput!.properties as Json).payload as Json;
    expect(payload.anyOf).toContainEqual({ $ref: '#/components/schemas/a1111.txt2img' });
    expect(Object.keys(schemas['a1111.txt2img']!.properties as Json)).toEqual(expect.arrayContaining(['prompt', 'steps', 'width', 'height']));
    // The dialects' shared definitions are inlined: no reference leaves the document.
    expect(JSON.stringify(doc)).not.toContain('common.json#');
  });

  it("test_input.json is the first example of /runsync's body, and the examples validate against RunRequest", () => {
    const testInput = JSON.parse(readFileSync(path.join(ROOT, 'test_input.json'), 'utf8')) as unknown;
    const content = ((((doc.paths as Json)['/v2/{endpointId}/runsync'] as Json).post as Json).requestBody as Json).content as Json;
    const examples = Object.values((content['application/json'] as Json).examples as Json) as Json[];
    expect(examples[0]!.value).toEqual(testInput);
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ ...doc, $id: 'https://local.invalid/openapi.json' });
    const validate = ajv.getSchema('https://local.invalid/openapi.json#/components/schemas/RunRequest')!;
    for (const e of examples) expect(validate(e.value), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ input: { api: { method: 'PUT', endpoint: '/sdapi/v1/txt2img' } } })).toBe(false);
    expect(validate({ input: { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { steps: 'many' } } })).toBe(false);
  });

  it('declares the bearer scheme when the API key is set, and none otherwise', async () => {
    expect((doc.components as Json).securitySchemes).toEqual({ bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const plain = (await getJson(`${open.url}/openapi.json`)).json;
    expect((plain.components as Json).securitySchemes).toBeUndefined();
    expect(plain.security).toBeUndefined();
    // Without input schemas, input is any JSON value but null.
    expect((((plain.components as Json).schemas as Record<string, Json>).RunRequest!.properties as Json).input).toEqual(expect.objectContaining({ not: { type: 'null' } }));
  });
});

describe('/docs', () => {
  it('serves the page, its assets and the document without the API key; the public API still asks for it', async () => {
    const page = await fetch(`${keyed.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('swagger-ui');
    for (const asset of ['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui.css', '/docs/static/swagger-initializer.js']) {
      const res = await fetch(`${keyed.url}${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }
    const json = await getJson(`${keyed.url}/docs/json`);
    expect(json.json).toEqual(doc);
    const health = await fetch(`${keyed.url}/v2/local/health`);
    expect(health.status).toBe(401);
    expect(await health.json()).toEqual({ error: expect.stringContaining('API key') });
  });
});
