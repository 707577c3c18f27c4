/**
 * API docs of the local endpoint: the OpenAPI description of RunPod's public endpoint API as the emulator implements
 * it (openapi.ts) at `GET /openapi.json` (and swagger-ui's `/docs/json`, `/docs/yaml`), and the interactive page at
 * `/docs` (`@fastify/swagger` in static mode with that document, `@fastify/swagger-ui`, whose assets come from its
 * npm package: no network needed). The docs need no API key; the page's Authorize button takes it for "Try it out".
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { buildOpenApi, type ExampleRequest } from './openapi.js';

export { JOB_INPUT_SCHEMA, type ExampleRequest } from './openapi.js';

/** What the docs describe beyond the routes themselves. */
export interface ApiDocsOptions {
  /**
   * JSON Schemas of the job `input`: the envelope (named `JobInput`: {@link JOB_INPUT_SCHEMA}) and each route's
   * request model, keyed by a name used in the description (OpenAPI component names: `^[a-zA-Z0-9._-]+$`); they may
   * refer to each other as `#/components/schemas/<name>`. Given by the caller (main.ts), so that the endpoint does
   * not import the handler's schemas. Without them, `input` is described as any JSON value but null.
   */
  inputSchemas?: Readonly<Record<string, object>>;
  /** Example `/run` and `/runsync` bodies, by key; the page fills in the first. */
  examples?: Readonly<Record<string, ExampleRequest>>;
}

/** Where the page is served. */
export const DOCS_PREFIX = '/docs';

/**
 * Registers the docs routes on `app` (before it listens), in their own plugin scope: `GET /openapi.json`, and
 * `GET /docs` with swagger-ui's assets under `/docs/static/`.
 * @param opts the caller's schemas and examples, the endpoint id offered by default, and the API key (when set, the
 *   document declares the bearer scheme; the docs routes themselves never ask for it)
 * @throws Error when an input schema's name clashes with the public API's own component names
 */
export async function registerApiDocs(app: FastifyInstance, opts: ApiDocsOptions & { endpointId: string; apiKey?: string }): Promise<void> {
  const document = buildOpenApi({
    endpointId: opts.endpointId,
    apiKeyRequired: opts.apiKey !== undefined && opts.apiKey !== '',
    ...(opts.inputSchemas ? { inputSchemas: opts.inputSchemas } : {}),
    ...(opts.examples ? { examples: opts.examples } : {}),
  });
  const text = JSON.stringify(document);
  await app.register(async (scope) => {
    scope.get('/openapi.json', async (_req, reply) => reply.type('application/json; charset=utf-8').send(text));
    await scope.register(fastifySwagger, { mode: 'static', specification: { document: document as never } });
    await scope.register(fastifySwaggerUi, {
      routePrefix: DOCS_PREFIX,
      uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false, tryItOutEnabled: false, displayRequestDuration: true },
    });
  });
}
