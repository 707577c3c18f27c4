/**
 * docker-bake.hcl, checked statically (no Docker engine here): the published variants as Buildx bake targets.
 * The bake file is read with tests/helpers/hcl.ts, a reader of the HCL subset it uses that gives bake's JSON form.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/root.js';
import { parseBakeHcl } from '../helpers/hcl.js';

const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');

interface BakeTarget {
  inherits?: string[];
  context?: string;
  dockerfile?: string;
  target?: string;
  platforms?: string[];
  args?: Record<string, string>;
  labels?: Record<string, string>;
  tags?: string[];
}
interface BakeFile {
  variable: Record<string, { default: string }>;
  group: Record<string, { targets: string[] }>;
  target: Record<string, BakeTarget>;
}

const bake = parseBakeHcl(read('docker-bake.hcl')) as unknown as BakeFile;
const dockerfile = read('Dockerfile');
/** Stage names (`FROM … AS name`) and every ARG name the Dockerfile declares (global or in a stage). */
const stageNames = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)\s*$/gim)].map((m) => m[1]!);
const argNames = new Set([...dockerfile.matchAll(/^ARG\s+([A-Za-z_][A-Za-z0-9_]*)/gm)].map((m) => m[1]!));
/** The defaults of the ARGs declared before the first FROM. */
const globalArgs = new Map(
  [...dockerfile.slice(0, dockerfile.search(/^FROM\s/m)).matchAll(/^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S*)\s*$/gm)].map((m) => [m[1]!, m[2]!]),
);

/** A target with its `inherits` merged in (bake's rule: the target's own fields win; maps are merged). */
function resolve(name: string, seen: string[] = []): BakeTarget {
  const t = bake.target[name];
  if (!t) throw new Error(`no bake target ${name}`);
  if (seen.includes(name)) throw new Error(`inherits loop: ${[...seen, name].join(' → ')}`);
  let out: BakeTarget = {};
  for (const parent of t.inherits ?? []) {
    const p = resolve(parent, [...seen, name]);
    out = { ...out, ...p, args: { ...out.args, ...p.args }, labels: { ...out.labels, ...p.labels } };
  }
  const { inherits: _inherits, ...own } = t;
  return { ...out, ...own, args: { ...out.args, ...own.args }, labels: { ...out.labels, ...own.labels } };
}

/** `${NAME}` replaced by the bake variables' values (`env` wins over the defaults, as bake reads the environment). */
function interpolate(s: string, env: Record<string, string> = {}): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, n: string) => {
    if (!(n in bake.variable)) throw new Error(`\${${n}} is not a bake variable`);
    return env[n] ?? bake.variable[n]!.default;
  });
}

const published = bake.group.default?.targets ?? [];

describe('docker-bake.hcl', () => {
  it('has only bake\'s top-level blocks, and variables REGISTRY, IMAGE, VERSION (package.json\'s version), MODEL_URL', () => {
    expect(Object.keys(bake).sort()).toEqual(['group', 'target', 'variable']);
    expect(bake.variable.REGISTRY?.default).toBe('ghcr.io');
    expect(bake.variable.IMAGE?.default).toMatch(/^[a-z0-9._-]+\/[a-z0-9._-]+$/);
    expect(bake.variable.VERSION?.default).toBe((JSON.parse(read('package.json')) as { version: string }).version);
    // The published images bake no checkpoint (a network volume or A1111_CKPT supplies it).
    expect(bake.variable.MODEL_URL?.default).toBe('');
  });

  it('publishes at least a1111-cu121, a1111-cu128 and forge-cu128 (the default group)', () => {
    expect(published).toEqual(expect.arrayContaining(['a1111-cu121', 'a1111-cu128', 'forge-cu128']));
    expect(new Set(published).size).toBe(published.length);
    for (const t of published) expect(bake.target[t], t).toBeDefined();
    // Every concrete target is published; `_`-prefixed ones are only inherited.
    expect(Object.keys(bake.target).filter((t) => !t.startsWith('_')).sort()).toEqual([...published].sort());
  });

  it.each(published)('%s: the Dockerfile\'s runtime stage, known ARGs, a variant the Dockerfile has, linux/amd64', (name) => {
    const t = resolve(name);
    expect(t.context).toBe('.');
    expect(existsSync(path.join(ROOT, t.dockerfile ?? 'Dockerfile'))).toBe(true);
    expect(t.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
    expect(stageNames).toContain(t.target);
    expect(t.target).toBe(stageNames.at(-1));
    expect(t.platforms).toEqual(['linux/amd64']);
    for (const a of Object.keys(t.args ?? {})) expect(argNames.has(a), `${name}: ARG ${a} is not in the Dockerfile`).toBe(true);
    const { BACKEND: backend, CUDA: cuda } = t.args ?? {};
    expect(['a1111', 'forge']).toContain(backend);
    expect(['cu121', 'cu128']).toContain(cuda);
    expect(stageNames).toContain(`webui-${backend}`);
    expect(stageNames).toContain(`cuda-${cuda}`);
    expect(name).toBe(`${backend}-${cuda}`);
    for (const v of Object.values(t.args ?? {})) expect(() => interpolate(v)).not.toThrow();
  });

  it.each(published)('%s: tagged <registry>/<image>:<version>-<target>', (name) => {
    const tags = resolve(name).tags ?? [];
    expect(tags).toEqual([`\${REGISTRY}/\${IMAGE}:\${VERSION}-${name}`]);
    expect(interpolate(tags[0]!, { IMAGE: 'acme/runpod-worker-a1111-ts', VERSION: '1.2.3' })).toBe(`ghcr.io/acme/runpod-worker-a1111-ts:1.2.3-${name}`);
    // A valid image reference: lower-case repository, tag of [\w.-], at most 128 characters.
    const tag = interpolate(tags[0]!).split(':').at(-1)!;
    expect(tag).toMatch(/^[\w][\w.-]{0,127}$/);
  });

  it('the Dockerfile\'s defaults are one of the variants (what `docker build .` and the Hub build)', () => {
    expect(published).toContain(`${globalArgs.get('BACKEND')}-${globalArgs.get('CUDA')}`);
  });
});

describe('.runpod/hub.json GPUs and the variant the Hub builds', () => {
  /** RunPod GPU pools of Blackwell cards (sm_100 / sm_120), which need the CUDA 12.8 (torch >= 2.7) image. */
  const BLACKWELL_POOLS = ['ADA_32_PRO', 'BLACKWELL_96', 'BLACKWELL_180'];
  const hub = JSON.parse(read('.runpod/hub.json')) as { config: { gpuIds: string; allowedCudaVersions: string[] } };
  const pools = hub.config.gpuIds.split(',').map((s) => s.trim());

  it('offers Blackwell pools (RTX 5090, RTX PRO 6000, B200) only when the default build is cu128, then only CUDA >= 12.8 hosts', () => {
    const cu128 = globalArgs.get('CUDA') === 'cu128';
    for (const p of BLACKWELL_POOLS) if (pools.includes(p)) expect(cu128, `${p} needs the cu128 image, but the Dockerfile's default CUDA is ${globalArgs.get('CUDA')}`).toBe(true);
    if (cu128) for (const v of hub.config.allowedCudaVersions) expect(Number(v.split('.')[0]) * 100 + Number(v.split('.')[1])).toBeGreaterThanOrEqual(1208);
  });
});

describe('the HCL reader of the tests', () => {
  it('reads the subset bake files use and names the line of anything else', () => {
    expect(parseBakeHcl('# c\ntarget "t" {\n  args = { A = "1", "b.c" = "${X}" }\n  tags = ["x", "y"]\n  n = 2\n}\n')).toEqual({
      target: { t: { args: { A: '1', 'b.c': '${X}' }, tags: ['x', 'y'], n: 2 } },
    });
    expect(() => parseBakeHcl('target "t" {\n  args = [ foo ]\n}')).toThrow('docker-bake.hcl line 2: expected a value');
    expect(() => parseBakeHcl('target "t" {\n  tags = "x\n')).toThrow(/unterminated string/);
  });
});
