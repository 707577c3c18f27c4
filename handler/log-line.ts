/**
 * The text of one log line, as runpod-python 1.12 prints it (`runpod/serverless/modules/rp_logger.py`,
 * `RunPodLogger.log`, tag v1.12.0 lines 77–110). Pure functions; the logger itself is in `log.ts`.
 *
 * - The message gets the batch prefix `[batchId=<id>] ` when the job carries a batch id (lines 89–90), then is
 *   truncated (lines 92–99).
 * - With `RUNPOD_ENDPOINT_ID` set, the line is `json.dumps({"requestId": job_id, "message": message, "level":
 *   level})` (lines 101–103): keys in that order, Python's default separators `", "` and `": "`, non-ASCII
 *   escaped (`ensure_ascii`), `null` when there is no job id.
 * - Otherwise it is `f"{level.ljust(7)}| {job_id} | {message}"`, the job part only when there is a job id
 *   (lines 106–109).
 */

/** Messages longer than this many characters are truncated (rp_logger.py `MAX_MESSAGE_LENGTH`, line 18). */
export const LOG_TRUNCATE_AT = 4096;

/**
 * Keeps the first and last 2048 characters of a message longer than 4096 around
 * `\n...TRUNCATED {n} CHARACTERS...\n`, n being the length minus 4096 (rp_logger.py v1.12.0 lines 92–99).
 */
export function truncateMessage(message: string): string {
  if (message.length <= LOG_TRUNCATE_AT) return message;
  const half = LOG_TRUNCATE_AT / 2;
  const cut = message.length - LOG_TRUNCATE_AT;
  return `${message.slice(0, half)}\n...TRUNCATED ${cut} CHARACTERS...\n${message.slice(-half)}`;
}

/**
 * The batch prefix of runpod-python 1.12: `[batchId=<id>] ` before the message when the job being handled has a
 * truthy `batchId` (rp_logger.py v1.12.0 lines 89–90; set per job from `job.get("batchId")` in rp_scale.py
 * `JobScaler.handle_job`, line 345). Empty, `0`, `null` and absent ids add nothing (Python truthiness).
 */
export function batchPrefix(batchId: unknown): string {
  if (typeof batchId === 'string' && batchId !== '') return `[batchId=${batchId}] `;
  if (typeof batchId === 'number' && batchId !== 0 && !Number.isNaN(batchId)) return `[batchId=${String(batchId)}] `;
  return '';
}

/**
 * A JSON string as Python's `json.dumps` writes it by default (`ensure_ascii=True`): `"` and `\` escaped,
 * `\b \f \n \r \t` as short escapes, every other character outside space..`~` as `\uXXXX` (lower-case hex, one
 * escape per UTF-16 unit, so astral characters become surrogate pairs) — CPython `Lib/json/encoder.py`
 * `py_encode_basestring_ascii` / `ESCAPE_ASCII`.
 */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      out += c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : s[i];
      continue;
    }
    switch (c) {
      case 0x08:
        out += '\\b';
        break;
      case 0x0c:
        out += '\\f';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      default:
        out += `\\u${c.toString(16).padStart(4, '0')}`;
    }
  }
  return `${out}"`;
}

/**
 * A plain JSON value (as `JSON.parse` returns) serialised like Python's `json.dumps` with its defaults: separators
 * `", "` and `": "`, keys in insertion order, strings as {@link pyJsonString}. Non-finite numbers become `null`
 * (valid JSON; Python would write `NaN`), `undefined` members are left out as `JSON.stringify` does.
 */
export function pyJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return pyJsonString(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map((v) => pyJsonDumps(v)).join(', ')}]`;
  if (typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) parts.push(`${pyJsonString(k)}: ${pyJsonDumps(v)}`);
    }
    return `{${parts.join(', ')}}`;
  }
  return pyJsonString(String(value));
}

/** The three keys runpod-python writes, in its order (rp_logger.py v1.12.0 line 102). */
export const JSON_LOG_KEYS = ['requestId', 'message', 'level'] as const;

/**
 * One JSON log line (no newline): `{"requestId": …, "message": …, "level": …}` exactly as runpod-python 1.12
 * prints it (rp_logger.py v1.12.0 lines 101–103). The worker's own extra fields, if any, follow the three keys;
 * an extra field cannot replace one of them.
 */
export function jsonLine(level: string, requestId: string | null | undefined, message: string, extra?: Record<string, unknown>): string {
  const rec: Record<string, unknown> = { requestId: requestId ?? null, message, level };
  if (extra) {
    for (const [k, v] of Object.entries(extra)) if (!(JSON_LOG_KEYS as readonly string[]).includes(k)) rec[k] = v;
  }
  return pyJsonDumps(rec);
}

/**
 * One human-readable line (no newline): `LEVEL  | <job id> | <message>`, the level padded to 7 characters and the
 * job part only when there is a job id (rp_logger.py v1.12.0 lines 106–109).
 */
export function plainLine(level: string, requestId: string | null | undefined, message: string): string {
  return `${level.padEnd(7)}| ${requestId ? `${requestId} | ` : ''}${message}`;
}
