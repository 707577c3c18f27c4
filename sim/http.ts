/**
 * FastAPI's request-body and query handling as seen by route code: empty body →
 * missing, JSON (no content type, `application/json`, `+json`) parsed, other
 * content types raw bytes; undecodable JSON → 422 in the flavor's shape
 * (pydantic 1 `value_error.jsondecode`, pydantic 2 `json_invalid`).
 */
import type { FastifyReply } from 'fastify';
import { validationError, type ValidationIssue } from './errors.js';
import type { SimFlavor } from './models.js';
import { jsonInvalid2 } from './pydantic2.js';

/** A request body as read from the wire. */
export type BodyInput =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'bytes'; text: string }
  | { kind: 'badjson'; issue: ValidationIssue; text: string };

/** What a route handler gets. */
export interface RouteCtx {
  query: Record<string, string>;
  body: BodyInput;
}

/** A route handler: returns the JSON value (or a promise of it), throws `SimHttpError`. */
export type RouteHandler = (ctx: RouteCtx) => unknown;

function jsonDecodeIssue(text: string, err: unknown): ValidationIssue {
  const msg = err instanceof Error ? err.message : '';
  const m = /position (\d+)/.exec(msg);
  let pos = m ? Number(m[1]) : /Unexpected end/.test(msg) ? text.length : 0;
  if (!m && !/Unexpected end/.test(msg)) {
    // locate the first character that cannot start/continue a JSON value
    const i = text.search(/[^\s]/);
    pos = i < 0 ? text.length : i;
  }
  const before = text.slice(0, pos);
  const lineno = before.split('\n').length;
  const colno = pos - before.lastIndexOf('\n');
  return {
    loc: ['body', pos],
    msg: `Expecting value: line ${lineno} column ${colno} (char ${pos})`,
    type: 'value_error.jsondecode',
    ctx: { msg: 'Expecting value', doc: text, pos, lineno, colno },
  };
}

/**
 * FastAPI's body handling: empty → missing; JSON (no content type, or
 * `application/json`/`+json`) → parsed; other content types → raw bytes.
 */
export function readBody(raw: Buffer | undefined, contentType: string | undefined): BodyInput {
  if (!raw || raw.length === 0) return { kind: 'none' };
  const text = raw.toString('utf8');
  let isJson = contentType === undefined;
  if (contentType !== undefined) {
    const mt = contentType.split(';')[0].trim().toLowerCase();
    const [main, sub = ''] = mt.split('/');
    isJson = main === 'application' && (sub === 'json' || sub.endsWith('+json'));
  }
  if (!isJson) return { kind: 'bytes', text };
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch (e) {
    return { kind: 'badjson', issue: jsonDecodeIssue(text, e), text };
  }
}

/** The body as a pydantic model parameter sees it. @throws SimHttpError 422 on undecodable JSON */
export function bodyForModel(b: BodyInput, flavor: SimFlavor = 'a1111'): unknown {
  if (b.kind === 'none') return undefined;
  if (b.kind === 'badjson') throw flavor === 'forge' ? jsonInvalid2(Number(b.issue.loc[1])) : validationError([b.issue]);
  if (b.kind === 'bytes') return b.text; // bytes are "not a valid dict"
  return b.value;
}

/** A FastAPI `bool` query parameter (default false). @throws SimHttpError 422 */
export function queryBool(query: Record<string, string>, name: string, dflt = false): boolean {
  const v = query[name];
  if (v === undefined) return dflt;
  const l = v.toLowerCase();
  if (['1', 'on', 't', 'true', 'y', 'yes'].includes(l)) return true;
  if (['0', 'off', 'f', 'false', 'n', 'no'].includes(l)) return false;
  throw validationError([{ loc: ['query', name], msg: 'value could not be parsed to a boolean', type: 'type_error.bool' }]);
}

/** One request as seen by the simulator. */
export interface SimRequestRecord {
  method: string;
  /** URL path without query */
  path: string;
  query: Record<string, string>;
  /** parsed JSON body; the raw text when it is not JSON; `null` when empty */
  body: unknown;
  /** HTTP status sent; 0 while pending or when no response was sent (hang/close faults) */
  status: number;
  /** epoch ms (sub-ms precision): `performance.timeOrigin + performance.now()` */
  receivedAt: number;
  /** epoch ms when the response was handed to the socket (or the socket destroyed); 0 while pending */
  respondedAt: number;
}

/** Sends a JSON answer as uvicorn does (`content-type: application/json`, no charset: a Buffer keeps fastify from adding one). */
export function sendJson(reply: FastifyReply, status: number, value: unknown, headers: Record<string, string> = {}): FastifyReply {
  return reply
    .code(status)
    .headers({ 'content-type': 'application/json', ...headers })
    .send(Buffer.from(JSON.stringify(value === undefined ? null : value), 'utf8'));
}
