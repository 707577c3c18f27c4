import { ConfigError } from './errors/index.js';
/**
 * Readers of environment variables for config.ts: each returns the variable's value or its default, and throws
 * {@link ConfigError} naming the variable, the value and what is allowed.
 */

/** The environment as read: variable name → value. */
export type Env = Readonly<Record<string, string | undefined>>;

/** An integer variable from `min` to `max`; `def` when unset or blank. @throws ConfigError otherwise */
export function envInt(env: Env, name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: allowed an integer from ${min} to ${max} (default ${def})`);
  }
  return n;
}

/** A boolean variable (`true`/`1`/`yes`, `false`/`0`/`no`, any case); `def` when unset or blank. @throws ConfigError otherwise */
export function envBool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: allowed true or false (default ${def})`);
}

/** One of `allowed` (any case); `def` when unset or blank. @throws ConfigError otherwise */
export function envChoice<T extends string>(env: Env, name: string, allowed: readonly T[], def: T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const v = raw.trim().toLowerCase();
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: allowed ${allowed.join(' or ')} (default ${def})`);
}

/** An http(s) URL without credentials and without trailing slashes; `def` when unset or blank. @throws ConfigError otherwise */
export function envUrl(env: Env, name: string, def: string): string {
  return checkUrl(name, (env[name] ?? '').trim() || def);
}

/**
 * The A1111 backends: `A1111_URLS` (comma-separated, one A1111 per GPU) or `A1111_URL` alone (default
 * `http://127.0.0.1:3000`). Each URL as `A1111_URL`; no duplicates. `A1111_URLS` wins: `A1111_URL` is then ignored
 * (the Hub form may send its default along; main.ts logs it).
 */
export function a1111Urls(env: Env): string[] {
  const list = (env.A1111_URLS ?? '').trim();
  if (list === '') return [envUrl(env, 'A1111_URL', 'http://127.0.0.1:3000')];
  const urls = list.split(',').map((u, i) => checkUrl(`A1111_URLS[${i}]`, u.trim()));
  const dup = urls.find((u, i) => urls.indexOf(u) !== i);
  if (dup !== undefined) throw new ConfigError(`A1111_URLS lists ${JSON.stringify(dup)} twice`);
  return urls;
}

function checkUrl(name: string, raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a URL: allowed http(s)://host[:port]`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} must use http or https`);
  }
  // Credentials in the URL are not kept in it (it is logged): A1111_API_AUTH carries them.
  if (u.username || u.password) {
    throw new ConfigError(`${name} must not carry credentials (user:password@); set A1111_API_AUTH=user:password instead`);
  }
  return raw.replace(/\/+$/, '');
}

/** A non-negative number variable; `def` when unset or blank. @throws ConfigError naming it, its value and the range */
export function envNumber(name: string, raw: string | undefined, def: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined || raw.trim() === '') return def;
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n < 0 || n > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: allowed a number from 0 to ${max} (default ${def})`);
  }
  return n;
}

/** Reads RunPod's `BUCKET_*` variables; all three of endpoint, key id and secret are needed, or none. */
export function parseBucket(env: Env): { bucket?: { endpointUrl: string; accessKeyId: string; secretAccessKey: string; bucketName?: string; region?: string } } {
  const endpointUrl = (env.BUCKET_ENDPOINT_URL ?? '').trim();
  const accessKeyId = env.BUCKET_ACCESS_KEY_ID ?? '';
  const secretAccessKey = env.BUCKET_SECRET_ACCESS_KEY ?? '';
  const set = [endpointUrl, accessKeyId, secretAccessKey].filter((v) => v !== '').length;
  if (set === 0) return {};
  if (set < 3) {
    throw new ConfigError('BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID and BUCKET_SECRET_ACCESS_KEY must be set together (some are missing; values not shown)');
  }
  try {
    const u = new URL(endpointUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new ConfigError(`BUCKET_ENDPOINT_URL=${JSON.stringify(endpointUrl)} is not an http(s) URL`);
  }
  const bucketName = (env.BUCKET_NAME ?? '').trim() || undefined;
  const region = (env.BUCKET_REGION ?? '').trim() || undefined;
  return { bucket: { endpointUrl, accessKeyId, secretAccessKey, ...(bucketName ? { bucketName } : {}), ...(region ? { region } : {}) } };
}

/** Parses `A1111_API_AUTH=user:password` (the password may contain `:`). The value is never echoed in errors. */
export function parseApiAuth(raw: string | undefined): { auth?: { username: string; password: string } } {
  if (raw === undefined || raw === '') return {};
  const i = raw.indexOf(':');
  if (i <= 0) throw new ConfigError('A1111_API_AUTH is invalid: allowed user:password (the value is not shown)');
  return { auth: { username: raw.slice(0, i), password: raw.slice(i + 1) } };
}

/** The default warm-up: one step at 64×64, no images sent back (issue 5). */
export const DEFAULT_WARMUP: Readonly<Record<string, unknown>> = Object.freeze({
  prompt: 'warm-up',
  steps: 1,
  width: 64,
  height: 64,
  batch_size: 1,
  n_iter: 1,
  send_images: false,
  save_images: false,
});

/** Parses `A1111_WARMUP`: true/false or a JSON object (the txt2img payload to run). */
export function parseWarmup(raw: string | undefined): Record<string, unknown> | null {
  const v = (raw ?? '').trim();
  if (v === '' || ['true', '1', 'yes'].includes(v.toLowerCase())) return { ...DEFAULT_WARMUP };
  if (['false', '0', 'no'].includes(v.toLowerCase())) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`A1111_WARMUP=${JSON.stringify(v.slice(0, 80))} is invalid: allowed true, false or a JSON object (a txt2img payload)`);
  }
  return parsed as Record<string, unknown>;
}
