/**
 * The OpenAPI 3.1 description of RunPod's public endpoint API as the emulator implements it (`public-api.ts`):
 * `/run`, `/runsync`, `/status/{id}`, `/status-sync/{id}`, `/stream/{id}`, `/cancel/{id}`, `/retry/{id}`,
 * `/purge-queue`, `/health` under `/v2/{endpointId}/` (the bare paths `/run`, … are served too). Public sources:
 * RunPod docs serverless/endpoints/operation-reference.mdx and send-requests.mdx (routes, bodies, limits, the
 * `Authorization: Bearer` key). The worker API (job-take, job-done, …) is the worker's, not a client's: not described.
 */
import { describeLimit, RUN_BODY_LIMIT_BYTES, RUNSYNC_BODY_LIMIT_BYTES, WAIT_DEFAULT_MS, WAIT_MAX_MS, WAIT_MIN_MS } from '../request.js';
import { publicApiSchemas, ref, type SchemaObject } from './schemas.js';

/** One named example request body (OpenAPI Example Object). */
export interface ExampleRequest {
  /** Shown in the page's example list. */
  summary: string;
  /** The `/run` body, `{"input": …}`. */
  value: unknown;
}

/** What {@link buildOpenApi} describes beyond the routes. */
export interface OpenApiOptions {
  /** The endpoint id offered by default for `{endpointId}` (any id is served). */
  endpointId: string;
  /** True when the public routes need the API key: the bearer security scheme is declared. */
  apiKeyRequired: boolean;
  /**
   * Component schemas of the job `input`, by name; the one named {@link JOB_INPUT_SCHEMA} is the `input` of
   * `/run` and `/runsync`. They may refer to each other as `#/components/schemas/<name>`.
   */
  inputSchemas?: Readonly<Record<string, object>>;
  /** Example request bodies of `/run` and `/runsync`, by key; the first is the one the page fills in. */
  examples?: Readonly<Record<string, ExampleRequest>>;
}

/** The name of the job-input schema in {@link OpenApiOptions.inputSchemas}. */
export const JOB_INPUT_SCHEMA = 'JobInput';

const P = '/v2/{endpointId}';
const json = (schema: SchemaObject): SchemaObject => ({ 'application/json': { schema } });
const errorRef = (name: string): SchemaObject => ({ $ref: `#/components/responses/${name}` });

const idParam = { name: 'id', in: 'path', required: true, description: 'Job id from /run or /runsync.', schema: { type: 'string' } };
const waitParam = {
  name: 'wait',
  in: 'query',
  description: `How long to wait for a final state, ms; clamped to ${WAIT_MIN_MS}–${WAIT_MAX_MS}. Not final by then: \`{id, status}\` and poll /status.`,
  schema: { type: 'integer', minimum: 0, default: WAIT_DEFAULT_MS },
};

type ErrorCode = '400' | '404' | '413';
const ERROR_RESPONSES: Record<ErrorCode, string> = { '400': 'BadRequest', '404': 'NotFound', '413': 'TooLarge' };

/** One operation of the public API, as a row of {@link operations}. */
interface Operation {
  /** Under `/v2/{endpointId}`. */
  path: string;
  method: 'get' | 'post';
  tag: 'Jobs' | 'Endpoint';
  operationId: string;
  summary: string;
  description?: string;
  parameters?: SchemaObject[];
  requestBody?: SchemaObject;
  /** The 200 answer: its description and schema name. */
  ok: [string, string];
  /** The `{"error"}` answers besides 401 (added when the API key is set). */
  errors: ErrorCode[];
}

/** The operations, in the order the page lists them. */
function operations(o: OpenApiOptions): Operation[] {
  const examples = Object.fromEntries(Object.entries(o.examples ?? {}).map(([name, e]) => [name, { summary: e.summary, value: e.value }]));
  const body = (limit: number): SchemaObject => ({
    required: true,
    description: `At most ${describeLimit(limit)} (413 above).`,
    content: { 'application/json': { schema: ref('RunRequest'), ...(Object.keys(examples).length > 0 ? { examples } : {}) } },
  });
  const ttlParam = { name: 'ttl', in: 'query', description: 'Delete the job this many ms after it is final.', schema: { type: 'integer', minimum: 0 } };
  const op = (method: Operation['method'], path: string, operationId: string, summary: string, ok: Operation['ok'], errors: ErrorCode[], more: Partial<Operation> = {}): Operation => ({
    path,
    method,
    tag: 'Jobs',
    operationId,
    summary,
    ok,
    errors,
    ...more,
  });
  return [
    op('post', '/run', 'run', 'Queue a job', ['Queued (always IN_QUEUE, as on the platform).', 'QueuedAnswer'], ['400', '413'], {
      description: 'Answers at once with the job id; poll /status/{id} (or /stream/{id}) for its progress and result.',
      requestBody: body(RUN_BODY_LIMIT_BYTES),
    }),
    op('post', '/runsync', 'runSync', 'Run a job and wait for its result', ['Final status, or still running.', 'StatusBody'], ['400', '404', '413'], {
      description: 'The final status body (COMPLETED with `output`, FAILED with `error`, …), or `{id, status}` when `wait` ran out first.',
      parameters: [waitParam],
      requestBody: body(RUNSYNC_BODY_LIMIT_BYTES),
    }),
    op('get', '/status/{id}', 'status', "A job's status (POST works too)", ['The status body.', 'StatusBody'], ['400', '404'], {
      description: 'Final results are kept 30 min (/run) or 1 min (/runsync), then 404.',
      parameters: [idParam, ttlParam],
    }),
    op('get', '/status-sync/{id}', 'statusSync', "A job's status once final, waiting up to `wait` ms (POST works too)", ['The status body.', 'StatusBody'], ['400', '404'], {
      parameters: [idParam, waitParam],
    }),
    op('get', '/stream/{id}', 'stream', 'Stream chunks since the previous call (POST works too)', ['The new chunks.', 'StreamBody'], ['404'], {
      description: 'Holds up to 1 s while there is nothing new and the job is not final.',
      parameters: [idParam],
    }),
    op('post', '/cancel/{id}', 'cancel', 'Cancel a job', ['`{id, status}` after the cancel.', 'QueuedAnswer'], ['404'], {
      description: 'A queued job leaves the queue; a running one is stopped by its worker; a final job is unchanged.',
      parameters: [idParam],
    }),
    op('post', '/retry/{id}', 'retry', 'Queue a FAILED or TIMED_OUT job again', ['Queued again.', 'QueuedAnswer'], ['400', '404'], { parameters: [idParam] }),
    op('post', '/purge-queue', 'purgeQueue', 'Cancel every queued job (running jobs go on)', ['How many were removed.', 'PurgeAnswer'], [], { tag: 'Endpoint' }),
    op('get', '/health', 'health', 'Job counts and workers', ['Counts.', 'HealthBody'], [], { tag: 'Endpoint' }),
  ];
}

/** The `paths` object: each operation under `/v2/{endpointId}`, with the endpoint id parameter. */
function paths(o: OpenApiOptions): SchemaObject {
  const endpointParam = { name: 'endpointId', in: 'path', required: true, description: 'Any id is served.', schema: { type: 'string', default: o.endpointId } };
  const out: Record<string, SchemaObject> = {};
  for (const op of operations(o)) {
    const responses: SchemaObject = { '200': { description: op.ok[0], content: json(ref(op.ok[1])) } };
    for (const code of op.errors) responses[code] = errorRef(ERROR_RESPONSES[code]);
    if (o.apiKeyRequired) responses['401'] = errorRef('Unauthorized');
    const operation = {
      tags: [op.tag],
      operationId: op.operationId,
      summary: op.summary,
      ...(op.description !== undefined ? { description: op.description } : {}),
      ...(op.parameters ? { parameters: op.parameters } : {}),
      ...(op.requestBody ? { requestBody: op.requestBody } : {}),
      responses,
    };
    out[`${P}${op.path}`] = { parameters: [endpointParam], [op.method]: operation };
  }
  return out;
}

const errorResponse = (description: string): SchemaObject => ({ description, content: json(ref('Error')) });

/**
 * Builds the OpenAPI 3.1 document.
 * @throws Error when an input schema's name is one of the public API's own component names
 */
export function buildOpenApi(o: OpenApiOptions): SchemaObject {
  const inputs = o.inputSchemas ?? {};
  const jobInput: SchemaObject = JOB_INPUT_SCHEMA in inputs ? ref(JOB_INPUT_SCHEMA) : { description: 'Any JSON value but null, handed to the worker.', not: { type: 'null' } };
  const own = publicApiSchemas(jobInput);
  const clash = Object.keys(inputs).find((name) => name in own);
  if (clash !== undefined) throw new Error(`input schema name ${clash} is one of the public API's own schema names`);
  return {
    openapi: '3.1.0',
    info: {
      title: 'RunPod endpoint API (local emulator)',
      version: '2',
      description:
        "RunPod's public queue API as the local endpoint (`--rp_serve_api`) serves it, with the worker behind it. " +
        `Every route is also served without the \`/v2/{endpointId}\` prefix (\`/run\`, \`/status/{id}\`, …); any endpoint id works (this one is \`${o.endpointId}\`). ` +
        'Answers are JSON with HTTP 200, FAILED jobs included; mistakes are `{"error": "..."}` with 400, 401, 404 or 413.' +
        (o.apiKeyRequired ? ' The API key is set: use Authorize with it (sent as `Authorization: Bearer <key>`).' : ''),
    },
    tags: [
      { name: 'Jobs', description: 'Submit jobs, follow and stop them.' },
      { name: 'Endpoint', description: 'The queue and the workers.' },
    ],
    paths: paths(o),
    components: {
      schemas: { ...own, ...inputs },
      responses: {
        BadRequest: errorResponse('Malformed body or query, naming the field; or a job that cannot be retried.'),
        Unauthorized: errorResponse('Missing or wrong API key.'),
        NotFound: errorResponse('Unknown or expired job.'),
        TooLarge: errorResponse('Body over the route limit.'),
      },
      ...(o.apiKeyRequired ? { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'RUNPOD_API_KEY of the local endpoint.' } } } : {}),
    },
    ...(o.apiKeyRequired ? { security: [{ bearerAuth: [] }] } : {}),
  };
}
