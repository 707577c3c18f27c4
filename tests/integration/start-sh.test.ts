/**
 * `docker/start.sh` run for real with a fake A1111 launcher (`A1111_LAUNCH`, a tiny node script that prints its
 * PID, its arguments and a few lines) and a fake worker (`WORKER_CMD`, which prints its PID, env and arguments):
 * A1111's output on stdout with the `[a1111] ` prefix, `A1111_PID` exported as the launcher's PID, `--ckpt` for a
 * baked model and `--ckpt-dir` for the network volume, the headless flags and never `--listen`, and the worker
 * exec'd (same PID as the script). Several backends (`A1111_URLS`): one launch per URL, each on its URL's port and
 * its own `CUDA_VISIBLE_DEVICES`, lines prefixed `[a1111:<i>] `, no `A1111_PID`; the conflicting settings refused
 * with exit 2. Then with the real worker: a launcher that exits at once makes the worker exit
 * 1 within seconds naming the PID (fail fast), and a launcher that runs the A1111 simulator serves a job.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/fixtures.js';
import { WORKER_MALLOC_ENV, WORKER_NODE_FLAGS } from '../../handler/runpod/worker/launch.js';
import { MAIN, ROOT } from '../helpers/worker-process.js';

const START_SH = path.join(ROOT, 'docker/start.sh');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** PID of the spawned script (bash), which becomes the worker's PID after `exec`. */
  pid: number;
  ms: number;
}

/**
 * Runs start.sh with exactly `env` (plus PATH) and `args`; resolves when the script process exits and, unless
 * `waitForOutput` is false, when every holder of its stdout (the `[a1111]` prefixer included) has closed it.
 */
function runStartSh(env: Record<string, string>, args: string[] = [], opts: { waitForOutput?: boolean; timeoutMs?: number } = {}): Promise<Run> {
  const t0 = performance.now();
  const child = spawn('bash', [START_SH, ...args], { cwd: os.tmpdir(), env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const event = opts.waitForOutput === false ? 'exit' : 'close';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`start.sh did not finish in ${opts.timeoutMs ?? 20_000} ms:\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on(event, (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, pid: child.pid!, ms: performance.now() - t0 });
    });
  });
}

/** The JSON a fake prints after `tag ` on a line of its own (optionally behind the `[a1111] ` prefix). */
function tagged<T>(out: string, tag: string): T {
  const m = new RegExp(`^(?:\\[a1111\\] )?${tag} (.*)$`, 'm').exec(out);
  if (!m) throw new Error(`no ${tag} line in:\n${out}`);
  return JSON.parse(m[1]!) as T;
}

/** Per `[a1111:<i>] ` prefix, the JSON of its `tag ` line: index i → value. */
/** The local one-shot result line (a JSON object with `output`) on stdout, among the [a1111] and [start.sh] lines. */
function localResult(stdout: string): { output?: { images?: unknown } } | undefined {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { output?: { images?: unknown } })
    .find((o) => o.output !== undefined);
}

/** Stops the (simulated) A1111 processes start.sh left running. */
function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    if (!(pid > 0)) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

function taggedByBackend<T>(out: string, tag: string): Map<number, T> {
  const found = new Map<number, T>();
  for (const m of out.matchAll(new RegExp(`^\\[a1111:(\\d+)\\] ${tag} (.*)$`, 'gm'))) {
    const i = Number(m[1]);
    if (found.has(i)) throw new Error(`two ${tag} lines for [a1111:${i}] in:\n${out}`);
    found.set(i, JSON.parse(m[2]!) as T);
  }
  return found;
}

interface FakeEnv {
  CUDA_VISIBLE_DEVICES: string | null;
  cwd: string;
  /** glibc malloc settings A1111 saw (none: they are the worker's). */
  malloc: Record<string, string>;
}

interface FakeWorker {
  pid: number;
  a1111Pid: string | undefined;
  a1111Urls: string | undefined;
  /** The worker's glibc malloc settings (launch.ts, WORKER_MALLOC_ENV). */
  malloc: Record<string, string>;
  args: string[];
  cwd: string;
}

let dir: string;
let fakeA1111: string;
let fakeWorker: string;
let simA1111: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'start-sh-'));
  fakeA1111 = path.join(dir, 'fake-a1111.mjs');
  // Prints its PID, arguments and CUDA_VISIBLE_DEVICES, a stderr line and a progress bar redrawn with \r; FAKE_EXIT sets its exit code.
  writeFileSync(
    fakeA1111,
    [
      "console.log('PID ' + JSON.stringify(process.pid));",
      "console.log('ARGV ' + JSON.stringify(process.argv.slice(2)));",
      "const malloc = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_')));",
      "console.log('ENV ' + JSON.stringify({ CUDA_VISIBLE_DEVICES: process.env.CUDA_VISIBLE_DEVICES ?? null, cwd: process.cwd(), malloc }));",
      "console.error('Traceback (most recent call last): a line on stderr');",
      "process.stdout.write('  0%|          | 0/20\\r 50%|#####     | 10/20\\r100%|##########| 20/20\\n');",
      "process.exitCode = Number(process.env.FAKE_EXIT ?? 0);",
    ].join('\n'),
  );
  fakeWorker = path.join(dir, 'fake-worker.mjs');
  writeFileSync(
    fakeWorker,
    "console.log('WORKER ' + JSON.stringify({ pid: process.pid, a1111Pid: process.env.A1111_PID, a1111Urls: process.env.A1111_URLS, args: process.argv.slice(2), cwd: process.cwd(), malloc: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_'))) }));\n",
  );
  // An "A1111" that is the bundled simulator, listening on the --port start.sh passes.
  simA1111 = path.join(dir, 'sim-a1111.mjs');
  writeFileSync(
    simA1111,
    [
      `import { startSimulator } from ${JSON.stringify(path.join(ROOT, 'dist/sim/server.js'))};`,
      'const argv = process.argv.slice(2);',
      "console.log('ARGV ' + JSON.stringify(argv));",
      "const sim = await startSimulator({ port: Number(argv[argv.indexOf('--port') + 1]), stepMs: 1 });",
      "console.log('Uvicorn running on ' + sim.url);",
      "process.on('SIGTERM', () => { void sim.close().then(() => process.exit(0)); });",
    ].join('\n'),
  );
  mkdirSync(path.join(dir, 'app'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh layout: an A1111 folder, a baked checkpoint (empty unless `baked`), optionally a volume with model folders. */
function layout(name: string, o: { baked?: boolean; volume?: boolean; lora?: boolean }): Record<string, string> {
  const root = path.join(dir, name);
  mkdirSync(path.join(root, 'a1111'), { recursive: true });
  writeFileSync(path.join(root, 'model.safetensors'), o.baked ? 'not really a model' : '');
  if (o.volume) mkdirSync(path.join(root, 'volume/models/Stable-diffusion'), { recursive: true });
  if (o.lora) mkdirSync(path.join(root, 'volume/models/Lora'), { recursive: true });
  return {
    A1111_DIR: path.join(root, 'a1111'),
    A1111_BAKED_CKPT: path.join(root, 'model.safetensors'),
    A1111_VOLUME: path.join(root, 'volume'),
    WORKER_DIR: path.join(dir, 'app'),
    A1111_LAUNCH: `${process.execPath} ${fakeA1111}`,
    WORKER_CMD: `${process.execPath} ${fakeWorker}`,
  };
}

const HEADLESS = ['--api', '--nowebui', '--no-download-sd-model', '--skip-version-check', '--skip-python-version-check', '--skip-torch-cuda-test', '--skip-install'];

/** The value after `flag` in argv, or undefined. */
const after = (argv: string[], flag: string): string | undefined => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);

describe('start.sh with a fake A1111 and a fake worker', () => {
  it('network volume: --ckpt-dir, headless flags, [a1111]-prefixed output, A1111_PID, worker exec’d with the args', async () => {
    const env = layout('volume', { volume: true, lora: true });
    const r = await runStartSh(env, ['--rp_log_level', 'INFO']);
    expect(r.code, r.stderr).toBe(0);
    const argv = tagged<string[]>(r.stdout, 'ARGV');
    const a1111Pid = tagged<number>(r.stdout, 'PID');
    const w = tagged<FakeWorker>(r.stdout, 'WORKER');

    // The checkpoint folder of the volume, nothing baked.
    expect(after(argv, '--ckpt-dir')).toBe(path.join(env.A1111_VOLUME!, 'models/Stable-diffusion'));
    expect(argv).not.toContain('--ckpt');
    expect(after(argv, '--lora-dir')).toBe(path.join(env.A1111_VOLUME!, 'models/Lora'));
    // Headless, on A1111_URL's default port, loopback only.
    for (const f of HEADLESS) expect(argv).toContain(f);
    expect(after(argv, '--port')).toBe('3000');
    for (const f of ['--listen', '--share', '--server-name', '--api-auth']) expect(argv).not.toContain(f);

    // A1111's stdout and stderr, each line prefixed, in the container's stdout; a \r-redrawn bar once, final state.
    expect(r.stdout).toMatch(/^\[a1111\] ARGV /m);
    expect(r.stdout).toMatch(/^\[a1111\] Traceback \(most recent call last\): a line on stderr$/m);
    expect(r.stdout).toMatch(/^\[a1111\] 100%\|##########\| 20\/20$/m);
    expect(r.stdout).not.toMatch(/10\/20/);
    expect(r.stderr).toBe('');

    // A1111_PID is the launcher's own PID (not the prefixer's); the worker replaced the script (same PID).
    expect(Number(w.a1111Pid)).toBe(a1111Pid);
    expect(w.pid).toBe(r.pid);
    expect(w.args).toEqual(['--rp_log_level', 'INFO']);
    expect(w.cwd).toBe(env.WORKER_DIR);
    expect(r.stdout).toMatch(/^\[start\.sh\] checkpoint folder: .*\(network volume\)$/m);
    // glibc's malloc settings are the worker's only: A1111 (torch) runs with its own allocator's defaults.
    expect(w.malloc).toEqual(WORKER_MALLOC_ENV);
    expect(tagged<FakeEnv>(r.stdout, 'ENV').malloc).toEqual({});
  });

  it('keeps glibc malloc settings the container already has, for the worker', async () => {
    const r = await runStartSh({ ...layout('malloc', { volume: true }), MALLOC_ARENA_MAX: '4' });
    expect(r.code, r.stderr).toBe(0);
    expect(tagged<FakeWorker>(r.stdout, 'WORKER').malloc).toEqual({ ...WORKER_MALLOC_ENV, MALLOC_ARENA_MAX: '4' });
  });

  it('the default worker command runs node with the V8 heap flags; a node that refuses them runs it without them, logged', async () => {
    // A worker folder whose dist/handler/main.js is a stand-in that prints node's own flags.
    const app = path.join(dir, 'default-app');
    mkdirSync(path.join(app, 'dist/handler'), { recursive: true });
    writeFileSync(path.join(app, 'dist/handler/main.js'), "console.log('EXECARGV ' + JSON.stringify(process.execArgv));\n");
    const env: Record<string, string> = { ...layout('default-cmd', {}), WORKER_DIR: app };
    delete env.WORKER_CMD;
    const r = await runStartSh(env);
    expect(r.code, r.stderr).toBe(0);
    expect(tagged<string[]>(r.stdout, 'EXECARGV')).toEqual([...WORKER_NODE_FLAGS]);
    expect(r.stdout).not.toMatch(/refuses the V8 heap flags/);

    // First on PATH, a node that fails on --initial-old-space-size, as node does on a flag it does not know.
    const bin = path.join(dir, 'refusing-node');
    mkdirSync(bin, { recursive: true });
    const refusing = `#!/bin/sh\nfor a in "$@"; do case "$a" in --initial-old-space-size*) echo "node: bad option: $a" >&2; exit 9;; esac; done\nexec ${process.execPath} "$@"\n`;
    writeFileSync(path.join(bin, 'node'), refusing, { mode: 0o755 });
    const r2 = await runStartSh({ ...env, PATH: `${bin}:${process.env.PATH ?? ''}` });
    expect(r2.code, r2.stderr).toBe(0);
    expect(tagged<string[]>(r2.stdout, 'EXECARGV')).toEqual([]);
    expect(r2.stdout).toMatch(/^\[start\.sh\] node refuses the V8 heap flags --initial-old-space-size=64 --max-semi-space-size=2: the worker runs without them$/m);
  });

  it('baked model: --ckpt /model.safetensors (and no volume folder when none is attached)', async () => {
    const env = layout('baked', { baked: true });
    const r = await runStartSh(env);
    expect(r.code, r.stderr).toBe(0);
    const argv = tagged<string[]>(r.stdout, 'ARGV');
    expect(after(argv, '--ckpt')).toBe(env.A1111_BAKED_CKPT);
    expect(argv).not.toContain('--ckpt-dir');
    expect(argv).not.toContain('--lora-dir');
    for (const f of HEADLESS) expect(argv).toContain(f);
    expect(r.stdout).toMatch(/^\[start\.sh\] checkpoint: .*\(baked into the image\)$/m);
  });

  it('baked model and a volume: both, so the volume’s checkpoints can be switched to', async () => {
    const env = layout('both', { baked: true, volume: true });
    const argv = tagged<string[]>((await runStartSh(env)).stdout, 'ARGV');
    expect(after(argv, '--ckpt')).toBe(env.A1111_BAKED_CKPT);
    expect(after(argv, '--ckpt-dir')).toBe(path.join(env.A1111_VOLUME!, 'models/Stable-diffusion'));
  });

  it('neither: still starts, pointed at the volume folder, with a warning', async () => {
    const env = layout('none', {});
    const r = await runStartSh(env);
    expect(r.code).toBe(0);
    expect(after(tagged<string[]>(r.stdout, 'ARGV'), '--ckpt-dir')).toBe(path.join(env.A1111_VOLUME!, 'models/Stable-diffusion'));
    expect(r.stdout).toMatch(/warning: no checkpoint: .* is empty and .* does not exist/);
  });

  it('env overrides: A1111_CKPT, A1111_CKPT_DIR, the port from A1111_URL or A1111_PORT, A1111_EXTRA_ARGS, A1111_API_AUTH (not logged)', async () => {
    const env = layout('override', { baked: true, volume: true });
    const r = await runStartSh({
      ...env,
      A1111_CKPT: '/models/mine.safetensors',
      A1111_CKPT_DIR: '/models',
      A1111_URL: 'http://127.0.0.1:7861',
      A1111_EXTRA_ARGS: '  --no-hashing   --medvram-sdxl ',
      A1111_API_AUTH: 'user:s3cret:pw',
    });
    expect(r.code, r.stderr).toBe(0);
    const argv = tagged<string[]>(r.stdout, 'ARGV');
    expect(after(argv, '--ckpt')).toBe('/models/mine.safetensors');
    expect(after(argv, '--ckpt-dir')).toBe('/models');
    expect(argv.filter((a) => a === '--ckpt' || a === '--ckpt-dir')).toHaveLength(2);
    expect(after(argv, '--port')).toBe('7861');
    expect(after(argv, '--api-auth')).toBe('user:s3cret:pw');
    expect(argv.slice(-2)).toEqual(['--no-hashing', '--medvram-sdxl']);
    // start.sh's own lines never show the password (only the fake's ARGV echo above does).
    const own = r.stdout.split('\n').filter((l) => l.startsWith('[start.sh]'));
    expect(own.join('\n')).toMatch(/--api-auth \*\*\*/);
    expect(own.join('\n')).not.toContain('s3cret');

    const p = await runStartSh({ ...env, A1111_URL: 'http://127.0.0.1:7861', A1111_PORT: '3100' });
    expect(after(tagged<string[]>(p.stdout, 'ARGV'), '--port')).toBe('3100');
    const https = await runStartSh({ ...env, A1111_URL: 'https://localhost/' });
    expect(after(tagged<string[]>(https.stdout, 'ARGV'), '--port')).toBe('443');
  });

  it('refuses a bad A1111_URL or port with exit 2 and a message naming it', async () => {
    const env = layout('bad', {});
    const a = await runStartSh({ ...env, A1111_URL: 'ftp://x' });
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/A1111_URL="ftp:\/\/x" is not an http\(s\):\/\/host\[:port\] URL/);
    const b = await runStartSh({ ...env, A1111_PORT: '70000' });
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/A1111 port "70000" is invalid/);
    expect(a.stdout + b.stdout).not.toMatch(/WORKER|\[a1111\]/); // nothing was started
  });
});

describe('start.sh with several backends (A1111_URLS) and a fake A1111', () => {
  it('two URLs: two A1111, each on its URL’s port and its own GPU, [a1111:<i>]-prefixed, no A1111_PID, worker exec’d', async () => {
    const env = layout('multi', { volume: true });
    const r = await runStartSh({ ...env, A1111_URLS: ' http://127.0.0.1:3000 , http://localhost:3001/ ', A1111_PID: '12345' }, ['--rp_log_level', 'INFO']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const argvs = taggedByBackend<string[]>(r.stdout, 'ARGV');
    const envs = taggedByBackend<FakeEnv>(r.stdout, 'ENV');
    const pids = taggedByBackend<number>(r.stdout, 'PID');
    expect([...argvs.keys()].sort()).toEqual([0, 1]);
    expect(after(argvs.get(0)!, '--port')).toBe('3000');
    expect(after(argvs.get(1)!, '--port')).toBe('3001');
    expect(envs.get(0)!.CUDA_VISIBLE_DEVICES).toBe('0');
    expect(envs.get(1)!.CUDA_VISIBLE_DEVICES).toBe('1');
    for (const i of [0, 1]) {
      const argv = argvs.get(i)!;
      // The same headless flags and checkpoint logic as with one backend; one --port each, loopback only.
      for (const f of HEADLESS) expect(argv).toContain(f);
      expect(argv.filter((a) => a === '--port')).toHaveLength(1);
      expect(after(argv, '--ckpt-dir')).toBe(path.join(env.A1111_VOLUME!, 'models/Stable-diffusion'));
      for (const f of ['--listen', '--share', '--server-name']) expect(argv).not.toContain(f);
      expect(envs.get(i)!.cwd).toBe(env.A1111_DIR);
      // Each backend's stdout and stderr under its own prefix, the \r-redrawn bar once.
      expect(r.stdout).toMatch(new RegExp(`^\\[a1111:${i}\\] Traceback \\(most recent call last\\): a line on stderr$`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^\\[a1111:${i}\\] 100%\\|##########\\| 20/20$`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^\\[start\\.sh\\] starting A1111 #${i} \\(CUDA_VISIBLE_DEVICES=${i}\\): .* --port 300${i} `, 'm'));
    }
    expect(r.stdout).not.toMatch(/^\[a1111\] /m);
    expect(r.stdout).not.toMatch(/10\/20/);
    // The PIDs logged are the launchers' own; A1111_PID is not passed on (not even the one start.sh was given).
    expect(pids.get(0)).not.toBe(pids.get(1));
    expect(r.stdout).toContain(`[start.sh] 2 A1111 started, pids ${pids.get(0)} ${pids.get(1)} `);
    const w = tagged<FakeWorker>(r.stdout, 'WORKER');
    expect(w.a1111Pid).toBeUndefined();
    expect(w.a1111Urls).toBe(' http://127.0.0.1:3000 , http://localhost:3001/ ');
    expect(w.pid).toBe(r.pid);
    expect(w.args).toEqual(['--rp_log_level', 'INFO']);
    expect(w.cwd).toBe(env.WORKER_DIR);
  });

  it('the user’s CUDA_VISIBLE_DEVICES list: backend i gets its i-th entry (extra entries unused)', async () => {
    const env = layout('multi-devices', { baked: true });
    const r = await runStartSh({ ...env, A1111_URLS: 'http://127.0.0.1:3000,http://127.0.0.1:3001', CUDA_VISIBLE_DEVICES: '2, 3,4' });
    expect(r.code, r.stderr).toBe(0);
    const envs = taggedByBackend<FakeEnv>(r.stdout, 'ENV');
    expect(envs.get(0)!.CUDA_VISIBLE_DEVICES).toBe('2');
    expect(envs.get(1)!.CUDA_VISIBLE_DEVICES).toBe('3');
    expect(envs.size).toBe(2);
    for (const argv of taggedByBackend<string[]>(r.stdout, 'ARGV').values()) expect(after(argv, '--ckpt')).toBe(env.A1111_BAKED_CKPT);

    // Device UUIDs work too; the worker still gets CUDA_VISIBLE_DEVICES as the user set it.
    const u = await runStartSh({ ...env, A1111_URLS: 'http://127.0.0.1:3000,http://127.0.0.1:3001', CUDA_VISIBLE_DEVICES: 'GPU-aaa,GPU-bbb' });
    expect(u.code, u.stderr).toBe(0);
    const uenvs = taggedByBackend<FakeEnv>(u.stdout, 'ENV');
    expect([uenvs.get(0)!.CUDA_VISIBLE_DEVICES, uenvs.get(1)!.CUDA_VISIBLE_DEVICES]).toEqual(['GPU-aaa', 'GPU-bbb']);
  });

  it('one URL in A1111_URLS: one backend, exactly as with A1111_URL ([a1111] prefix, A1111_PID, devices inherited)', async () => {
    const env = layout('multi-one', {});
    const r = await runStartSh({ ...env, A1111_URLS: 'http://127.0.0.1:3005', CUDA_VISIBLE_DEVICES: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(after(tagged<string[]>(r.stdout, 'ARGV'), '--port')).toBe('3005');
    expect(r.stdout).toMatch(/^\[a1111\] ARGV /m);
    expect(r.stdout).not.toMatch(/^\[a1111:0\]/m);
    expect(tagged<FakeEnv>(r.stdout, 'ENV').CUDA_VISIBLE_DEVICES).toBe('1');
    expect(Number(tagged<FakeWorker>(r.stdout, 'WORKER').a1111Pid)).toBe(tagged<number>(r.stdout, 'PID'));

    // One backend leaves CUDA_VISIBLE_DEVICES alone (unset stays unset), with A1111_URL as before.
    const single = await runStartSh(env);
    expect(tagged<FakeEnv>(single.stdout, 'ENV').CUDA_VISIBLE_DEVICES).toBeNull();
  });

  it('more URLs than CUDA_VISIBLE_DEVICES entries: exit 2 naming both, nothing started', async () => {
    const env = layout('multi-few', {});
    const r = await runStartSh({ ...env, A1111_URLS: 'http://127.0.0.1:3000,http://127.0.0.1:3001,http://127.0.0.1:3002', CUDA_VISIBLE_DEVICES: '2,3' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^\[start\.sh\] error: A1111_URLS lists 3 backends but CUDA_VISIBLE_DEVICES="2,3" only 2 devices: one device per backend/m);
    expect(r.stdout).not.toMatch(/WORKER|\[a1111|starting A1111/);

    const empty = await runStartSh({ ...env, A1111_URLS: 'http://127.0.0.1:3000,http://127.0.0.1:3001', CUDA_VISIBLE_DEVICES: '2,,3' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/error: CUDA_VISIBLE_DEVICES="2,,3" has an empty entry at position 1/);
  });

  it('conflicting or bad settings: exit 2 with a message, nothing started', async () => {
    const env = layout('multi-bad', {});
    const urls = 'http://127.0.0.1:3000,http://127.0.0.1:3001';
    const cases: [Record<string, string>, RegExp][] = [
      [{ A1111_URLS: urls, A1111_PORT: '3100' }, /error: A1111_PORT and A1111_URLS are both set: .*unset A1111_PORT/],
      [{ A1111_URLS: 'http://127.0.0.1:3000,ftp://x' }, /error: A1111_URLS\[1\]="ftp:\/\/x" is not an http\(s\):\/\/host\[:port\] URL/],
      [{ A1111_URLS: `${urls},` }, /error: A1111_URLS\[2\]="" is not an http\(s\):\/\/host\[:port\] URL/],
      [{ A1111_URLS: 'http://127.0.0.1:3000,http://127.0.0.1:70000' }, /error: A1111 port "70000" is invalid: allowed an integer from 1 to 65535 \(the port of A1111_URLS\[1\]\)/],
      [{ A1111_URLS: 'http://127.0.0.1:3000,http://localhost:3000/' }, /error: A1111_URLS\[1\] and A1111_URLS\[0\] have the same port 3000: each A1111 needs a port of its own/],
    ];
    for (const [vars, message] of cases) {
      const r = await runStartSh({ ...env, ...vars });
      expect(r.code, JSON.stringify(vars)).toBe(2);
      expect(r.stderr, JSON.stringify(vars)).toMatch(message);
      expect(r.stdout, JSON.stringify(vars)).not.toMatch(/WORKER|\[a1111|starting A1111/);
    }
    // A1111_URLS wins over A1111_URL (the Hub form sends A1111_URL's default along), as in the worker's config.
    const both = await runStartSh({ ...env, A1111_URLS: 'http://127.0.0.1:7860,http://127.0.0.1:7861', A1111_URL: 'http://127.0.0.1:3000' });
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdout).toContain('[start.sh] A1111_URLS is set: A1111_URL=http://127.0.0.1:3000 is ignored.');
    expect([...taggedByBackend<string[]>(both.stdout, 'ARGV').values()].map((argv) => after(argv, '--port')).sort()).toEqual(['7860', '7861']);
    // A blank A1111_URL or A1111_URLS counts as unset, as in the worker's config.
    const blank = await runStartSh({ ...env, A1111_URLS: urls, A1111_URL: '  ' });
    expect(blank.code, blank.stderr).toBe(0);
    expect(taggedByBackend<string[]>(blank.stdout, 'ARGV').size).toBe(2);
    const noList = await runStartSh({ ...env, A1111_URLS: ' ', A1111_URL: 'http://127.0.0.1:3009' });
    expect(after(tagged<string[]>(noList.stdout, 'ARGV'), '--port')).toBe('3009');
  });

  it('a non-loopback URL: a warning naming the entry, as for A1111_URL', async () => {
    const env = layout('multi-warn', {});
    const r = await runStartSh({ ...env, A1111_URLS: 'http://127.0.0.1:3000,http://10.0.0.5:3001' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[start\.sh\] warning: A1111_URLS\[1\]=http:\/\/10\.0\.0\.5:3001 is not a loopback address/m);
    expect(r.stdout).not.toMatch(/warning: A1111_URLS\[0\]/);
  });
});

describe('start.sh with the real worker', () => {
  it('A1111 exits at once → the worker stops waiting and exits 1 within seconds, naming the PID (platform mode)', async () => {
    const env = layout('exit-platform', {});
    const port = await closedPort();
    const r = await runStartSh({
      ...env,
      WORKER_CMD: `${process.execPath} ${MAIN}`,
      FAKE_EXIT: '3',
      A1111_URL: `http://127.0.0.1:${port}`,
      A1111_READY_TIMEOUT_S: '60',
      RUNPOD_WEBHOOK_GET_JOB: `http://127.0.0.1:${await closedPort()}/job-take/$ID?token=x`,
      RUNPOD_POD_ID: 'w-start-sh',
    });
    const a1111Pid = tagged<number>(r.stdout, 'PID');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.ms).toBeLessThan(15_000); // far below A1111_READY_TIMEOUT_S=60
    expect(r.stdout).toContain(`Watching A1111 process ${a1111Pid} (A1111_PID).`);
    expect(r.stdout).toMatch(new RegExp(`A1111 process ${a1111Pid} exited; .*Exiting with code 1\\.`));
    expect(r.stdout).not.toMatch(/not ready after/);
  });

  it('the same in local mode (--test_input passed through start.sh)', async () => {
    const env = layout('exit-local', {});
    const r = await runStartSh(
      { ...env, WORKER_CMD: `${process.execPath} ${MAIN}`, A1111_URL: `http://127.0.0.1:${await closedPort()}`, A1111_READY_TIMEOUT_S: '60' },
      ['--test_input', '{"input": {"prompt": "a cat", "steps": 1}}'],
    );
    const a1111Pid = tagged<number>(r.stdout, 'PID');
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stderr).toMatch(new RegExp(`A1111 process ${a1111Pid} exited; `));
  });

  it('with the simulator as A1111: the worker waits for it and serves a local job', async () => {
    const env = layout('sim', { volume: true });
    const port = await closedPort();
    const r = await runStartSh(
      { ...env, A1111_LAUNCH: `${process.execPath} ${simA1111}`, WORKER_CMD: `${process.execPath} ${MAIN}`, A1111_URL: `http://127.0.0.1:${port}`, A1111_READY_TIMEOUT_S: '30' },
      ['--test_input', JSON.stringify({ input: { prompt: 'a lighthouse', steps: 2, width: 64, height: 64 } })],
      // The simulator outlives the worker (as A1111 outlives nothing in a container): wait for the worker only.
      { waitForOutput: false },
    );
    const pid = Number(/A1111 started, pid (\d+);/.exec(r.stdout)?.[1]);
    try {
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^\\[a1111\\] Uvicorn running on http://127\\.0\\.0\\.1:${port}$`, 'm'));
      expect(r.stderr).toMatch(new RegExp(`Watching A1111 process ${pid} \\(A1111_PID\\)\\.[\\s\\S]*A1111 ready at http://127\\.0\\.0\\.1:${port}`));
      const result = localResult(r.stdout);
      // The local one-shot result line on stdout, among the [a1111] and [start.sh] lines.
      expect(result?.output?.images).toHaveLength(1);
    } finally {
      killAll([pid]);
    }
  });

  it('with two simulators (A1111_URLS): the worker waits for both and serves a local job; no A1111_PID watched', async () => {
    const env = layout('sim-multi', { volume: true });
    const ports = [await closedPort()];
    while (ports.length < 2) {
      const p = await closedPort();
      if (p !== ports[0]) ports.push(p);
    }
    const r = await runStartSh(
      {
        ...env,
        A1111_LAUNCH: `${process.execPath} ${simA1111}`,
        WORKER_CMD: `${process.execPath} ${MAIN}`,
        A1111_URLS: ports.map((p) => `http://127.0.0.1:${p}`).join(','),
        A1111_READY_TIMEOUT_S: '30',
      },
      ['--test_input', JSON.stringify({ input: { prompt: 'a lighthouse', steps: 2, width: 64, height: 64 } })],
      { waitForOutput: false },
    );
    const pids = (/A1111 started, pids (\d+) (\d+) /.exec(r.stdout) ?? []).slice(1).map(Number);
    try {
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(pids).toHaveLength(2);
      for (const [i, p] of ports.entries()) expect(r.stdout).toMatch(new RegExp(`^\\[a1111:${i}\\] Uvicorn running on http://127\\.0\\.0\\.1:${p}$`, 'm'));
      expect(r.stdout + r.stderr).not.toContain('Watching A1111 process');
      const result = localResult(r.stdout);
      expect(result?.output?.images).toHaveLength(1);
    } finally {
      killAll(pids);
    }
  });
});
