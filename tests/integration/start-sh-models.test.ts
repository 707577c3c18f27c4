/**
 * `docker/start.sh`'s model folders and backends, run for real with a temp dir standing in for the network volume
 * (`A1111_VOLUME`) and for A1111's folder (`A1111_DIR`, where the extensions live), a fake launcher that checks its
 * flags the way the backend's argparse would (A1111 exits 2 on a flag nothing defines; Forge exits 0 on A1111's
 * memory flags) and a fake worker: each `<volume>/models/<folder>` that exists goes to the backend by its flag
 * (ADetailer's models as links), a missing one is one log line and never an error, `MODELS_DEBUG=true` lists every
 * folder, and `BACKEND=forge` gets Forge's flags. Then the simulator, in each backend's flavor, serves a job started
 * through start.sh.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/fixtures.js';
import { MAIN, ROOT } from '../helpers/worker-process.js';

const START_SH = path.join(ROOT, 'docker/start.sh');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs start.sh with exactly `env` (plus PATH); resolves when the script exits and (unless `exitOnly`) its output closed. */
function runStartSh(env: Record<string, string>, args: string[] = [], exitOnly = false): Promise<Run> {
  const child = spawn('bash', [START_SH, ...args], { cwd: os.tmpdir(), env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`start.sh did not finish in 20 s:\n${stdout}\n${stderr}`));
    }, 20_000);
    child.on(exitOnly ? 'exit' : 'close', (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** start.sh's own lines (`[start.sh] …`), without the prefix. */
const own = (out: string): string[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('[start.sh] '))
    .map((l) => l.slice('[start.sh] '.length));

/** The JSON the fake launcher prints after `ARGV `. */
function argvOf(out: string): string[] {
  const m = /^\[a1111\] ARGV (.*)$/m.exec(out);
  if (!m) throw new Error(`no ARGV line in:\n${out}`);
  return JSON.parse(m[1]!) as string[];
}

const after = (argv: string[], flag: string): string | undefined => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);

// Flags each backend's argparse defines (A1111 v1.10.1 modules/cmd_args.py + the built-in Lora extension's preload;
// Forge's modules/cmd_args.py + backend/args.py + sd_forge_lora's preload), the ones start.sh may pass. A flag outside
// the list is an argparse error (exit 2), as in A1111's shared_cmd_options.py (parser.parse_args()).
const COMMON = [
  '--api', '--nowebui', '--no-download-sd-model', '--skip-version-check', '--skip-python-version-check', '--skip-torch-cuda-test',
  '--skip-install', '--port', '--ckpt', '--ckpt-dir', '--lora-dir', '--vae-dir', '--embeddings-dir', '--api-auth', '--no-hashing',
  '--xformers', '--opt-sdp-attention', '--medvram', '--medvram-sdxl', '--lowvram',
];
const FORGE_ONLY = ['--controlnet-dir', '--always-offload-from-vram', '--attention-pytorch', '--cuda-malloc', '--pin-shared-memory'];

let dir: string;
let fakeLauncher: string;
let fakeWorker: string;
let simLauncher: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'start-sh-models-'));
  // The fake backend: BACKEND from the environment start.sh passes on (the image sets it); --controlnet-dir is an
  // A1111 flag only when the sd-webui-controlnet extension (its preload) is in <cwd>/extensions.
  const check = [
    "const argv = process.argv.slice(2);",
    "const forge = (process.env.BACKEND ?? '') === 'forge';",
    `const known = new Set(${JSON.stringify(COMMON)});`,
    `if (forge) for (const f of ${JSON.stringify(FORGE_ONLY)}) known.add(f);`,
    "else if (fs.existsSync(path.join(process.cwd(), 'extensions/sd-webui-controlnet'))) known.add('--controlnet-dir');",
    "console.log('ARGV ' + JSON.stringify(argv));",
    "for (const bad of ['--lowvram', '--medvram', '--medvram-sdxl']) if (forge && argv.includes(bad)) { console.log(`Arg ${bad} is removed in Forge.`); process.exit(0); }",
    "const unknown = argv.filter((a) => a.startsWith('--') && !known.has(a));",
    "if (unknown.length > 0) { console.error('webui.py: error: unrecognized arguments: ' + unknown.join(' ')); process.exit(2); }",
  ];
  fakeLauncher = path.join(dir, 'fake-backend.mjs');
  writeFileSync(fakeLauncher, ["import fs from 'node:fs';", "import path from 'node:path';", ...check, "console.log('FLAGS OK');"].join('\n'));
  fakeWorker = path.join(dir, 'fake-worker.mjs');
  writeFileSync(fakeWorker, "console.log('WORKER ' + JSON.stringify({ a1111Pid: process.env.A1111_PID }));\n");
  // The simulator in the backend's flavor, after the same flag check, on the --port start.sh passes.
  simLauncher = path.join(dir, 'sim-backend.mjs');
  writeFileSync(
    simLauncher,
    [
      "import fs from 'node:fs';",
      "import path from 'node:path';",
      `import { startSimulator } from ${JSON.stringify(path.join(ROOT, 'dist/sim/server.js'))};`,
      ...check,
      "const sim = await startSimulator({ port: Number(argv[argv.indexOf('--port') + 1]), stepMs: 1, flavor: forge ? 'forge' : 'a1111' });",
      "console.log('Uvicorn running on ' + sim.url + ' as ' + (forge ? 'forge' : 'a1111'));",
      "process.on('SIGTERM', () => { void sim.close().then(() => process.exit(0)); });",
    ].join('\n'),
  );
  mkdirSync(path.join(dir, 'app'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Layout {
  env: Record<string, string>;
  volume: string;
  a1111: string;
}

/**
 * A fresh A1111 folder (`forge`: with modules_forge; `extensions`: installed extension folders) and a volume with
 * the given files under `models/` (a path ending in `/` is an empty folder); `volume: false` → no volume at all.
 */
function layout(name: string, o: { files?: string[]; volume?: boolean; forge?: boolean; extensions?: string[]; baked?: boolean } = {}): Layout {
  const root = path.join(dir, name);
  const a1111 = path.join(root, 'a1111');
  const volume = path.join(root, 'volume');
  mkdirSync(path.join(a1111, 'modules'), { recursive: true });
  if (o.forge) mkdirSync(path.join(a1111, 'modules_forge'));
  for (const e of o.extensions ?? []) mkdirSync(path.join(a1111, 'extensions', e), { recursive: true });
  if (o.volume !== false) mkdirSync(volume);
  for (const f of o.files ?? []) {
    const p = path.join(volume, f);
    if (f.endsWith('/')) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, 'x');
    }
  }
  writeFileSync(path.join(root, 'model.safetensors'), o.baked ? 'a model' : '');
  return {
    volume,
    a1111,
    env: {
      A1111_DIR: a1111,
      A1111_VOLUME: volume,
      A1111_BAKED_CKPT: path.join(root, 'model.safetensors'),
      WORKER_DIR: path.join(dir, 'app'),
      A1111_LAUNCH: `${process.execPath} ${fakeLauncher}`,
      WORKER_CMD: `${process.execPath} ${fakeWorker}`,
      ...(o.forge ? { BACKEND: 'forge' } : {}),
    },
  };
}

const ALL_FOLDERS = [
  'models/Stable-diffusion/sdxl.safetensors',
  'models/Lora/detail.safetensors',
  'models/VAE/sdxl_vae.safetensors',
  'models/embeddings/easynegative.pt',
  'models/ControlNet/control_canny.safetensors',
  'models/adetailer/face_yolov8m.pt',
  'models/adetailer/hands/hand_yolov9c.pth',
  'models/adetailer/README.txt',
];

describe('start.sh model folders (BACKEND=a1111)', () => {
  it('every volume folder → its flag; ControlNet with the extension; ADetailer models linked into A1111’s models/adetailer', async () => {
    const l = layout('all', { files: ALL_FOLDERS, extensions: ['sd-webui-controlnet', 'adetailer'] });
    const r = await runStartSh(l.env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[a1111] FLAGS OK');
    const argv = argvOf(r.stdout);
    const m = path.join(l.volume, 'models');
    expect(after(argv, '--ckpt-dir')).toBe(path.join(m, 'Stable-diffusion'));
    expect(after(argv, '--lora-dir')).toBe(path.join(m, 'Lora'));
    expect(after(argv, '--vae-dir')).toBe(path.join(m, 'VAE'));
    expect(after(argv, '--embeddings-dir')).toBe(path.join(m, 'embeddings'));
    expect(after(argv, '--controlnet-dir')).toBe(path.join(m, 'ControlNet'));
    // ADetailer has no flag: its .pt/.pth models (subfolders too) are linked by name; other files are not.
    const ad = path.join(l.a1111, 'models/adetailer');
    expect(readlinkSync(path.join(ad, 'face_yolov8m.pt'))).toBe(path.join(m, 'adetailer/face_yolov8m.pt'));
    expect(readlinkSync(path.join(ad, 'hand_yolov9c.pth'))).toBe(path.join(m, 'adetailer/hands/hand_yolov9c.pth'));
    expect(existsSync(path.join(ad, 'README.txt'))).toBe(false);
    const lines = own(r.stdout);
    expect(lines).toContain('backend: A1111 (' + l.a1111 + '; BACKEND=unset, detected)');
    expect(lines).toContain(`models: LoRAs: ${path.join(m, 'Lora')} (--lora-dir)`);
    expect(lines).toContain(`models: ControlNet: ${path.join(m, 'ControlNet')} (--controlnet-dir)`);
    expect(lines).toContain(`models: ADetailer: ${path.join(m, 'adetailer')} → 2 models linked into ${ad}`);
    expect(lines.join('\n')).not.toMatch(/models debug/);

    // Started again (a restarted container): the links are there already, nothing fails, the same count.
    const again = await runStartSh(l.env);
    expect(again.code).toBe(0);
    expect(own(again.stdout)).toContain(`models: ADetailer: ${path.join(m, 'adetailer')} → 2 models linked into ${ad}`);
  });

  it('ControlNet or ADetailer not installed: the folder is found but not used, said in one line; no --controlnet-dir (A1111 would refuse it)', async () => {
    const l = layout('no-ext', { files: ALL_FOLDERS });
    const r = await runStartSh(l.env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[a1111] FLAGS OK');
    expect(argvOf(r.stdout)).not.toContain('--controlnet-dir');
    const m = path.join(l.volume, 'models');
    expect(own(r.stdout)).toContain(`models: ${path.join(m, 'ControlNet')} found, but ControlNet is not installed (${path.join(l.a1111, 'extensions/sd-webui-controlnet')}): not used.`);
    expect(own(r.stdout)).toContain(`models: ${path.join(m, 'adetailer')} found, but ADetailer is not installed (${path.join(l.a1111, 'extensions/adetailer')}): not used.`);
    expect(existsSync(path.join(l.a1111, 'models/adetailer'))).toBe(false);
  });

  it('missing folders: one log line each, no flag, A1111 and the worker still start', async () => {
    const l = layout('missing', { files: ['models/Stable-diffusion/a.safetensors'], extensions: ['sd-webui-controlnet', 'adetailer'] });
    const r = await runStartSh(l.env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^WORKER /m);
    const argv = argvOf(r.stdout);
    for (const f of ['--lora-dir', '--vae-dir', '--embeddings-dir', '--controlnet-dir']) expect(argv).not.toContain(f);
    const m = path.join(l.volume, 'models');
    const lines = own(r.stdout);
    expect(lines).toContain(`models: no ${m}/Lora: LoRAs from ${l.a1111}/models/Lora only.`);
    expect(lines).toContain(`models: no ${m}/VAE: VAEs from ${l.a1111}/models/VAE only.`);
    expect(lines).toContain(`models: no ${m}/embeddings (nor ${l.volume}/embeddings): embeddings from ${l.a1111}/embeddings only.`);
    expect(lines).toContain(`models: no ${m}/ControlNet: ControlNet models from ${l.a1111}/models/ControlNet only.`);
    expect(lines).toContain(`models: no ${m}/adetailer: ADetailer models from ${l.a1111}/models/adetailer only.`);
  });

  it('no network volume at all: one line, the image’s models only; a volume without models/: one line', async () => {
    const l = layout('no-volume', { volume: false, baked: true });
    const r = await runStartSh(l.env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(own(r.stdout).filter((x) => x.startsWith('models:'))).toEqual([`models: no network volume at ${l.volume}: only the image's models (in ${l.a1111}/models).`]);
    const e = layout('empty-volume', { baked: true });
    const r2 = await runStartSh(e.env);
    expect(r2.code).toBe(0);
    expect(own(r2.stdout).filter((x) => x.startsWith('models:'))).toEqual([`models: network volume at ${e.volume}, but no ${e.volume}/models folder: only the image's models (in ${e.a1111}/models).`]);
  });

  it('embeddings: models/embeddings, else <volume>/embeddings (the earlier layout)', async () => {
    const legacy = layout('emb-legacy', { files: ['embeddings/x.pt'] });
    mkdirSync(path.join(legacy.volume, 'models'));
    expect(after(argvOf((await runStartSh(legacy.env)).stdout), '--embeddings-dir')).toBe(path.join(legacy.volume, 'embeddings'));
    const both = layout('emb-both', { files: ['embeddings/x.pt', 'models/embeddings/y.pt'] });
    expect(after(argvOf((await runStartSh(both.env)).stdout), '--embeddings-dir')).toBe(path.join(both.volume, 'models/embeddings'));
  });

  it('ADetailer: a model of the same name in the image is kept, not replaced', async () => {
    const l = layout('ad-kept', { files: ['models/adetailer/face_yolov8n.pt', 'models/adetailer/person.pt'], extensions: ['adetailer'] });
    const ad = path.join(l.a1111, 'models/adetailer');
    mkdirSync(ad, { recursive: true });
    writeFileSync(path.join(ad, 'face_yolov8n.pt'), 'baked');
    const r = await runStartSh(l.env);
    expect(r.code).toBe(0);
    expect(lstatSync(path.join(ad, 'face_yolov8n.pt')).isSymbolicLink()).toBe(false);
    expect(lstatSync(path.join(ad, 'person.pt')).isSymbolicLink()).toBe(true);
    expect(own(r.stdout)).toContain(`models: ADetailer: ${path.join(l.volume, 'models/adetailer')} → 1 models linked into ${ad} (1 of the same name already there, kept)`);
  });

  it('a folder named in another case (models/lora): a warning naming the right name', async () => {
    const l = layout('case', { files: ['models/lora/a.safetensors', 'models/Stable-diffusion/'] });
    const r = await runStartSh(l.env);
    expect(r.code).toBe(0);
    expect(argvOf(r.stdout)).not.toContain('--lora-dir');
    expect(own(r.stdout)).toContain(`warning: models: ${l.volume}/models/lora is not used: the folder must be named Lora (names are case-sensitive).`);
  });
});

describe('start.sh MODELS_DEBUG', () => {
  it('true: each folder of the volume and of the image, whether it exists, its files by extension, the first five names', async () => {
    const files = [
      ...['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `models/Stable-diffusion/${n}.safetensors`),
      'models/Stable-diffusion/old.ckpt',
      'models/Stable-diffusion/.hidden',
      'models/Lora/',
      'models/adetailer/sub/face.pt',
      'models/upscale/x.pth',
    ];
    const l = layout('debug', { files, baked: true, extensions: ['adetailer'] });
    mkdirSync(path.join(l.a1111, 'models/VAE'), { recursive: true });
    writeFileSync(path.join(l.a1111, 'models/VAE/vae.pt'), 'x');
    const r = await runStartSh({ ...l.env, MODELS_DEBUG: 'true' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const m = path.join(l.volume, 'models');
    const dbg = own(r.stdout).filter((x) => x.startsWith('models debug: '));
    expect(dbg).toEqual(
      expect.arrayContaining([
        `models debug: BACKEND=a1111, volume ${l.volume} (mounted)`,
        `models debug: baked checkpoint ${l.env.A1111_BAKED_CKPT}: 7 bytes`,
        `models debug: volume Stable-diffusion ${m}/Stable-diffusion: exists, 7 files (1 .ckpt, 6 .safetensors): a.safetensors, b.safetensors, c.safetensors, d.safetensors, e.safetensors, …`,
        `models debug: image Stable-diffusion ${l.a1111}/models/Stable-diffusion: missing`,
        `models debug: volume Lora ${m}/Lora: exists, empty`,
        `models debug: volume VAE ${m}/VAE: missing`,
        `models debug: image VAE ${l.a1111}/models/VAE: exists, 1 files (1 .pt): vae.pt`,
        `models debug: volume embeddings ${m}/embeddings: missing`,
        `models debug: image embeddings ${l.a1111}/embeddings: missing`,
        `models debug: volume ControlNet ${m}/ControlNet: missing`,
        `models debug: volume adetailer ${m}/adetailer: exists, 1 files (1 .pt): sub/face.pt`,
        `models debug: image adetailer ${l.a1111}/models/adetailer: exists, 1 files (1 .pt): face.pt`,
        `models debug: other folders in ${m} (not passed to A1111): upscale`,
      ]),
    );
    // Six kinds × (volume + image) + the header, the baked checkpoint and the other folders.
    expect(dbg).toHaveLength(15);
  });

  it('unset or false: no listing; no volume: every volume folder "missing"', async () => {
    const l = layout('debug-off', { files: ['models/Lora/a.safetensors'] });
    for (const v of [undefined, 'false', '0']) {
      const r = await runStartSh(v === undefined ? l.env : { ...l.env, MODELS_DEBUG: v });
      expect(own(r.stdout).join('\n')).not.toContain('models debug');
    }
    const nv = layout('debug-novol', { volume: false });
    const r = await runStartSh({ ...nv.env, MODELS_DEBUG: '1' });
    expect(r.code).toBe(0);
    expect(own(r.stdout)).toContain(`models debug: BACKEND=a1111, volume ${nv.volume} (not mounted)`);
    expect(own(r.stdout)).toContain(`models debug: volume Lora ${nv.volume}/models/Lora: missing`);
  });
});

describe('start.sh BACKEND=forge', () => {
  it('the same headless flags and model flags, --controlnet-dir without an extension (built in), Forge’s flag check passes', async () => {
    const l = layout('forge', { forge: true, files: ALL_FOLDERS, extensions: ['adetailer'] });
    const r = await runStartSh(l.env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[a1111] FLAGS OK');
    const argv = argvOf(r.stdout);
    for (const f of ['--api', '--nowebui', '--no-download-sd-model', '--skip-version-check', '--skip-python-version-check', '--skip-torch-cuda-test', '--skip-install']) expect(argv).toContain(f);
    const m = path.join(l.volume, 'models');
    expect(after(argv, '--ckpt-dir')).toBe(path.join(m, 'Stable-diffusion'));
    expect(after(argv, '--lora-dir')).toBe(path.join(m, 'Lora'));
    expect(after(argv, '--controlnet-dir')).toBe(path.join(m, 'ControlNet'));
    expect(argv).not.toContain('--xformers');
    expect(own(r.stdout)).toContain(`backend: Forge (${l.a1111}; BACKEND=forge)`);
    expect(existsSync(path.join(l.a1111, 'models/adetailer/face_yolov8m.pt'))).toBe(true);
  });

  it('A1111_EXTRA_ARGS: --medvram-sdxl / --medvram dropped and --lowvram → --always-offload-from-vram (Forge exits on them), A1111 attention flags dropped, the rest kept', async () => {
    const l = layout('forge-extra', { forge: true, baked: true });
    const r = await runStartSh({ ...l.env, A1111_EXTRA_ARGS: '--medvram-sdxl --xformers --no-hashing --lowvram --opt-sdp-attention --cuda-malloc --medvram' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[a1111] FLAGS OK');
    const argv = argvOf(r.stdout);
    expect(argv.slice(-3)).toEqual(['--no-hashing', '--always-offload-from-vram', '--cuda-malloc']);
    for (const f of ['--medvram-sdxl', '--medvram', '--lowvram', '--xformers', '--opt-sdp-attention']) expect(argv).not.toContain(f);
    const lines = own(r.stdout);
    expect(lines).toContain('A1111_EXTRA_ARGS: --medvram-sdxl dropped: Forge refuses it (its memory management is automatic).');
    expect(lines).toContain('A1111_EXTRA_ARGS: --lowvram → --always-offload-from-vram (Forge refuses --lowvram; this is its equivalent).');
    expect(lines.join('\n')).toMatch(/A1111_EXTRA_ARGS: --xformers dropped: Forge chooses its attention itself .*--attention-pytorch/);
  });

  it('detection and mismatches: unset → detected from modules_forge; forge on A1111, a1111 on Forge, an unknown BACKEND, a Forge flag for A1111 → exit 2, nothing started', async () => {
    const f = layout('forge-detect', { forge: true, baked: true });
    const { BACKEND: _set, ...unset } = f.env;
    void _set;
    const d = await runStartSh(unset);
    expect(d.code, d.stderr).toBe(0);
    expect(own(d.stdout)).toContain(`backend: Forge (${f.a1111}; BACKEND=unset, detected)`);
    const a = layout('a1111-detect', { baked: true });
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...a.env, BACKEND: 'forge' }, /error: BACKEND=forge but .* is A1111 \(no modules_forge folder\): set BACKEND=a1111, or unset it/],
      [{ ...f.env, BACKEND: 'a1111' }, /error: BACKEND=a1111 but .* is Forge \(it has modules_forge\): set BACKEND=forge, or unset it/],
      [{ ...a.env, BACKEND: 'comfyui' }, /error: BACKEND="comfyui" is not a backend: allowed a1111 or forge/],
      [{ ...a.env, A1111_EXTRA_ARGS: '--no-hashing --attention-pytorch' }, /error: A1111_EXTRA_ARGS has --attention-pytorch, a Forge flag: A1111 refuses it/],
    ];
    for (const [env, message] of cases) {
      const r = await runStartSh(env);
      expect(r.code, JSON.stringify(env)).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).not.toMatch(/WORKER|\[a1111\]|starting A1111/);
    }
    // Case and spaces do not matter.
    const upper = await runStartSh({ ...f.env, BACKEND: ' Forge ' });
    expect(upper.code, upper.stderr).toBe(0);
  });
});

describe('start.sh with the simulator as each backend', () => {
  for (const backend of ['a1111', 'forge'] as const) {
    it(`BACKEND=${backend}: the backend accepts start.sh's flags (volume folders included) and the worker serves a job`, async () => {
      const l = layout(`sim-${backend}`, { forge: backend === 'forge', files: ALL_FOLDERS, extensions: ['sd-webui-controlnet', 'adetailer'] });
      const port = await closedPort();
      const r = await runStartSh(
        {
          ...l.env,
          BACKEND: backend,
          A1111_LAUNCH: `${process.execPath} ${simLauncher}`,
          WORKER_CMD: `${process.execPath} ${MAIN}`,
          A1111_URL: `http://127.0.0.1:${port}`,
          A1111_READY_TIMEOUT_S: '30',
          A1111_EXTRA_ARGS: '--medvram-sdxl --no-hashing',
          MODELS_DEBUG: 'true',
        },
        ['--test_input', JSON.stringify({ input: { prompt: 'a lighthouse', steps: 2, width: 64, height: 64 } })],
        true,
      );
      const pid = Number(/A1111 started, pid (\d+);/.exec(r.stdout)?.[1]);
      try {
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^\\[a1111\\] Uvicorn running on http://127\\.0\\.0\\.1:${port} as ${backend}$`, 'm'));
        const argv = argvOf(r.stdout);
        expect(after(argv, '--controlnet-dir')).toBe(path.join(l.volume, 'models/ControlNet'));
        expect(argv.includes('--medvram-sdxl')).toBe(backend === 'a1111');
        const result = r.stdout
          .split('\n')
          .filter((x) => x.startsWith('{'))
          .map((x) => JSON.parse(x) as { output?: { images?: unknown[] } })
          .find((o) => o.output !== undefined);
        expect(result?.output?.images).toHaveLength(1);
      } finally {
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            /* already gone */
          }
        }
      }
    });
  }
});
