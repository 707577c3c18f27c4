/**
 * `.runpod/hub.json` and `.runpod/tests.json` against the fields documented for the RunPod Hub
 * (https://docs.runpod.io/hub/publishing-guide; docs/runpod-conventions.md, "Hub file layout and rules
 * (`runpod/docs:hub/publishing-guide.mdx`)" and the two sections after it; the checks are written from that text,
 * not from a downloaded schema), and kept in sync with the worker: every env var of the README tables is an input
 * with the README's default, every input is a variable the worker or start.sh reads, and the Hub test is a job this
 * worker accepts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../handler/config.js';
import { resolveRoute } from '../../handler/jobs/input/routes.js';
import { validatePayload } from '../../handler/jobs/input/validate.js';
import { checkInputShape } from '../../handler/jobs/input/guard.js';
import { ROOT } from '../helpers/root.js';

const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Fails with `where` when `obj` has a key outside `allowed`. */
function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) expect(allowed, `${where}: unknown field ${k}`).toContain(k);
}

// --- README tables ------------------------------------------------------------------------------------------------

/** One row of a README table whose first column is `variable`. */
interface ReadmeVar {
  name: string;
  /** The default cell as written (e.g. "`600`", "unset", "`20971520` (20 MiB)"). */
  default: string;
  meaning: string;
  /** The text line just before the table (tells platform-set variables apart). */
  intro: string;
}

/** Every variable named in the README's `| variable | default | … |` tables (wildcard rows such as `MAX_*` skipped). */
function readmeVars(md: string): ReadmeVar[] {
  const out: ReadmeVar[] = [];
  const lines = md.split(/\r?\n/);
  let intro = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('|')) {
      if (line.trim() !== '') intro = line.trim();
      continue;
    }
    const cells = (l: string): string[] => l.replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
    const header = cells(line);
    let j = i + 2; // skip the |---| line
    if (header[0] === 'variable') {
      for (; j < lines.length && lines[j]!.startsWith('|'); j++) {
        const [names, def, meaning] = cells(lines[j]!);
        for (const m of (names ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) out.push({ name: m[1]!, default: def ?? '', meaning: meaning ?? '', intro });
      }
    }
    for (; j < lines.length && lines[j]!.startsWith('|'); j++);
    i = j - 1;
  }
  return out;
}

/**
 * The README default as a literal: `` `600` `` → 600, `` `true` `` → true, `` `DEBUG` `` → 'DEBUG'; undefined when
 * unset ("unset → local mode", "random UUID"…) or when it names another variable (`MAX_JOB_TIMEOUT_S`'s
 * `` `A1111_REQUEST_TIMEOUT_S` ``).
 */
function readmeDefault(cell: string, variables: ReadonlySet<string>): string | number | boolean | undefined {
  const m = /^`([^`]*)`/.exec(cell);
  if (!m) return undefined;
  const v = m[1]!;
  if (variables.has(v)) return undefined;
  if (/^-?\d+$/.test(v)) return Number(v);
  if (v === 'true' || v === 'false') return v === 'true';
  return v;
}

// --- the worker's variables -----------------------------------------------------------------------------------------

/** Env var names the worker reads (config.ts, the start-up checks' settings) or start.sh reads. */
function knownVars(): Set<string> {
  const names = new Set<string>();
  for (const m of (read('handler/config.ts') + read('handler/env-vars.ts') + read('handler/runpod/checks/startup-checks.ts')).matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\benv(?:Int|Bool|Url|Choice)\(env, '([A-Z][A-Z0-9_]+)'/g)) names.add((m[1] ?? m[2])!);
  for (const m of read('docker/start.sh').matchAll(/\$\{([A-Z][A-Z0-9_]+)(?::-|\})/g)) names.add(m[1]!);
  return names;
}

// --- hub.json -----------------------------------------------------------------------------------------------------

interface HubInput {
  name?: string;
  description?: string;
  type: 'string' | 'number' | 'boolean' | 'huggingface';
  default?: string | number | boolean;
  advanced?: boolean;
  required?: boolean;
  options?: { label: string; value: string }[];
  min?: number;
  max?: number;
  trueValue?: string;
  falseValue?: string;
}
interface HubEnv {
  key: string;
  value?: string;
  input?: HubInput;
}

const hub = JSON.parse(read('.runpod/hub.json')) as Record<string, unknown> & { config: Record<string, unknown> & { env: HubEnv[] } };
const tests = JSON.parse(read('.runpod/tests.json')) as Record<string, unknown> & {
  tests: { name: string; input: unknown; timeout?: number }[];
  config: Record<string, unknown>;
};
const inputs = new Map(hub.config.env.filter((e) => e.input).map((e) => [e.key, e.input!]));
const CUDA_VERSION = /^\d+\.\d+$/;
/** CUDA major.minor of the Dockerfile's runtime image: the host driver must support at least this. */
const imageCuda = ((): number[] => {
  const m = /^FROM nvidia\/cuda:(\d+)\.(\d+)\.\d+-/m.exec(read('Dockerfile'));
  if (!m) throw new Error('no nvidia/cuda base image in the Dockerfile');
  return [Number(m[1]), Number(m[2])];
})();
const atLeastImageCuda = (v: string): boolean => {
  const [a, b] = v.split('.').map(Number) as [number, number];
  return a > imageCuda[0]! || (a === imageCuda[0] && b >= imageCuda[1]!);
};

describe('.runpod/hub.json (docs/runpod-conventions.md, "`hub.json` schema (docs) and real files")', () => {
  it('has the documented top-level fields: title, description, type serverless, category image, config', () => {
    onlyKeys(hub, ['title', 'description', 'type', 'category', 'iconUrl', 'config'], 'hub.json');
    expect(typeof hub.title === 'string' && hub.title.length > 0).toBe(true);
    expect(typeof hub.description === 'string' && hub.description.length > 0).toBe(true);
    expect(hub.type).toBe('serverless');
    expect(['audio', 'embedding', 'language', 'video', 'image']).toContain(hub.category);
    expect(hub.category).toBe('image');
  });

  it('config: GPU, disk, GPU pools (gpuIds, not gpuTypeId), CUDA versions the image runs on', () => {
    const c = hub.config;
    onlyKeys(c, ['runsOn', 'endpointType', 'containerDiskInGb', 'cpuFlavor', 'gpuCount', 'gpuIds', 'allowedCudaVersions', 'env', 'presets'], 'hub.json config');
    expect(c.runsOn).toBe('GPU');
    expect(Number.isInteger(c.containerDiskInGb) && (c.containerDiskInGb as number) >= 20).toBe(true);
    expect(Number.isInteger(c.gpuCount) && (c.gpuCount as number) >= 1).toBe(true);
    expect(typeof c.gpuIds).toBe('string');
    for (const id of (c.gpuIds as string).split(',')) expect(id.trim()).toMatch(/^(?:[A-Z]+_\d+(?:_PRO)?|-NVIDIA .+)$/);
    expect(c.cpuFlavor).toBeUndefined();
    const cuda = c.allowedCudaVersions as unknown[];
    expect(Array.isArray(cuda) && cuda.length > 0).toBe(true);
    for (const v of cuda) {
      expect(v).toMatch(CUDA_VERSION);
      expect(atLeastImageCuda(v as string), `CUDA ${String(v)} is older than the image's ${imageCuda.join('.')}`).toBe(true);
    }
  });

  it('env: each item is {key, value} or {key, input} with a documented input type, and a default of that type', () => {
    const keys = new Set<string>();
    for (const e of hub.config.env) {
      const where = `env ${e.key}`;
      onlyKeys(e as unknown as Record<string, unknown>, ['key', 'value', 'input'], where);
      expect(e.key).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(keys.has(e.key), `${where} twice`).toBe(false);
      keys.add(e.key);
      expect((e.value === undefined) !== (e.input === undefined), `${where}: exactly one of value and input`).toBe(true);
      if (e.value !== undefined) {
        expect(typeof e.value).toBe('string');
        continue;
      }
      const inp = e.input!;
      onlyKeys(inp as unknown as Record<string, unknown>, ['name', 'description', 'type', 'default', 'advanced', 'required', 'options', 'min', 'max', 'trueValue', 'falseValue'], where);
      expect(['string', 'number', 'boolean', 'huggingface']).toContain(inp.type);
      expect(typeof inp.name === 'string' && inp.name.length > 0, `${where}: name`).toBe(true);
      expect(typeof inp.description === 'string' && inp.description.length > 0, `${where}: description`).toBe(true);
      for (const flag of ['advanced', 'required'] as const) if (inp[flag] !== undefined) expect(typeof inp[flag]).toBe('boolean');
      if (inp.type === 'number') {
        for (const b of ['min', 'max'] as const) if (inp[b] !== undefined) expect(typeof inp[b], `${where}: ${b}`).toBe('number');
        if (inp.default !== undefined) {
          expect(typeof inp.default, `${where}: default`).toBe('number');
          if (inp.min !== undefined) expect(inp.default as number).toBeGreaterThanOrEqual(inp.min);
          if (inp.max !== undefined) expect(inp.default as number).toBeLessThanOrEqual(inp.max);
        }
      } else {
        expect(inp.min, `${where}: min is for numbers`).toBeUndefined();
        expect(inp.max, `${where}: max is for numbers`).toBeUndefined();
      }
      if (inp.type === 'boolean') {
        expect(typeof inp.default, `${where}: default`).toBe('boolean');
        expect([inp.trueValue, inp.falseValue]).toEqual(['true', 'false']); // what config.ts accepts
      } else {
        expect(inp.trueValue, where).toBeUndefined();
        expect(inp.falseValue, where).toBeUndefined();
      }
      if (inp.type === 'string' && inp.default !== undefined) expect(typeof inp.default, `${where}: default`).toBe('string');
      if (inp.options !== undefined) {
        expect(inp.type).toBe('string');
        for (const o of inp.options) expect(typeof o.label === 'string' && typeof o.value === 'string').toBe(true);
        if (inp.default !== undefined) expect(inp.options.map((o) => o.value)).toContain(inp.default);
      }
    }
  });

  it('env: defaults are ones the worker accepts (loadConfig with every default set)', () => {
    const env: Record<string, string> = {};
    for (const [k, inp] of inputs) if (inp.default !== undefined && inp.default !== '') env[k] = String(inp.default);
    const cfg = loadConfig([], env);
    expect(cfg.a1111.url).toBe('http://127.0.0.1:3000');
    expect(cfg.limits.maxSteps).toBe(150);
  });

  it('env: every variable of the README tables is an input with the README default (platform-set and --rp_serve_api-only ones excepted)', () => {
    const vars = readmeVars(read('README.md'));
    expect(vars.length).toBeGreaterThan(30);
    const names = new Set(vars.map((v) => v.name));
    const platform = vars.filter((v) => /RunPod sets these/i.test(v.intro));
    expect(platform.map((v) => v.name)).toContain('RUNPOD_WEBHOOK_GET_JOB');
    // The platform injects those; only the log level is a user setting among them.
    const USER_SETTABLE_PLATFORM = new Set(['RUNPOD_DEBUG_LEVEL']);
    for (const v of platform) expect(inputs.has(v.name), `${v.name} is set by RunPod, not an input`).toBe(USER_SETTABLE_PLATFORM.has(v.name));
    const local = vars.filter((v) => v.meaning.startsWith('`--rp_serve_api`'));
    expect(local.map((v) => v.name)).toContain('RUNPOD_API_KEY');
    for (const v of local) expect(inputs.has(v.name), `${v.name} only affects --rp_serve_api, never used on RunPod`).toBe(false);
    const own = vars.filter((v) => !platform.includes(v) && !local.includes(v));
    expect(own.map((v) => v.name)).toEqual(expect.arrayContaining(['A1111_URL', 'MAX_STEPS', 'RESULT_POST_RETRIES', 'ALLOW_IMAGE_URLS']));
    for (const v of [...own, ...platform.filter((p) => USER_SETTABLE_PLATFORM.has(p.name))]) {
      // A pointer row ("`MAX_*`, `ALLOW_IMAGE_URLS` | see "Input limits"") defers to the row it points at.
      if (/^see\b/i.test(v.default) && vars.some((w) => w.name === v.name && w !== v)) continue;
      const inp = inputs.get(v.name);
      expect(inp, `README variable ${v.name} is not an input of .runpod/hub.json`).toBeDefined();
      const def = readmeDefault(v.default, names);
      if (def === undefined) expect(inp!.default === undefined || inp!.default === '', `${v.name}: README has no literal default`).toBe(true);
      else if (typeof def === 'boolean' && inp!.type === 'string') expect(inp!.default, v.name).toBe(String(def));
      else expect(inp!.default, `${v.name}: README default ${v.default}`).toEqual(def);
    }
  });

  it('env: every input is a variable the worker (config.ts) or start.sh reads; A1111_PID is set by start.sh, not by users', () => {
    const known = knownVars();
    expect(known.has('A1111_URL') && known.has('A1111_CKPT') && known.has('BUCKET_ENDPOINT_URL')).toBe(true);
    for (const k of inputs.keys()) expect(known.has(k), `input ${k} is read by nothing`).toBe(true);
    for (const internal of ['A1111_PID', 'A1111_LAUNCH', 'WORKER_CMD', 'WORKER_DIR', 'A1111_DIR']) expect(inputs.has(internal), internal).toBe(false);
    // What start.sh offers a user: the checkpoint and A1111's flags.
    for (const k of ['A1111_CKPT', 'A1111_CKPT_DIR', 'A1111_EXTRA_ARGS']) expect(inputs.has(k), k).toBe(true);
  });

  it('env: secrets have no default', () => {
    for (const k of ['A1111_API_AUTH', 'BUCKET_ACCESS_KEY_ID', 'BUCKET_SECRET_ACCESS_KEY']) {
      expect(inputs.has(k), k).toBe(true);
      expect(inputs.get(k)!.default ?? '', k).toBe('');
    }
  });
});

describe('.runpod/tests.json (docs/runpod-conventions.md, "`tests.json` schema, and how the Hub uses it")', () => {
  it('has the documented fields: tests [{name, input, timeout ms}] and config {gpuTypeId, gpuCount, env, allowedCudaVersions}', () => {
    onlyKeys(tests, ['tests', 'config'], 'tests.json');
    expect(Array.isArray(tests.tests)).toBe(true);
    const c = tests.config;
    onlyKeys(c, ['gpuTypeId', 'gpuCount', 'cpuFlavor', 'env', 'allowedCudaVersions'], 'tests.json config');
    expect(typeof c.gpuTypeId === 'string' && /^NVIDIA /.test(c.gpuTypeId)).toBe(true); // a GPU name, not a pool id
    expect(Number.isInteger(c.gpuCount) && (c.gpuCount as number) >= 1).toBe(true);
    expect(c.cpuFlavor).toBeUndefined();
    if (c.env !== undefined) {
      expect(Array.isArray(c.env)).toBe(true);
      for (const e of c.env as unknown[]) {
        expect(isObject(e)).toBe(true);
        onlyKeys(e as Record<string, unknown>, ['key', 'value'], 'tests.json config.env');
        expect(typeof (e as { key: unknown }).key).toBe('string');
        expect(typeof (e as { value: unknown }).value).toBe('string');
      }
    }
    expect(c.allowedCudaVersions).toEqual(hub.config.allowedCudaVersions);
  });

  it('runs one small, fast test with a generous timeout (a cold start loads A1111 and the checkpoint)', () => {
    expect(tests.tests).toHaveLength(1);
    const t = tests.tests[0]!;
    onlyKeys(t as unknown as Record<string, unknown>, ['name', 'input', 'timeout'], 'tests.json test');
    expect(t.name).toMatch(/^[\w.-]+$/);
    expect(isObject(t.input)).toBe(true);
    expect(Number.isInteger(t.timeout)).toBe(true);
    expect(t.timeout!).toBeGreaterThanOrEqual(300_000); // ms
    expect(t.timeout!).toBeLessThanOrEqual(1_800_000);
  });

  it('its input is a job this worker accepts: an allowed route and a valid, cheap txt2img payload', () => {
    const input = tests.tests[0]!.input as { api: { method: string; endpoint: string }; payload: Record<string, unknown> };
    const limits = loadConfig([], {}).limits;
    checkInputShape(input, limits);
    const route = resolveRoute(input.api.method, input.api.endpoint);
    expect(route.path).toBe('/sdapi/v1/txt2img');
    expect(() => validatePayload(route, input.payload, limits)).not.toThrow();
    expect(input.payload.steps).toBe(1);
    expect((input.payload.width as number) * (input.payload.height as number)).toBeLessThanOrEqual(64 * 64);
    // No checkpoint/sampler names: the Hub build may bake any model.
    expect(JSON.stringify(input.payload)).not.toMatch(/sd_model_checkpoint|sampler_name|override_settings/);
  });
});
