/**
 * The dialect stage of a job (dialects.ts): the request dialects the envelope recognises, and the one place where
 * a job's input becomes its A1111 request — a native input as it is, a dialect's translated once.
 */
import { JobInputError } from '../../errors/index.js';
import { showValue } from '../format.js';
import type { Envelope, JobOptions } from '../input/envelope.js';
import type { RouteSpec } from '../input/routes.js';
import type { Dialect, DialectContext, Translation } from './dialects.js';
import { openaiDialect } from './openai.js';
import { sdcnDialect } from './sdcn.js';

/** The request dialects, matched by their exact `input.api.endpoint` (input/envelope.ts `parseEnvelope`). */
export const DIALECTS: readonly Dialect[] = Object.freeze([sdcnDialect, openaiDialect]);

/** A job's request as A1111 will get it, with what the later stages need to know of its origin. */
export interface A1111Request {
  route: RouteSpec;
  /** The A1111 payload: the job's own, or the dialect's translation. */
  payload: unknown;
  /** The job's options; for a dialect, `output` as its request decided it. */
  options: JobOptions;
  /** The dialect's translation: its output field, what it has checked, and its reshape of the answer. */
  translation?: Translation;
  /**
   * What messages of the A1111 checks are prefixed with: for a dialect, how its request became an A1111 one
   * (`SDCN /txt2img as A1111 POST /sdapi/v1/txt2img: `, since those checks name A1111's fields); `''` otherwise.
   */
  prefix: string;
}

/**
 * The A1111 request of a job: a native input's route and payload, or a dialect's request translated
 * (`Dialect.translate`: its schema, its names, the A1111 payload). A dialect that decides where the images go
 * (OpenAI's `response_format`) sets `output`, and an `"output"` of the input that says otherwise is refused.
 * @throws JobInputError from the translation, or `input.output: "s3" contradicts response_format "b64_json", which
 *   asks for "base64" output`
 * @throws A1111Error when A1111 cannot be reached for a name list
 */
export async function toA1111Request(envelope: Envelope<Dialect>, ctx: DialectContext): Promise<A1111Request> {
  const { payload, options } = envelope;
  if (!envelope.dialect) return { route: envelope.route!, payload, options, prefix: '' };
  const { dialect, endpoint } = envelope.dialect;
  const translation = await dialect.translate(endpoint, payload, ctx);
  const { route } = translation;
  const prefix = `${dialect.name} ${endpoint} as A1111 ${route.method} ${route.path}: `;
  if (translation.output === undefined) return { route, payload: translation.payload, options, translation, prefix };
  const decidedBy = translation.outputField ?? `the request (${dialect.name} ${endpoint})`;
  if (options.output !== undefined && options.output !== translation.output) {
    throw new JobInputError(`input.output: ${showValue(options.output)} contradicts ${decidedBy}, which asks for ${showValue(translation.output)} output`);
  }
  return { route, payload: translation.payload, options: { ...options, output: translation.output }, translation, prefix };
}
