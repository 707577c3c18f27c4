/**
 * Lint of the Dockerfile, .dockerignore and docker/start.sh, written in TS because no Docker engine runs here
 * (issue 7 item 1): every FROM pinned to an exact version tag or a digest (never `latest`, never untagged), every
 * stage named, every COPY/ADD source present in the repository and not excluded by .dockerignore (or taken
 * `--from=` a stage defined above), every `git clone` pinned to a 40-hex commit (a checkout of an ARG whose default
 * is 40 hex), A1111 v1.10.1 pinned by commit with the maintained Stable Diffusion fork, the variants (BACKEND
 * a1111|forge, CUDA cu121|cu128: `FROM <prefix>-${ARG}` picks a stage above), the ControlNet / ADetailer extensions,
 * requirements installed at build time, and start.sh's headless flags.
 */
import { readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WORKER_MALLOC_ENV, WORKER_NODE_FLAGS } from '../../handler/runpod/worker/launch.js';
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

/** `ARG NAME[=default]` → [NAME, default]; the default unquoted (undefined when there is none). */
function argOf(ins: Instruction): [string, string | undefined] {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/s.exec(ins.args);
  if (!m) throw new Error(`line ${ins.line}: cannot read ARG ${ins.args}`);
  const v = m[2];
  return [m[1]!, v === undefined ? undefined : /^"(.*)"$/s.test(v) ? (JSON.parse(v) as string) : v];
}

/** The ARGs declared before the first FROM (usable in FROM lines), with their defaults. */
const globalArgs = new Map(instrs.slice(0, instrs.findIndex((i) => i.keyword === 'FROM')).filter((i) => i.keyword === 'ARG').map(argOf));
/** The ARGs a stage declares, with their defaults (a bare `ARG NAME` takes the global default). */
const stageArgs = (s: Stage): Map<string, string | undefined> =>
  new Map(s.body.filter((i) => i.keyword === 'ARG').map(argOf).map(([k, v]): [string, string | undefined] => [k, v ?? globalArgs.get(k)]));

/** `FROM <image>` with `${NAME}` / `$NAME` replaced by the global ARGs' values (`values` wins over the defaults). */
function expandFrom(image: string, values: Record<string, string> = {}): string {
  return image.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a?: string, b?: string) => {
    const name = (a ?? b)!;
    if (!globalArgs.has(name)) throw new Error(`FROM ${image}: ${name} is not an ARG declared before the first FROM`);
    return values[name] ?? globalArgs.get(name) ?? '';
  });
}

/**
 * The `git clone URL DIR` commands of a RUN and the ref each DIR is then checked out at (`git -C DIR checkout REF`,
 * REF a literal or "$ARG"); a clone without a checkout gets ref undefined.
 */
function clones(run: string): { url: string; dir: string; ref: string | undefined }[] {
  const out: { url: string; dir: string; ref: string | undefined }[] = [];
  for (const m of run.matchAll(/git clone\s+(?:--[\w-]+(?:=\S+)?\s+)*(\S+)\s+(\S+)/g)) {
    const dir = m[2]!.replace(/^"|"$/g, '');
    const esc = dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const co = new RegExp(`git -C "?${esc}"? checkout ("[^"]*"|[^\\s;&|]+)`).exec(run.slice(m.index));
    out.push({ url: m[1]!, dir, ref: co?.[1]!.replace(/^"|"$/g, '') });
  }
  return out;
}

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
    expect(argOf({ line: 1, keyword: 'ARG', args: 'A="x y"' })).toEqual(['A', 'x y']);
    expect(argOf({ line: 1, keyword: 'ARG', args: 'B' })).toEqual(['B', undefined]);
  });
  it('finds each git clone and the commit its folder is checked out at', () => {
    expect(clones('git clone https://x/a.git /a && git -C /a checkout "$A_COMMIT" && git clone --depth=1 https://x/b.git b')).toEqual([
      { url: 'https://x/a.git', dir: '/a', ref: '$A_COMMIT' },
      { url: 'https://x/b.git', dir: 'b', ref: undefined },
    ]);
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
  it('has named stages build → model → extension models → CUDA bases → system → web UIs → runtime, the runtime one last', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'model', 'extension-models', 'cuda-cu121', 'cuda-cu128', 'system', 'webui-a1111', 'webui-forge', 'runtime']);
    expect(new Set(stages.map((s) => s.name)).size).toBe(stages.length);
  });

  it('pins every base image to an exact version tag or a digest (never latest, never untagged)', () => {
    const names = new Set<string>();
    for (const s of stages) {
      if (s.image.includes('$')) {
        // A variant: `FROM <prefix>-${ARG}` names a stage above for the default and for every stage of that prefix.
        const prefix = s.image.slice(0, s.image.indexOf('$'));
        expect(prefix, `line ${s.line}: FROM ${s.image}`).toMatch(/^[a-z0-9]+-$/);
        expect(names.has(expandFrom(s.image)), `line ${s.line}: FROM ${s.image} with the default ARGs is no stage above`).toBe(true);
      } else {
        expect(names.has(s.image) || pinned(s.image), `line ${s.line}: FROM ${s.image} is not pinned`).toBe(true);
      }
      expect(s.image).not.toMatch(/:latest(@|$)/);
      if (s.name) names.add(s.name);
    }
    expect(stage('build').image).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim$/);
    expect(stage('cuda-cu121').image).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn\d*-runtime-ubuntu22\.04$/);
    expect(stage('cuda-cu128').image).toMatch(/^nvidia\/cuda:12\.([89]|\d\d)\.\d+-cudnn\d*-runtime-ubuntu22\.04$/);
    expect(stage('system').image).toBe('cuda-${CUDA}');
    expect(stage('runtime').image).toBe('webui-${BACKEND}');
  });

  it('selects the variants by global ARGs: BACKEND a1111|forge (default a1111), CUDA cu121|cu128 (default cu121)', () => {
    expect(globalArgs.get('BACKEND')).toBe('a1111');
    expect(globalArgs.get('CUDA')).toBe('cu121');
    const names = new Set(stages.map((s) => s.name));
    for (const backend of ['a1111', 'forge']) expect(names.has(expandFrom(stage('runtime').image, { BACKEND: backend }))).toBe(true);
    for (const cuda of ['cu121', 'cu128']) expect(names.has(expandFrom(stage('system').image, { CUDA: cuda }))).toBe(true);
    // The image tells start.sh which backend it holds, and where.
    const rt = stage('runtime');
    expect(stageArgs(rt).get('BACKEND')).toBe('a1111');
    const env = Object.assign({}, ...rt.body.filter((i) => i.keyword === 'ENV').map(envPairs)) as Record<string, string>;
    expect(env.BACKEND).toBe('${BACKEND}');
    expect(env.A1111_DIR).toBe('/stable-diffusion-webui');
    expect(startSh).toMatch(/A1111_DIR="\$\{A1111_DIR:-\/stable-diffusion-webui\}"/);
    expect(runs(rt).join('\n')).toMatch(/case "\$BACKEND" in a1111\|forge\) ;; \*\).*exit 1/);
  });

  it('cu128: CUDA 12.8 base and torch >= 2.7.0 built for cu128 (Blackwell sm_120); cu121 keeps the web UI\'s own torch pin', () => {
    const env = (s: Stage): Record<string, string> => Object.assign({}, ...s.body.filter((i) => i.keyword === 'ENV').map(envPairs)) as Record<string, string>;
    const cmd = env(stage('cuda-cu128')).TORCH_COMMAND ?? '';
    const torch = /\btorch==(\d+)\.(\d+)\.(\d+)\b/.exec(cmd);
    expect(torch, cmd).not.toBeNull();
    expect(Number(torch![1]) * 100 + Number(torch![2])).toBeGreaterThanOrEqual(207);
    expect(cmd).toMatch(/\btorchvision==\d+\.\d+\.\d+\b/);
    expect(cmd).toContain('https://download.pytorch.org/whl/cu128');
    expect(env(stage('cuda-cu121')).TORCH_COMMAND).toBeUndefined();
  });

  it('pins every git clone to a 40-hex commit (a checkout of an ARG whose default is 40 hex)', () => {
    let n = 0;
    for (const s of stages) {
      const args = stageArgs(s);
      for (const r of runs(s)) {
        for (const c of clones(r)) {
          n++;
          expect(c.url, `${s.name}: ${c.url}`).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/);
          expect(c.ref, `${s.name}: ${c.url} is not checked out at a commit`).toBeDefined();
          const arg = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(c.ref!)?.[1];
          const commit = arg === undefined ? c.ref : args.get(arg);
          expect(commit, `${s.name}: ${c.url} at ${c.ref}`).toMatch(/^[0-9a-f]{40}$/);
        }
      }
    }
    expect(n).toBe(4); // A1111, Forge, ControlNet, ADetailer
  });

  it('web UIs: A1111 v1.10.1 with the maintained stablediffusion fork; Forge at a pinned commit, with ControlNet built in', () => {
    const a = stage('webui-a1111');
    const ca = clones(runs(a).join('\n'));
    expect(ca.map((c) => [c.url, c.dir])).toEqual([['https://github.com/AUTOMATIC1111/stable-diffusion-webui.git', '/stable-diffusion-webui']]);
    expect(stageArgs(a).get('A1111_COMMIT')).toBe('82a973c04367123ae98bd9abdf80d9eda9b910e2');
    const env = Object.assign({}, ...a.body.filter((i) => i.keyword === 'ENV').map(envPairs)) as Record<string, string>;
    expect(env.STABLE_DIFFUSION_REPO).toBe('https://github.com/w-e-w/stablediffusion.git');
    expect(env.STABLE_DIFFUSION_COMMIT_HASH).toBe('f16630a927e00098b524d687640719e4eb469b76');
    const f = stage('webui-forge');
    expect(clones(runs(f).join('\n')).map((c) => [c.url, c.dir])).toEqual([['https://github.com/lllyasviel/stable-diffusion-webui-forge.git', '/stable-diffusion-webui']]);
    expect(stageArgs(f).get('FORGE_COMMIT')).toMatch(/^[0-9a-f]{40}$/);
  });

  it('extensions: ControlNet (A1111 only) and ADetailer in $A1111_DIR/extensions/<name>; optional baked models', () => {
    const rt = stage('runtime');
    const r = runs(rt).join('\n');
    const cs = clones(r);
    const cn = cs.find((c) => c.url === 'https://github.com/Mikubill/sd-webui-controlnet.git');
    const ad = cs.find((c) => c.url === 'https://github.com/Bing-su/adetailer.git');
    expect(cn?.dir).toBe('extensions/sd-webui-controlnet');
    expect(ad?.dir).toBe('extensions/adetailer');
    expect(rt.body.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/stable-diffusion-webui');
    // ControlNet is cloned for A1111 only: Forge ships it (extensions-builtin/sd_forge_controlnet), checked instead.
    expect(r).toMatch(/if \[ "\$BACKEND" = a1111 \]; then git clone https:\/\/github\.com\/Mikubill\/sd-webui-controlnet\.git[^;]*; else test -d extensions-builtin\/sd_forge_controlnet; fi/);
    for (const a of ['CONTROLNET_COMMIT', 'ADETAILER_COMMIT']) expect(stageArgs(rt).get(a), a).toMatch(/^[0-9a-f]{40}$/);
    // Optional models: empty by default, downloaded in their own stage, copied into the folders the extensions read.
    const em = stage('extension-models');
    expect(pinned(em.image)).toBe(true);
    for (const a of ['CONTROLNET_MODELS', 'ADETAILER_MODELS']) expect(stageArgs(em).get(a), a).toBe('');
    const er = runs(em).join(' ');
    expect(er).toMatch(/\$CONTROLNET_MODELS/);
    expect(er).toMatch(/\$ADETAILER_MODELS/);
    const copies = rt.body.filter((i) => i.keyword === 'COPY').map(copyParts);
    for (const dir of ['ControlNet', 'adetailer'])
      expect(copies.some((c) => c.flags.from === 'extension-models' && c.sources[0] === `/models/${dir}/` && c.dest === `/stable-diffusion-webui/models/${dir}/`), dir).toBe(true);
    // ADetailer's default detectors are fetched into the HF cache at build time (nothing downloaded at start).
    expect(stageArgs(rt).get('ADETAILER_HF_MODELS')).toMatch(/face_yolov8n\.pt/);
    expect(r).toMatch(/hf_hub_download/);
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
    for (const need of ['package.json', 'package-lock.json', 'tsconfig.json', 'handler', 'schemas', 'playground', 'test_input.json']) expect(copied).toContain(need);
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

  it('system stage: Python 3.10 + venv + git; runtime stage: requirements (extensions\' too) installed at build time', () => {
    const r = runs(stage('system')).join('\n');
    expect(r).toMatch(/apt-get install[^\n]*\bpython3\.10\b/);
    expect(r).toMatch(/apt-get install[^\n]*\bpython3\.10-venv\b/);
    expect(r).toMatch(/apt-get install[^\n]*\bgit\b/);
    // The prepare step (launch.py … --exit) installs at build time, extensions' install.py included (so it must
    // come after the extensions are cloned); the run time skips it (--skip-install).
    const rt = runs(stage('runtime'));
    const prepareAt = rt.findIndex((x) => /launch\.py/.test(x));
    const prepare = rt[prepareAt];
    expect(prepare).toBeDefined();
    expect(prepare).toMatch(/--exit\b/);
    expect(prepare).toMatch(/--skip-torch-cuda-test\b/);
    expect(prepare).not.toMatch(/--skip-install\b/);
    expect(rt.findIndex((x) => /adetailer\.git/.test(x))).toBeLessThan(prepareAt);
    expect(prepare).toMatch(/import ultralytics, mediapipe/);
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
  it('passes the headless flags of A1111 `modules/cmd_args.py` (docs/a1111-api.md, "Launch flags relevant to a headless API server"), and never --listen', () => {
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
    expect(startSh).toContain(`heap_flags="${WORKER_NODE_FLAGS.join(' ')}"`);
    expect(startSh).toContain('node $heap_flags $WORKER_DIR/dist/handler/main.js');
  });
  it('launches the worker with the V8 flags and glibc malloc settings of launch.ts, as `npm start` does', () => {
    // large-result-gc.ts: a full collection after large results pays off only with the raised old generation.
    const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
    const malloc = Object.entries(WORKER_MALLOC_ENV).map(([k, v]) => `${k}=\${${k}:-${v}}`);
    expect(start).toBe(`${malloc.join(' ')} node ${WORKER_NODE_FLAGS.join(' ')} dist/handler/main.js`);
    // start.sh: the same settings, exported after the last A1111 was started (they are the worker's only).
    const exec = startSh.indexOf('exec "${worker[@]}"');
    for (const [k, v] of Object.entries(WORKER_MALLOC_ENV)) {
      const at = startSh.indexOf(`export ${k}="\${${k}:-${v}}"`);
      expect(at, k).toBeGreaterThan(startSh.lastIndexOf('start_a1111 '));
      expect(at, k).toBeLessThan(exec);
    }
    expect(startSh).toContain(`WORKER_CMD [node ${WORKER_NODE_FLAGS.join(' ')} /app/dist/handler/main.js]`);
  });
});
