/**
 * A1111's and Forge's error bodies, normalised into the one-line message of `A1111Error` (issue 11 item 7;
 * A1111 `modules/api/api.py` `handle_exception`, Forge `webui.py`, FastAPI's validation errors).
 *
 * The shapes answered (all JSON):
 * - A1111 v1.10.1 and reForge, `modules/api/api.py` `api_middleware.handle_exception` (every route exception,
 *   HTTPException included): `{"error": "<class>", "detail": <HTTPException detail or "">, "body": "",
 *   "errors": "<str(e)>"}`;
 * - Forge main, `webui.py` `_handle_exception` (exceptions that are not HTTPExceptions):
 *   `{"error": "<class>", "detail": "", "body": "", "message": "<str(e)>"}`;
 * - FastAPI's own handlers: an HTTPException on Forge, an unknown route or a wrong method everywhere:
 *   `{"detail": "<text>"}`; request validation (422): pydantic 1 (A1111) `{"detail": [{"loc", "msg", "type"}]}`,
 *   pydantic 2 (Forge) `{"detail": [{"type", "loc", "msg", "input", "ctx"?, "url"?}]}` (`input` is the value sent,
 *   possibly a whole image: never shown).
 */

/** The fields of an error body kept on `A1111Error.a1111`. */
export interface A1111ErrorFields {
  /** Exception class name (`error`), e.g. `OutOfMemoryError`, `HTTPException`. */
  error?: string;
  /** `detail`: a string, or FastAPI's 422 list of validation errors. */
  detail?: unknown;
  /** The exception text: A1111's `errors`, or Forge's `message` (both `str(e)`). */
  errors?: unknown;
}

/** Most characters of a non-JSON body shown. */
const MAX_RAW_CHARS = 200;

/** One line: runs of whitespace holding a line break become one space. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n\u2028\u2029]\s*/g, ' ').trim();
}

function show(v: unknown): string {
  if (v === undefined || v === null || v === '') return '';
  return oneLine(typeof v === 'string' ? v : JSON.stringify(v));
}

/** FastAPI's 422 list (pydantic 1 or 2): `loc: msg` items joined by `; `, `body` left out of each `loc`. */
function validationItems(detail: readonly unknown[]): string {
  return detail
    .map((d) => {
      const e = (d ?? {}) as { loc?: unknown; msg?: unknown };
      const loc = Array.isArray(e.loc) ? e.loc.filter((x) => x !== 'body').join('.') : '';
      return `${loc ? `${loc}: ` : ''}${show(e.msg)}`;
    })
    .join('; ');
}

/**
 * Renders an error body of A1111 or Forge into the one-line message of `A1111Error`:
 * `A1111 <status> on <METHOD> <route>: <text>`, where `<text>` is
 * - A1111's wrapper: `<error>: <detail> <errors>` (empty parts left out; e.g. `OutOfMemoryError CUDA out of
 *   memory. Tried to allocate 2.00 GiB`, `HTTPException: Init image not found`);
 * - Forge's exception body: `<error>: <detail>: <message>` (empty parts left out; e.g. `OutOfMemoryError: CUDA
 *   out of memory. Tried to allocate 2.00 GiB`);
 * - FastAPI's `{"detail": "<text>"}`: the text (e.g. `Not Found`); its 422 list: `<loc>: <msg>` items joined
 *   by `; ` (e.g. `steps: value is not a valid integer`, `steps: Input should be a valid integer, …`);
 * - anything else: the first 200 characters of the body, or `(empty body)`.
 * Line breaks inside the texts become spaces.
 * @param status HTTP status A1111 answered.
 * @param method request method, e.g. `POST`.
 * @param route path called, e.g. `/sdapi/v1/txt2img`.
 * @param raw the response body (UTF-8).
 * @returns the message and the body's `error`, `detail` and `errors` (Forge's `message` as `errors`).
 */
export function formatA1111Error(status: number, method: string, route: string, raw: Buffer | string): { message: string; fields: A1111ErrorFields } {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const head = `A1111 ${status} on ${method} ${route}`;
  const rawText = (): string => oneLine(text).slice(0, MAX_RAW_CHARS) || '(empty body)';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { message: `${head}: ${rawText()}`, fields: {} };
  }
  const o = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const fields: A1111ErrorFields = {};
  const parts: string[] = [];
  if (typeof o.error === 'string' && o.error) {
    fields.error = o.error;
    parts.push(show(o.error));
  }
  if (Array.isArray(o.detail)) {
    fields.detail = o.detail;
    parts.push(validationItems(o.detail));
  } else if (show(o.detail)) {
    fields.detail = o.detail;
    parts.push(show(o.detail));
  }
  // Forge's `message` is str(e): a part of its own. A1111's `errors` (also str(e)) follows after a space, as
  // this worker has always written it.
  const forgeMessage = Object.hasOwn(o, 'message') && !Object.hasOwn(o, 'errors') ? show(o.message) : '';
  if (forgeMessage) {
    fields.errors = o.message;
    parts.push(forgeMessage);
  }
  let message = parts.length ? `${head}: ${parts.join(': ')}` : head;
  const errors = show(o.errors);
  if (errors) {
    fields.errors = o.errors;
    message += parts.length ? ` ${errors}` : `: ${errors}`;
  }
  if (parts.length === 0 && !errors) message += `: ${rawText()}`;
  return { message, fields };
}
