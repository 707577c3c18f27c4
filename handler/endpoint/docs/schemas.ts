/**
 * The JSON Schemas (OpenAPI 3.1 `components.schemas`) of the bodies the emulator's public API reads and answers,
 * as `request.ts`, `job-body.ts`, `jobs.ts` and `public-api.ts` implement them. Public sources: RunPod docs
 * serverless/endpoints/operation-reference.mdx (routes, `/status` and `/health` bodies) and send-requests.mdx
 * (`policy`, `webhook`, `s3Config`); runpod/js-sdk `src/index.ts` (`webhookV2`, `HealthCheck`).
 */
import { EXECUTION_TIMEOUT_MIN_MS, POLICY_MAX_MS, TTL_DEFAULT_MS, TTL_MIN_MS } from '../request.js';

/** A schema object (JSON Schema as OpenAPI 3.1 reads it). */
export type SchemaObject = Record<string, unknown>;

/** A `$ref` to `components.schemas[name]`. */
export const ref = (name: string): SchemaObject => ({ $ref: `#/components/schemas/${name}` });

/** The job states of `status` (job.ts `JobStatus`). */
const JOB_STATUSES = ['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

const ms = (description: string): SchemaObject => ({ type: 'integer', minimum: 0, description: `${description} (ms).` });

/**
 * The component schemas of the public API.
 * @param jobInput the schema of the job `input` (a `$ref` to the caller's envelope, or a generic "any JSON but
 *   null" when the caller gave none)
 */
export function publicApiSchemas(jobInput: SchemaObject): Record<string, SchemaObject> {
  return {
    RunRequest: {
      title: 'Body of /run and /runsync',
      type: 'object',
      required: ['input'],
      properties: {
        input: jobInput,
        webhook: { type: ['string', 'null'], format: 'uri', description: 'http(s) URL the final status body (with `input` and `webhook`) is POSTed to; 2 retries 10 s apart.' },
        webhookV2: { type: ['string', 'null'], format: 'uri', description: "The same under runpod/js-sdk's `webhookV2` name; both may be given." },
        policy: ref('Policy'),
        s3Config: ref('S3Config'),
      },
      description: 'Other top-level keys are ignored; `null` for an optional key means absent. A malformed field is answered 400 naming it.',
    },
    Policy: {
      type: ['object', 'null'],
      properties: {
        executionTimeout: {
          type: 'integer',
          minimum: EXECUTION_TIMEOUT_MIN_MS,
          maximum: POLICY_MAX_MS,
          description: 'Longest run once a worker took the job (ms); then TIMED_OUT and the worker is told to stop it. Default 600000.',
        },
        ttl: { type: 'integer', minimum: TTL_MIN_MS, maximum: POLICY_MAX_MS, default: TTL_DEFAULT_MS, description: 'Lifespan from submission, queue and run (ms); the job is deleted when it runs out.' },
        lowPriority: { type: 'boolean', default: false, description: 'Accepted and kept; the emulator has no autoscaler.' },
      },
      additionalProperties: true,
    },
    S3Config: {
      type: ['object', 'null'],
      description: "Passed to the worker untouched (job-take); the worker uploads the job's images there.",
      properties: { accessId: { type: 'string' }, accessSecret: { type: 'string' }, bucketName: { type: 'string' }, endpointUrl: { type: 'string' } },
    },
    JobStatus: { type: 'string', enum: JOB_STATUSES },
    QueuedAnswer: {
      title: 'A queued job',
      type: 'object',
      required: ['id', 'status'],
      properties: { id: { type: 'string', description: 'Job id; `sync-…` for /runsync jobs.' }, status: ref('JobStatus') },
      examples: [{ id: '6f1c2a9e-5d1b-4c7e-9a51-0b8e8f0d4c21-u1', status: 'IN_QUEUE' }],
    },
    StatusBody: {
      title: 'A job status',
      type: 'object',
      required: ['id', 'status'],
      properties: {
        delayTime: ms('Submission → taken by a worker; present once taken'),
        error: { description: 'FAILED only: the worker error (a message string, or runpod-python\'s JSON error string).' },
        executionTime: ms('Taken → final (or now while running)'),
        id: { type: 'string' },
        output: {
          description:
            'IN_PROGRESS: the latest progress report (this worker: `{progress, eta_relative, step, steps, job_no, job_count}`); ' +
            'COMPLETED: the handler result (this worker: `{images: [base64 PNG…], parameters, info}` for txt2img/img2img), null when none.',
        },
        status: ref('JobStatus'),
        workerId: { type: 'string', description: 'The worker that took the job.' },
      },
      examples: [
        {
          delayTime: 12,
          executionTime: 1530,
          id: 'sync-6f1c2a9e-5d1b-4c7e-9a51-0b8e8f0d4c21-u1',
          output: { images: ['iVBORw0KGgoAAAANSUhEUgAA…'], parameters: { prompt: 'an astronaut riding a horse' }, info: '{"seed": 1234, …}' },
          status: 'COMPLETED',
          workerId: 'local-worker',
        },
      ],
    },
    StreamBody: {
      title: 'Stream chunks',
      type: 'object',
      required: ['id', 'status', 'stream'],
      properties: {
        id: { type: 'string' },
        status: ref('JobStatus'),
        stream: {
          type: 'array',
          description: 'The chunks the worker streamed since the previous call (this worker: live previews with `"preview": true`).',
          items: { type: 'object', properties: { output: {} } },
        },
        error: { description: 'FAILED only.' },
      },
    },
    PurgeAnswer: {
      type: 'object',
      properties: { removed: { type: 'integer', minimum: 0, description: 'Queued jobs cancelled.' }, status: { type: 'string', const: 'completed' } },
    },
    HealthBody: {
      type: 'object',
      properties: {
        jobs: {
          type: 'object',
          description: 'completed, failed (TIMED_OUT included) and retried count since start.',
          properties: Object.fromEntries(['completed', 'failed', 'inProgress', 'inQueue', 'retried'].map((k) => [k, { type: 'integer', minimum: 0 }])),
        },
        workers: {
          type: 'object',
          description:
            'Workers seen in the last 60 s: running holds a job, idle does not, initializing only pinged so far, unhealthy pinged status=unhealthy; ready = idle + running; throttled is always 0.',
          properties: Object.fromEntries(['idle', 'initializing', 'ready', 'running', 'throttled', 'unhealthy'].map((k) => [k, { type: 'integer', minimum: 0 }])),
        },
      },
    },
    Error: {
      type: 'object',
      required: ['error'],
      properties: { error: { type: 'string', description: 'What was wrong, naming the field or the job.' } },
    },
  };
}
