/**
 * `GET /openapi.json`, built from the simulator's own routes and request models,
 * shaped as FastAPI renders it:
 * - A1111 v1.10.1 (FastAPI 0.94 + pydantic 1): OpenAPI `3.0.2`, pydantic-1 schemas (`openapi-schema.ts`);
 * - Forge (FastAPI ≥ 0.100 + pydantic 2): OpenAPI `3.1.0`, pydantic-2 schemas (`anyOf [.., null]`).
 * Per operation (FastAPI `get_openapi_path`): `summary` = endpoint name title-cased, `operationId` =
 * `name + path` with non-word characters as `_` + `_<method>`, `parameters` for query parameters, a
 * required JSON `requestBody` (`$ref` to the model, `dict` bodies inline), `200` and, when the route
 * takes a body or parameters, `422` with `HTTPValidationError`. Components are sorted by name.
 * Response models are not simulated: `200` schemas are `{}`.
 */
import type { SimFlavor } from './models.js';
import { pydantic1ModelSchema, pydantic2ModelSchema, pyTitle } from './openapi-schema.js';
import type { SimRoute } from './routes/index.js';
import { FILE_DATA_FIELDS } from './models.js';

type Json = Record<string, unknown>;
const REF = '#/components/schemas/';

function validationSchemas(flavor: SimFlavor): Json {
  const locItems = { anyOf: [{ type: 'string' }, { type: 'integer' }] };
  if (flavor === 'forge') {
    return {
      HTTPValidationError: {
        properties: { detail: { items: { $ref: `${REF}ValidationError` }, type: 'array', title: 'Detail' } },
        type: 'object',
        title: 'HTTPValidationError',
      },
      ValidationError: {
        properties: {
          loc: { items: locItems, type: 'array', title: 'Location' },
          msg: { type: 'string', title: 'Message' },
          type: { type: 'string', title: 'Error Type' },
        },
        type: 'object',
        required: ['loc', 'msg', 'type'],
        title: 'ValidationError',
      },
    };
  }
  return {
    HTTPValidationError: {
      title: 'HTTPValidationError',
      type: 'object',
      properties: { detail: { title: 'Detail', type: 'array', items: { $ref: `${REF}ValidationError` } } },
    },
    ValidationError: {
      title: 'ValidationError',
      required: ['loc', 'msg', 'type'],
      type: 'object',
      properties: {
        loc: { title: 'Location', type: 'array', items: locItems },
        msg: { title: 'Message', type: 'string' },
        type: { title: 'Error Type', type: 'string' },
      },
    },
  };
}

/**
 * The OpenAPI document of a simulator.
 * @param routes every route served (see `routes.ts`), in registration order
 */
export function buildOpenApi(flavor: SimFlavor, routes: readonly SimRoute[]): Json {
  const forge = flavor === 'forge';
  const schemas: Json = validationSchemas(flavor);
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const op: Json = {
      summary: pyTitle(r.name.replace(/_/g, ' ')),
      operationId: `${r.name}${r.path}`.replace(/\W/g, '_') + `_${r.method}`,
    };
    if (r.query?.length) {
      op['parameters'] = r.query.map((q) => {
        const schema = forge
          ? { type: 'boolean', ...(q.description ? { description: q.description } : {}), default: q.default, title: q.title }
          : { title: q.title, type: 'boolean', ...(q.description ? { description: q.description } : {}), default: q.default };
        return forge
          ? { name: q.name, in: 'query', required: false, schema, ...(q.description ? { description: q.description } : {}) }
          : { ...(q.description ? { description: q.description } : {}), required: false, schema, name: q.name, in: 'query' };
      });
    }
    if (r.body) {
      let schema: Json;
      if (r.body === 'dict') schema = forge ? { type: 'object', title: 'Req' } : { title: 'Req', type: 'object' };
      else {
        schema = { $ref: `${REF}${r.body.name}` };
        schemas[r.body.name] = forge ? pydantic2ModelSchema(r.body, REF) : pydantic1ModelSchema(r.body, REF);
        if (r.body.fields.some((f) => f.model === 'FileData')) {
          const fd = { name: 'FileData', fields: FILE_DATA_FIELDS };
          schemas['FileData'] = forge ? pydantic2ModelSchema(fd, REF) : pydantic1ModelSchema(fd, REF);
        }
      }
      op['requestBody'] = { content: { 'application/json': { schema } }, required: true };
    }
    const responses: Json = { '200': { description: 'Successful Response', content: { 'application/json': { schema: {} } } } };
    if (r.body || r.query?.length) {
      responses['422'] = { description: 'Validation Error', content: { 'application/json': { schema: { $ref: `${REF}HTTPValidationError` } } } };
    }
    op['responses'] = responses;
    paths[r.path] = { ...(paths[r.path] ?? {}), [r.method]: op };
  }
  const sorted: Json = {};
  for (const k of Object.keys(schemas).sort()) sorted[k] = schemas[k];
  return { openapi: forge ? '3.1.0' : '3.0.2', info: { title: 'FastAPI', version: '0.1.0' }, paths, components: { schemas: sorted } };
}
