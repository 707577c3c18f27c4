/**
 * `docker/start.sh` run for real with a fake A1111 launcher (`A1111_LAUNCH`, a tiny node script that prints its
 * PID, its arguments and a few lines) and a fake worker (`WORKER_CMD`, which prints its PID, env and arguments):
 * A1111's output on stdout with the `[a1111] ` prefix, `A1111_PID` exported as the launcher's PID, `--ckpt` for a
 * baked model and `--ckpt-dir` for the network volume, the headless flags and never `--listen`, and the worker
 * exec'd (same PID as the script). Then with the real worker: a launcher that exits at once makes the worker exit
 * 1 within seconds naming the PID (fail fast), and a launcher that runs the A1111 simulator serves a job.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

interface FakeWorker {
  pid: number;
  a1111Pid: string | undefined;
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
  // Prints its PID and arguments, a stderr line and a progress bar redrawn with \r; FAKE_EXIT sets its exit code.
  writeFileSync(
    fakeA1111,
    [
      "console.log('PID ' + JSON.stringify(process.pid));",
      "console.log('ARGV ' + JSON.stringify(process.argv.slice(2)));",
      "console.error('Traceback (most recent call last): a line on stderr');",
      "process.stdout.write('  0%|          | 0/20\\r 50%|#####     | 10/20\\r100%|##########| 20/20\\n');",
      "process.exitCode = Number(process.env.FAKE_EXIT ?? 0);",
    ].join('\n'),
  );
  fakeWorker = path.join(dir, 'fake-worker.mjs');
  writeFileSync(
    fakeWorker,
    "console.log('WORKER ' + JSON.stringify({ pid: process.pid, a1111Pid: process.env.A1111_PID, args: process.argv.slice(2), cwd: process.cwd() }));\n",
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
      const result = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { output?: { images?: unknown } })
        .find((o) => o.output !== undefined);
      // The local one-shot result line on stdout, among the [a1111] and [start.sh] lines.
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
});
