/**
 * Error bodies shaped like A1111's (docs/a1111-api.md, "Errors").
 *
 * - A1111's own wrapper for exceptions raised by route code:
 *   `{"error": "<ExceptionClass>", "detail": ..., "body": "", "errors": "<str(e)>"}`;
 *   for `HTTPException` the A1111 v1.10 stack (starlette 0.26) gives `errors: ""`.
 * - FastAPI's request validation 422 (pydantic v1 style): `{"detail": [{loc, msg, type}]}`.
 * - Starlette router misses: `{"detail": "Not Found"}` / `{"detail": "Method Not Allowed"}`.
 */

/** The A1111 exception wrapper body (docs/a1111-api.md, "Errors"). */
export interface A1111ErrorBody {
  error: string;
  detail: string;
  body: string;
  errors: string;
}

/** One pydantic v1 validation issue as FastAPI reports it (docs/a1111-api.md, "Errors"). */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
  ctx?: Record<string, unknown>;
}

/**
 * An error that the HTTP layer turns into a response with `status` and the JSON
 * `body` as given. Thrown by route code; anything else thrown becomes a 500 A1111
 * wrapper named after the JS error class.
 */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
    this.name = 'SimHttpError';
  }
}

/**
 * A1111 raising `HTTPException(status_code=status, detail=detail)` in route code:
 * body `{"error":"HTTPException","detail":detail,"body":"","errors":""}`.
 */
export function httpException(status: number, detail: string): SimHttpError {
  const body: A1111ErrorBody = { error: 'HTTPException', detail, body: '', errors: '' };
  return new SimHttpError(status, body);
}

/**
 * A plain Python exception escaping route code (e.g. `RuntimeError`, `KeyError`,
 * CUDA `OutOfMemoryError`): HTTP 500 (unless `status` is given) with body
 * `{"error": cls, "detail": "", "body": "", "errors": message}`.
 */
export function pyException(cls: string, message: string, status = 500): SimHttpError {
  const body: A1111ErrorBody = { error: cls, detail: '', body: '', errors: message };
  return new SimHttpError(status, body);
}

/** FastAPI's `RequestValidationError` response: HTTP 422 `{"detail": issues}`. */
export function validationError(issues: ValidationIssue[]): SimHttpError {
  return new SimHttpError(422, { detail: issues });
}

/** Starlette's router 404 for a path with no route: `{"detail":"Not Found"}`. */
export function notFound(): SimHttpError {
  return new SimHttpError(404, { detail: 'Not Found' });
}

/** Starlette's router 405 for a known path with another method: `{"detail":"Method Not Allowed"}`. */
export function methodNotAllowed(allow: string[]): SimHttpError {
  return new SimHttpError(405, { detail: 'Method Not Allowed' }, { allow: allow.join(', ') });
}

/** A1111's `decode_base64_to_image` failure (docs/a1111-api.md, "Errors"): 500 `Invalid encoded image`. */
export function invalidEncodedImage(): SimHttpError {
  return httpException(500, 'Invalid encoded image');
}

/** Python type names for JSON values, used to imitate `AttributeError` messages. */
export function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

/** Reason phrases for the status codes a fault may use. */
export function statusPhrase(status: number): string {
  const phrases: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    408: 'Request Timeout',
    409: 'Conflict',
    413: 'Request Entity Too Large',
    422: 'Unprocessable Entity',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    501: 'Not Implemented',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return phrases[status] ?? 'Error';
}

/**
 * The body an error gets in the flavor's server. A1111 answers every exception with its
 * `{error, detail, body, errors}` wrapper (`modules/api/api.py` `api_middleware`). Forge has that
 * middleware commented out: an `HTTPException` reaches FastAPI's default handler (`{"detail": ...}`),
 * any other exception Forge's `_handle_exception` (`webui.py`): `{error, detail, body, message}`.
 * Bodies that are not A1111 wrappers (422 validation, router 404) are returned as they are.
 */
export function flavorErrorBody(flavor: 'a1111' | 'forge', body: unknown): unknown {
  if (flavor !== 'forge' || !body || typeof body !== 'object' || Array.isArray(body)) return body;
  const b = body as Record<string, unknown>;
  const keys = Object.keys(b);
  if (keys.length !== 4 || !['error', 'detail', 'body', 'errors'].every((k) => k in b)) return body;
  if (b['error'] === 'HTTPException') return { detail: b['detail'] };
  return { error: b['error'], detail: b['detail'], body: b['body'], message: b['errors'] };
}
