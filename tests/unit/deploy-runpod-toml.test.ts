/**
 * runpod.toml against the key table of `runpodctl project` (runpod/runpodctl `cmd/project/tomlBuilder.go`;
 * docs/runpod-conventions.md, "Format written by `runpodctl project create` (Go CLI)"): every key
 * known and of its type, the required ones present, values that make sense for this worker, and env vars equal to
 * the defaults of `.runpod/hub.json`.
 *
 * The project has no TOML dependency, so the file is read with a small strict parser of the subset it uses
 * (tables, dotted table names, bare or quoted keys, basic and literal strings, integers, booleans, one-line
 * arrays); anything else is an error naming the line, so the file cannot drift into syntax the test does not read.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/root.js';

type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
interface TomlTable {
  [key: string]: TomlValue;
}

/** Thrown for anything outside the supported subset, or invalid TOML, with its line. */
class TomlError extends Error {}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Parses the TOML subset described above into plain objects.
 * @throws TomlError naming the line for unsupported or invalid syntax, duplicate keys and redefined tables
 */
function parseToml(text: string): TomlTable {
  const root: TomlTable = {};
  const defined = new Set<string>();
  let table = root;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const fail = (why: string): never => {
      throw new TomlError(`line ${n}: ${why}: ${raw.trim()}`);
    };
    const src = stripComment(raw, fail).trim();
    if (src === '') return;
    if (src.startsWith('[')) {
      if (src.startsWith('[[')) fail('arrays of tables are not supported');
      const m = /^\[\s*([^\]]+?)\s*\]$/.exec(src);
      if (!m) fail('bad table header');
      const names = m![1]!.split('.').map((k) => k.trim());
      if (names.some((k) => !BARE_KEY.test(k))) fail('bad table name');
      const full = names.join('.');
      if (defined.has(full)) fail(`table [${full}] defined twice`);
      defined.add(full);
      table = root;
      for (const k of names) {
        const next = table[k];
        if (next === undefined) table = table[k] = {};
        else if (typeof next === 'object' && !Array.isArray(next)) table = next;
        else fail(`[${full}]: ${k} is not a table`);
      }
      return;
    }
    const eq = /^("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(src);
    if (!eq) fail('expected key = value');
    const key = eq![1]!.startsWith('"') ? (JSON.parse(eq![1]!) as string) : eq![1]!;
    if (Object.prototype.hasOwnProperty.call(table, key)) fail(`duplicate key ${key}`);
    const { value, rest } = parseValue(eq![2]!, fail);
    if (rest.trim() !== '') fail('text after the value');
    table[key] = value;
  });
  return root;
}

/** Removes a `#` comment that is not inside a string. */
function stripComment(line: string, fail: (why: string) => never): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      if (line.startsWith(c.repeat(3), i)) fail('multi-line strings are not supported');
      quote = c;
    } else if (c === '#') {
      return line.slice(0, i);
    }
  }
  if (quote) fail('unterminated string');
  return line;
}

/** Parses one value at the start of `s`; returns it and the text after it. */
function parseValue(s: string, fail: (why: string) => never): { value: TomlValue; rest: string } {
  s = s.trimStart();
  let m: RegExpExecArray | null;
  if ((m = /^"((?:[^"\\\u0000-\u001f]|\\(?:["\\bfnrt]|u[0-9A-Fa-f]{4}))*)"/.exec(s))) return { value: JSON.parse(`"${m[1]}"`) as string, rest: s.slice(m[0].length) };
  if ((m = /^'([^'\n]*)'/.exec(s))) return { value: m[1]!, rest: s.slice(m[0].length) };
  if ((m = /^(true|false)(?![\w.-])/.exec(s))) return { value: m[1] === 'true', rest: s.slice(m[0].length) };
  if ((m = /^([+-]?(?:0|[1-9]\d*))(?![\w.:-])/.exec(s))) {
    const v = Number(m[1]);
    if (!Number.isSafeInteger(v)) fail('integer out of range');
    return { value: v, rest: s.slice(m[0].length) };
  }
  if (s.startsWith('[')) {
    const items: TomlValue[] = [];
    let rest = s.slice(1).trimStart();
    while (!rest.startsWith(']')) {
      if (rest === '') fail('unterminated array (multi-line arrays are not supported)');
      const item = parseValue(rest, fail);
      if (typeof item.value === 'object' && !Array.isArray(item.value)) fail('inline tables are not supported');
      if (items.length > 0 && typeof items[0] !== typeof item.value) fail('mixed-type array');
      items.push(item.value);
      rest = item.rest.trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
      else if (!rest.startsWith(']')) fail('expected , or ] in array');
    }
    return { value: items, rest: rest.slice(1) };
  }
  return fail('unsupported value (floats, dates, inline tables and multi-line strings are not read)');
}

// --- the runpodctl key table -----------------------------------------------------------------------------------------

type KeyType = 'string' | 'string[]' | 'int' | 'bool' | 'table of strings';

/** Every key `runpodctl project` reads (Go CLI format), with its type. */
const KEYS: Readonly<Record<string, KeyType>> = {
  name: 'string',
  'project.uuid': 'string',
  'project.base_image': 'string',
  'project.gpu_types': 'string[]',
  'project.gpu': 'string', // legacy single GPU, still read
  'project.gpu_count': 'int',
  'project.volume_mount_path': 'string',
  'project.ports': 'string',
  'project.container_disk_size_gb': 'int',
  'project.env_vars': 'table of strings',
  'endpoint.active_workers': 'int',
  'endpoint.max_workers': 'int',
  'endpoint.flashboot': 'bool',
  'endpoint.idle_timeout': 'int',
  'endpoint.model_refs': 'string[]',
  'runtime.python_version': 'string',
  'runtime.handler_path': 'string',
  'runtime.requirements_path': 'string',
};

/** The keys this worker's file must set (the brief: name, image, GPUs, disk, volume, env, workers, idle, FlashBoot). */
const REQUIRED = [
  'name',
  'project.uuid',
  'project.base_image',
  'project.gpu_types',
  'project.gpu_count',
  'project.volume_mount_path',
  'project.container_disk_size_gb',
  'project.env_vars',
  'endpoint.active_workers',
  'endpoint.max_workers',
  'endpoint.flashboot',
  'endpoint.idle_timeout',
];

function typeOf(v: TomlValue): string {
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? 'string[]' : 'array';
  if (typeof v === 'number') return 'int';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  return Object.values(v).every((x) => typeof x === 'string') ? 'table of strings' : 'table';
}

/** Flattens to dotted keys, stopping at `project.env_vars` (a table value). */
function leaves(t: TomlTable, prefix = ''): Map<string, TomlValue> {
  const out = new Map<string, TomlValue>();
  for (const [k, v] of Object.entries(t)) {
    const full = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && !Array.isArray(v) && KEYS[full] !== 'table of strings') for (const [a, b] of leaves(v, full)) out.set(a, b);
    else out.set(full, v);
  }
  return out;
}

interface HubEnv {
  key: string;
  value?: string;
  input?: { type: string; default?: string | number | boolean };
}

const toml = parseToml(readFileSync(path.join(ROOT, 'runpod.toml'), 'utf8'));
const flat = leaves(toml);
const hub = JSON.parse(readFileSync(path.join(ROOT, '.runpod/hub.json'), 'utf8')) as { config: { containerDiskInGb: number; env: HubEnv[] } };
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

describe('the TOML reader', () => {
  it('reads the supported subset', () => {
    expect(
      parseToml('a = "x\\ty" # c\nb = 3\n[t.u]\nc = [ "p", \'q\', ]\nd = false\n"e f" = -1\n'),
    ).toEqual({ a: 'x\ty', b: 3, t: { u: { c: ['p', 'q'], d: false, 'e f': -1 } } });
    expect(parseToml('s = "a # not a comment"')).toEqual({ s: 'a # not a comment' });
  });
  it('refuses what it does not read, and invalid TOML, naming the line', () => {
    const bad: [string, RegExp][] = [
      ['a = 1\na = 2', /line 2: duplicate key a/],
      ['[t]\n[t]', /line 2: table \[t\] defined twice/],
      ['a = 1.5', /unsupported value/],
      ['a = 1979-05-27', /unsupported value/],
      ['a = { b = 1 }', /unsupported value/],
      ['a = [1, "x"]', /mixed-type array/],
      ['a = [\n1]', /unterminated array/],
      ['a = """x"""', /multi-line strings/],
      ['a = "open', /unterminated string/],
      ['a = 1 2', /text after the value/],
      ['just words', /expected key = value/],
      ['[[jobs]]', /arrays of tables/],
      ['a = 0x10', /unsupported value/],
    ];
    for (const [src, re] of bad) expect(() => parseToml(src), src).toThrow(re);
  });
});

describe('runpod.toml (runpodctl project format)', () => {
  it('uses only keys of the runpodctl table, each with its type', () => {
    for (const [key, value] of flat) {
      expect(Object.keys(KEYS), `unknown key ${key}`).toContain(key);
      expect(typeOf(value), key).toBe(KEYS[key]);
    }
  });

  it('sets every key the endpoint needs', () => {
    for (const key of REQUIRED) expect(flat.has(key), key).toBe(true);
  });

  it('has no [runtime] section: that flow runs `python -u <handler_path>` in a venv, which cannot start this worker', () => {
    expect(toml.runtime).toBeUndefined();
  });

  it('has values that fit this worker', () => {
    const get = <T>(k: string): T => flat.get(k) as T;
    expect(get<string>('name')).toBe(pkg.name);
    expect(get<string>('project.uuid')).toMatch(/^[0-9a-f]{8}$/);
    // The image built from ./Dockerfile: an exact tag (package.json's version), never latest.
    expect(get<string>('project.base_image')).toMatch(new RegExp(`/${pkg.name}:${pkg.version.replace(/\./g, '\\.')}$`));
    const gpus = get<string[]>('project.gpu_types');
    expect(gpus.length).toBeGreaterThan(0);
    for (const g of gpus) expect(g).toMatch(/^NVIDIA /); // GPU names as runpodctl lists them, not pool ids
    expect(get<number>('project.gpu_count')).toBe(1);
    expect(get<string>('project.volume_mount_path')).toBe('/runpod-volume');
    expect(get<number>('project.container_disk_size_gb')).toBeGreaterThanOrEqual(20);
    expect(get<number>('project.container_disk_size_gb')).toBe(hub.config.containerDiskInGb);
    const min = get<number>('endpoint.active_workers');
    const max = get<number>('endpoint.max_workers');
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeGreaterThanOrEqual(Math.max(1, min));
    expect(get<boolean>('endpoint.flashboot')).toBe(true);
    expect(get<number>('endpoint.idle_timeout')).toBeGreaterThanOrEqual(1);
  });

  it("env vars are the worker's defaults: the same keys and values as .runpod/hub.json's inputs with a default", () => {
    const env = flat.get('project.env_vars') as Record<string, string>;
    const expected: Record<string, string> = {};
    for (const e of hub.config.env) {
      const d = e.input?.default;
      if (d !== undefined && d !== '') expected[e.key] = String(d);
    }
    expect(env).toEqual(expected);
    expect(Object.keys(env).length).toBeGreaterThan(10);
  });
});
