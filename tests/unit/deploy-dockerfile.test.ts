/**
 * Lint of the Dockerfile, .dockerignore and docker/start.sh, written in TS because no Docker engine runs here
 * (issue 7 item 1): every FROM pinned to an exact version tag or a digest (never `latest`, never untagged), every
 * stage named, every COPY/ADD source present in the repository and not excluded by .dockerignore (or taken
 * `--from=` a stage defined above), A1111 v1.10.1 pinned by commit with the maintained Stable Diffusion fork,
 * requirements installed at build time, and start.sh's headless flags.
 */
import { readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/root.js';

/** One Dockerfile instruction, continuation lines joined. */
interface Instruction {
  /** 1-based line of the instruction's first line. */
  line: number;
  /** Upper-cased keyword: FROM, RUN, COPY… */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  args: string;
}

/**
 * Parses a Dockerfile into instructions: `#` comment lines (also inside continuations, as Docker does) and blank
 * lines are skipped, a trailing `\` continues the instruction on the next line. Heredocs are refused (unused here).
 */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let cur: { line: number; text: string } | null = null;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const cont = /\\\s*$/.test(raw);
    const body = cont ? raw.replace(/\\\s*$/, '') : raw;
    if (cur) cur.text += ` ${body.trim()}`;
    else cur = { line: i + 1, text: body.trim() };
    if (!cont) {
      const m = /^(\S+)\s*(.*)$/s.exec(cur.text)!;
      if (/<<-?\w+/.test(m[2]!) && ['RUN', 'COPY'].includes(m[1]!.toUpperCase())) throw new Error(`line ${cur.line}: heredocs are not supported by this lint`);
      out.push({ line: cur.line, keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
      cur = null;
    }
  });
  if (cur) throw new Error('Dockerfile ends inside a line continuation');
  return out;
}

/** A FROM line: its image reference and stage name. */
interface Stage {
  name: string | undefined;
  image: string;
  line: number;
  /** Instructions of the stage (after its FROM, before the next FROM). */
  body: Instruction[];
}

function stagesOf(instrs: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instrs) {
    if (ins.keyword === 'FROM') {
      const tokens = ins.args.split(/\s+/).filter((t) => !t.startsWith('--'));
      const asAt = tokens.findIndex((t) => t.toUpperCase() === 'AS');
      if (asAt !== -1 && asAt !== 1) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      if (tokens.length !== 1 && tokens.length !== 3) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      stages.push({ name: asAt === 1 ? tokens[2] : undefined, image: tokens[0]!, line: ins.line, body: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.body.push(ins);
    } else if (ins.keyword !== 'ARG') {
      throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`);
    }
  }
  return stages;
}

/**
 * Whether an image reference is pinned: a `@sha256:` digest, or a tag starting with an exact `major.minor.patch`
 * version (so `node:24-bookworm-slim`, `alpine:3.20`, `latest` and untagged references are not).
 */
function pinned(ref: string): boolean {
  if (ref.includes('$')) return false;
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return true;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) return false;
  const tag = ref.slice(colon + 1);
  return tag !== 'latest' && /^v?\d+\.\d+\.\d+([-.+_][\w.-]+)?$/.test(tag);
}

/** A COPY/ADD: its flags, sources and destination (shell form or JSON form). */
function copyParts(ins: Instruction): { flags: Record<string, string>; sources: string[]; dest: string } {
  const flags: Record<string, string> = {};
  let rest = ins.args;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!m) break;
    flags[m[1]!] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
  const parts: string[] = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  if (parts.length < 2) throw new Error(`line ${ins.line}: ${ins.keyword} needs a source and a destination`);
  return { flags, sources: parts.slice(0, -1), dest: parts.at(-1)! };
}

/** The `KEY=value` pairs of an ENV instruction (the `ENV key value` legacy form is refused). */
function envPairs(ins: Instruction): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g;
  let consumed = '';
  for (const m of ins.args.matchAll(re)) {
    out[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    consumed += m[0];
  }
  if (consumed.replace(/\s/g, '').length !== ins.args.replace(/\s/g, '').length) throw new Error(`line ${ins.line}: ENV must be KEY=value pairs`);
  return out;
}

/** .dockerignore as Docker reads it: globs from the context root, `**`, `!` exceptions, last match wins. */
function dockerignore(text: string): (p: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pat = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      const rx = pat
        .split(/(\*\*|\*|\?)/)
        .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('');
      return { negate, re: new RegExp(`^${rx}$`) };
    });
  return (p: string) => {
    const rel = path.posix.normalize(p).replace(/^\.\/+/, '').replace(/\/+$/, '');
    const prefixes = rel.split('/').map((_, i, a) => a.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const r of rules) if (prefixes.some((q) => r.re.test(q))) ignored = !r.negate;
    return ignored;
  };
}

const dockerfileText = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const instrs = parseDockerfile(dockerfileText);
const stages = stagesOf(instrs);
const isIgnored = dockerignore(readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));
const startSh = readFileSync(path.join(ROOT, 'docker/start.sh'), 'utf8');
const stage = (name: string): Stage => {
  const s = stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};
const runs = (s: Stage): string[] => s.body.filter((i) => i.keyword === 'RUN').map((i) => i.args);

describe('the lint itself', () => {
  it('reads continuations, comments, FROM … AS, COPY flags and JSON forms, ENV pairs', () => {
    const ins = parseDockerfile('# c\nFROM a:1.2.3 AS x\nRUN one \\\n  # inner comment\n  two\nCOPY --from=x --chown=1:1 /a /b ./\nCOPY ["a b", "c"]\nENV A=1 B="x y"\n');
    expect(ins.map((i) => i.keyword)).toEqual(['FROM', 'RUN', 'COPY', 'COPY', 'ENV']);
    expect(ins[1]!.args).toBe('one two');
    expect(copyParts(ins[2]!)).toEqual({ flags: { from: 'x', chown: '1:1' }, sources: ['/a', '/b'], dest: './' });
    expect(copyParts(ins[3]!).sources).toEqual(['a b']);
    expect(envPairs(ins[4]!)).toEqual({ A: '1', B: 'x y' });
    expect(stagesOf(ins)[0]).toMatchObject({ name: 'x', image: 'a:1.2.3' });
    expect(() => parseDockerfile('RUN a \\\n')).toThrow(/continuation/);
  });
  it('tells pinned references from floating ones', () => {
    for (const ok of ['node:24.11.1-bookworm-slim', 'alpine:3.20.3', 'nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04', `busybox@sha256:${'a'.repeat(64)}`, 'reg.io:5000/x/y:1.0.0'])
      expect(pinned(ok), ok).toBe(true);
    for (const bad of ['node', 'node:latest', 'node:24', 'node:lts-bookworm-slim', 'alpine:3.20', 'reg.io:5000/x/y', '${BASE_IMAGE}', 'nvidia/cuda:12.4-runtime'])
      expect(pinned(bad), bad).toBe(false);
  });
  it('matches .dockerignore patterns as Docker does', () => {
    const ig = dockerignore('node_modules\n*.md\ndocs/**\n!docs/keep.md\n/dist\n');
    expect(ig('node_modules/x/y.js')).toBe(true);
    expect(ig('README.md')).toBe(true);
    expect(ig('handler/README.md')).toBe(false); // `*` does not cross a slash
    expect(ig('docs/a/b.md')).toBe(true);
    expect(ig('docs/keep.md')).toBe(false);
    expect(ig('dist/handler/main.js')).toBe(true);
    expect(ig('handler/main.ts')).toBe(false);
  });
});

describe('Dockerfile', () => {
  it('has named stages build → model → runtime, the runtime one last', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'model', 'runtime']);
    expect(new Set(stages.map((s) => s.name)).size).toBe(stages.length);
  });

  it('pins every base image to an exact version tag or a digest (never latest, never untagged)', () => {
    const names = new Set<string>();
    for (const s of stages) {
      const isStage = names.has(s.image);
      expect(isStage || pinned(s.image), `line ${s.line}: FROM ${s.image} is not pinned`).toBe(true);
      expect(s.image).not.toMatch(/:latest(@|$)/);
      if (s.name) names.add(s.name);
    }
    expect(stage('build').image).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim$/);
    expect(stage('runtime').image).toMatch(/^nvidia\/cuda:\d+\.\d+\.\d+-cudnn\d*-runtime-ubuntu22\.04$/);
  });

  it('takes every COPY/ADD source from the repository (present, not in .dockerignore) or from a stage above', () => {
    const defined = new Set<string>();
    let copies = 0;
    for (const s of stages) {
      for (const ins of s.body.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
        copies++;
        const { flags, sources } = copyParts(ins);
        if (flags.from !== undefined) {
          expect(defined.has(flags.from), `line ${ins.line}: --from=${flags.from} is not a stage defined above`).toBe(true);
          for (const src of sources) expect(src, `line ${ins.line}`).toMatch(/^\//);
          continue;
        }
        for (const src of sources) {
          expect(src, `line ${ins.line}: ${ins.keyword} from a URL or an absolute path`).not.toMatch(/^(https?:|git@|\/)/);
          // Explicit paths only: a wildcard could silently match nothing (or too much).
          expect(src, `line ${ins.line}: wildcard source`).not.toMatch(/[*?[]/);
          expect(existsSync(path.join(ROOT, src)), `line ${ins.line}: ${src} is not in the repository`).toBe(true);
          expect(isIgnored(src), `line ${ins.line}: ${src} is excluded by .dockerignore`).toBe(false);
        }
      }
      if (s.name) defined.add(s.name);
    }
    expect(copies).toBeGreaterThan(5);
  });

  it('build stage: npm ci, npm run build, then npm prune --omit=dev', () => {
    const r = runs(stage('build')).join(' && ');
    const at = (needle: string): number => {
      const i = r.indexOf(needle);
      expect(i, `${needle} missing from the build stage`).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(at('npm ci')).toBeLessThan(at('npm run build'));
    expect(at('npm run build')).toBeLessThan(at('npm prune --omit=dev'));
    // What `npm run build` (tsc -p tsconfig.json) needs; dist/ then holds the schemas the handler imports.
    const copied = stage('build').body.filter((i) => i.keyword === 'COPY').flatMap((i) => copyParts(i).sources);
    for (const need of ['package.json', 'package-lock.json', 'tsconfig.json', 'handler', 'schemas']) expect(copied).toContain(need);
    expect(readFileSync(path.join(ROOT, 'handler/a1111/openapi.ts'), 'utf8')).toMatch(/from '\.\.\/\.\.\/schemas\/txt2img\.json'/);
  });

  it('model stage: downloads ARG MODEL_URL to /model.safetensors, or leaves an empty placeholder', () => {
    const m = stage('model');
    expect(pinned(m.image)).toBe(true);
    expect(m.body.some((i) => i.keyword === 'ARG' && /^MODEL_URL(=|$)/.test(i.args))).toBe(true);
    const r = runs(m).join(' ');
    expect(r).toMatch(/\$MODEL_URL|\$\{MODEL_URL\}/);
    expect(r).toMatch(/-o \/model\.safetensors/);
    expect(r).toMatch(/(: >|touch) \/model\.safetensors/);
  });

  it('runtime stage: Python 3.10 + venv + git, A1111 v1.10.1 by commit, the stablediffusion fork, requirements at build time', () => {
    const rt = stage('runtime');
    const r = runs(rt).join('\n');
    expect(r).toMatch(/apt-get install[^\n]*\bpython3\.10\b/);
    expect(r).toMatch(/apt-get install[^\n]*\bpython3\.10-venv\b/);
    expect(r).toMatch(/apt-get install[^\n]*\bgit\b/);
    expect(r).toMatch(/git clone https:\/\/github\.com\/AUTOMATIC1111\/stable-diffusion-webui\.git/);
    expect(r).toContain('git checkout 82a973c04367123ae98bd9abdf80d9eda9b910e2');
    const env = Object.assign({}, ...rt.body.filter((i) => i.keyword === 'ENV').map(envPairs)) as Record<string, string>;
    expect(env.STABLE_DIFFUSION_REPO).toBe('https://github.com/w-e-w/stablediffusion.git');
    expect(env.STABLE_DIFFUSION_COMMIT_HASH).toBe('f16630a927e00098b524d687640719e4eb469b76');
    // The prepare step (launch.py … --exit) installs at build time; the run time skips it (--skip-install).
    const prepare = runs(rt).find((x) => /launch\.py/.test(x));
    expect(prepare).toBeDefined();
    expect(prepare).toMatch(/--exit\b/);
    expect(prepare).toMatch(/--skip-torch-cuda-test\b/);
    expect(prepare).not.toMatch(/--skip-install\b/);
  });

  it('runtime stage: Node from the build stage, the worker, the baked model, test_input.json, CMD /start.sh', () => {
    const rt = stage('runtime');
    const copies = rt.body.filter((i) => i.keyword === 'COPY').map(copyParts);
    const has = (from: string | undefined, src: string, dest: RegExp): boolean =>
      copies.some((c) => c.flags.from === from && c.sources.includes(src) && dest.test(c.dest));
    expect(has('build', '/usr/local/bin/node', /^\/usr\/local\/bin\/node$/)).toBe(true);
    expect(has('build', '/app/dist', /dist$/)).toBe(true);
    expect(has('build', '/app/node_modules', /node_modules$/)).toBe(true);
    expect(has('build', '/app/package.json', /package\.json$/)).toBe(true); // "type": "module" for dist/*.js
    expect(has('model', '/model.safetensors', /^\/model\.safetensors$/)).toBe(true);
    expect(has(undefined, 'test_input.json', /test_input\.json$/)).toBe(true);
    expect(has(undefined, 'docker/start.sh', /^\/start\.sh$/)).toBe(true);
    const cmd = rt.body.filter((i) => i.keyword === 'CMD');
    expect(cmd).toHaveLength(1);
    expect(JSON.parse(cmd[0]!.args)).toEqual(['/start.sh']);
    const ep = rt.body.filter((i) => i.keyword === 'ENTRYPOINT');
    if (ep.length) expect(JSON.parse(ep[0]!.args)).toEqual(['/usr/bin/tini', '--']); // signals to the worker only, no -g
  });
});

describe('.dockerignore', () => {
  it('keeps dependencies, build output, VCS data, tests and local artefacts out of the build context', () => {
    for (const p of ['node_modules/axios/index.js', 'dist/handler/main.js', 'output/run-0.png', '.git/HEAD', 'tests/unit/x.test.ts', 'worker.log', 'bench/RESULTS.md'])
      expect(isIgnored(p), p).toBe(true);
    for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'handler/main.ts', 'schemas/txt2img.json', 'docker/start.sh', 'test_input.json'])
      expect(isIgnored(p), p).toBe(false);
  });
});

describe('docker/start.sh (static)', () => {
  it('is an executable bash script with strict mode', () => {
    expect(startSh.startsWith('#!/usr/bin/env bash\n') || startSh.startsWith('#!/bin/bash\n')).toBe(true);
    expect(startSh).toMatch(/^set -euo pipefail$/m);
    expect(statSync(path.join(ROOT, 'docker/start.sh')).mode & 0o111).not.toBe(0);
  });
  it('passes the headless flags of spec a1111 §2.1, and never --listen', () => {
    const block = /^headless=\(([^)]*)\)/m.exec(startSh);
    expect(block).not.toBeNull();
    const flags = block![1]!.split(/\s+/).filter(Boolean);
    for (const f of ['--api', '--nowebui', '--port', '--no-download-sd-model', '--skip-version-check', '--skip-python-version-check', '--skip-torch-cuda-test', '--skip-install'])
      expect(flags).toContain(f);
    expect(flags).not.toContain('--listen');
    expect(flags).not.toContain('--share');
  });
  it('exports A1111_PID and execs the worker', () => {
    expect(startSh).toMatch(/^export A1111_PID$/m);
    expect(startSh).toMatch(/^exec "\$\{worker\[@\]\}" "\$@"$/m);
    expect(startSh).toContain('node $WORKER_DIR/dist/handler/main.js');
  });
});
