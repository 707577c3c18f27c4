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

