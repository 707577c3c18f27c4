/**
 * The A1111 checks of a job's request, in order, each refusing the job with one line and without calling A1111
 * (docs/request-model.md): the route is one the running server serves (input/routes.ts `checkRouteServed`); the
 * payload fits the server's request model, A1111 would not certainly fail on it, and it is within the operator's caps
 * (input/validate.ts); its settings are allowed (input/settings.ts); its images and image URLs pass
 * (images/images.ts); its names are on A1111's live lists (input/names.ts). A dialect's translated payload gets the
 * same checks, less what the dialect has checked itself, with messages prefixed by how it was translated.
 */
import { JobInputError } from '../errors/index.js';
import type { A1111Request } from './dialects/index.js';
import { isObject } from './format.js';
import { checkImages } from './images/images.js';
import { checkNames } from './input/names.js';
import { checkRouteServed } from './input/routes.js';
import { checkSettings } from './input/settings.js';
import { validatePayload } from './input/validate.js';
import type { JobServices } from './services.js';

/**
 * Runs the checks of the module comment; warnings (unknown fields passed on, unknown soft names) are logged.
 * @throws JobInputError naming every offending field (prefixed with `request.prefix`)
 * @throws A1111Error when A1111 cannot be reached for its lists, or the job was stopped
 */
export async function checkRequest(request: A1111Request, jobId: string, signal: AbortSignal, s: JobServices): Promise<void> {
  const { route, payload, translation, prefix } = request;
  const { limits, lists, log } = s;
  try {
    const model = await s.modelForJob();
    checkRouteServed(route, model);
    const checked = validatePayload(route, payload, limits, { model, ...(limits.unknownFields ? { unknownFields: limits.unknownFields } : {}) });
    for (const w of checked.warnings) log.warn(prefix + w, jobId);
    if (isObject(payload)) await checkSettings(route, payload, lists, { signal });
    await checkImages(route, payload, limits, { signal, ...(s.lookup ? { lookup: s.lookup } : {}), ...(translation?.checked?.images ? { checked: translation.checked.images } : {}) });
    // A1111 would silently substitute unknown names (issue 5).
    const warnings = await checkNames(route, payload, lists, { strict: s.pool.config.strictNames, signal, ...(translation?.checked?.names ? { checked: translation.checked.names } : {}) });
    for (const w of warnings) log.warn(prefix + w, jobId);
  } catch (e) {
    if (prefix && e instanceof JobInputError) throw new JobInputError(prefix + e.message);
    throw e;
  }
}
