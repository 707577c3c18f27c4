/**
 * Validation of A1111 job payloads against the running server's request model (docs/request-model.md).
 *
 * The worker injects no defaults and never changes the payload: A1111 receives exactly what the caller sent.
 * Validation only decides whether the payload may be sent, and when it may not, produces one line that names every
 * offending field, its value and what is allowed. It refuses only what is certainly wrong for the server (a field
 * its model does not have, a value its pydantic would refuse, a `null` it refuses or fails on, a request A1111 then
 * certainly fails on) and the operator's cost caps; the dangerous settings, names, routes and images are checked by
 * settings.ts, names.ts, routes.ts and images.ts.
 */
import type { LimitsConfig } from '../../config.js';
import { bundledModel } from '../../a1111/openapi.js';
import type { RequestModel, ServerModel } from '../../a1111/server-model.js';
import { checkA1111Failures } from './a1111-failures.js';
import { checkCaps } from './caps.js';
import { JobInputError } from '../../errors/index.js';
import { isObject } from '../format.js';
import { describe, IssueList } from './issues.js';
import { checkAgainstModel, type UnknownFieldsPolicy } from './model-check.js';
import type { RouteSpec } from './routes.js';

export { MAX_LISTED_ISSUES } from './issues.js';

/** Options of {@link validatePayload}. */
export interface ValidateOptions {
  /** The server's model (server-models.ts); default the bundled A1111 v1.10.1 model. */
  model?: ServerModel;
  /** `UNKNOWN_FIELDS`: refuse fields the model does not have (default), or pass them on with a warning. */
  unknownFields?: UnknownFieldsPolicy;
}

/** What a valid payload gives. */
export interface ValidationResult {
  /** One line per unknown field passed on (`UNKNOWN_FIELDS=warn`), for the log. */
  warnings: string[];
  /** The payload as A1111's pydantic reads it (`"123"` → 123), for computations; never sent. */
  view: Readonly<Record<string, unknown>>;
}

/** The other generation route, for "only img2img takes it". */
const SIBLING: Readonly<Record<string, string>> = { '/sdapi/v1/txt2img': '/sdapi/v1/img2img', '/sdapi/v1/img2img': '/sdapi/v1/txt2img' };

/**
 * Validates a job payload for a route; never mutates the payload and never fills in defaults.
 *
 * - Routes with `body: 'none'` (GET routes, `refresh-*`, `interrupt` …) accept only an absent payload, `null` or `{}`.
 * - Other routes need a JSON object. When the server's model has a request model for the route's path, the payload
 *   is checked against it (model-check.ts: kinds with pydantic's coercion, nullability, constraints, required and
 *   unknown fields); routes without one (`POST /sdapi/v1/options`: `dict[str, Any]`) take any object.
 * - Requests A1111 certainly fails on are refused (a1111-failures.ts), and the operator caps apply (caps.ts:
 *   `MAX_STEPS`, `MAX_HR_STEPS`, `MAX_IMAGES_PER_JOB`, `MAX_PIXELS_PER_JOB`, `MAX_INPUT_IMAGES`).
 *
 * @param route the resolved route (routes.ts `resolveRoute`)
 * @param payload the job's `input.payload` as parsed from JSON
 * @param limits the worker's input limits (config.ts `LimitsConfig`)
 * @throws JobInputError with one line naming every offending field, its value and why, e.g.
 *   `invalid payload for POST /sdapi/v1/txt2img: steps: null is not accepted by A1111 (…); omit the field for its
 *   default 50; stpes: unknown field (did you mean "steps"?)`
 */
export function validatePayload(route: RouteSpec, payload: unknown, limits: LimitsConfig, opts: ValidateOptions = {}): ValidationResult {
  const where = `${route.method} ${route.path}`;
  if (route.body === 'none') {
    if (payload === undefined || payload === null) return { warnings: [], view: {} };
    if (isObject(payload) && Object.keys(payload).length === 0) return { warnings: [], view: {} };
    throw new JobInputError(`payload is not accepted for ${where} (got ${describe(payload)}); send no payload, null or {}`);
  }
  if (!isObject(payload)) {
    throw new JobInputError(`payload for ${where} must be a JSON object (got ${describe(payload)})`);
  }
  const server = opts.model ?? bundledModel();
  const model: RequestModel | undefined = server.models.get(route.path) ?? (server.source === 'bundled' ? undefined : bundledModel().models.get(route.path));
  const issues = new IssueList();
  const warnings: string[] = [];
  let view: Readonly<Record<string, unknown>> = payload;
  if (model) {
    const siblingPath = SIBLING[route.path];
    const siblingModel = siblingPath ? server.models.get(siblingPath) : undefined;
    view = checkAgainstModel(
      model,
      payload,
      {
        unknownFields: opts.unknownFields ?? 'refuse',
        pydantic: server.pydantic,
        generation: route.generates,
        notForge: !server.forge,
        ...(siblingModel ? { sibling: { route: siblingPath!.slice('/sdapi/v1/'.length), model: siblingModel } } : {}),
      },
      issues,
      warnings,
    );
  }
  checkA1111Failures(route, payload, view, issues);
  checkCaps(route, payload, view, limits, issues);
  if (issues.size > 0) throw new JobInputError(`invalid payload for ${where}: ${issues.render()}`);
  return { warnings, view };
}
