/**
 * `npm run demo`: the round trip a user makes, on this machine.
 *
 * 1. starts the bundled A1111 simulator on a free loopback port;
 * 2. starts the worker with `--rp_serve_api` (the local RunPod endpoint plus the real worker loop) against it;
 * 3. with `runpod-sdk`, sends seed 004's request (`./test_input.json`) once with RUN, polling `status` until it
 *    is final, and once with RUNSYNC;
 * 4. writes the PNGs, `info` and `parameters` of both to `./output/` and prints the job ids, the states seen,
 *    `delayTime` and `executionTime`.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import runpodSdk from 'runpod-sdk';
import { WORKER_NODE_FLAGS, withWorkerMallocEnv } from '../handler/runpod/worker/launch.js';
import { startSimulator } from '../sim/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, 'output');
const FINAL = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

interface StatusBody {
  id: string;
  status: string;
  delayTime?: number;
  executionTime?: number;
  output?: { images?: string[]; info?: string; parameters?: unknown };
  error?: unknown;
}

async function writeOutput(prefix: string, body: StatusBody): Promise<void> {
  const images = body.output?.images ?? [];
  for (const [i, b64] of images.entries()) {
    const file = path.join(outDir, `${prefix}-${i}.png`);
    await writeFile(file, Buffer.from(b64, 'base64'));
    console.log(`  wrote ${path.relative(root, file)}`);
  }
  if (body.output?.info !== undefined) {
    await writeFile(path.join(outDir, `${prefix}-info.json`), JSON.stringify(JSON.parse(body.output.info), null, 2) + '\n');
    console.log(`  wrote output/${prefix}-info.json`);
  }
  await writeFile(path.join(outDir, `${prefix}-parameters.json`), JSON.stringify(body.output?.parameters ?? null, null, 2) + '\n');
  console.log(`  wrote output/${prefix}-parameters.json`);
}

async function main(): Promise<number> {
  const job = JSON.parse(await readFile(path.join(root, 'test_input.json'), 'utf8')) as { input: unknown };
  // 25 ms per step: seed 004's 30 steps take under a second, long enough to see the job move through its states.
  const sim = await startSimulator({ port: 0, stepMs: 25 });
  console.log(`A1111 simulator listening on ${sim.url}`);
  const worker = spawn(process.execPath, [...WORKER_NODE_FLAGS, path.join(root, 'dist/handler/main.js'), '--rp_serve_api', '--rp_api_port', '0'], {
    cwd: root,
    env: withWorkerMallocEnv({ ...process.env, A1111_URL: sim.url, RUNPOD_DEBUG_LEVEL: process.env.RUNPOD_DEBUG_LEVEL ?? 'INFO' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      worker.stdout.on('data', (c: Buffer) => {
        process.stdout.write(c);
        out += c.toString();
        const m = /Local RunPod endpoint at (http:\/\/[^\s]+?) /.exec(out);
        if (m) resolve(m[1]!);
      });
      worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before its endpoint was up`)));
    });
    const endpoint = runpodSdk(process.env.RUNPOD_API_KEY ?? 'local-key', { baseUrl: `${url}/v2` }).endpoint('local');
    if (!endpoint) throw new Error('runpod-sdk gave no endpoint');
    await mkdir(outDir, { recursive: true });

    // RUN, then poll /status until the job is final.
    const started = (await endpoint.run(job)) as StatusBody;
    console.log(`\nRUN → ${started.id} ${started.status}`);
    const seen = [started.status];
    let body: StatusBody = started;
    while (!FINAL.includes(body.status)) {
      await new Promise((r) => setTimeout(r, 100));
      body = (await endpoint.status(started.id)) as StatusBody;
      if (seen.at(-1) !== body.status) seen.push(body.status);
    }
    console.log(`  states seen: ${seen.join(' → ')}; delayTime ${body.delayTime} ms, executionTime ${body.executionTime} ms`);
    if (body.status !== 'COMPLETED') throw new Error(`RUN job ended ${body.status}: ${JSON.stringify(body.error)}`);
    await writeOutput('run', body);

    // RUNSYNC: one blocking call (runpod-sdk uses /runsync?wait and, if needed, /status-sync).
    const sync = (await endpoint.runSync(job)) as StatusBody;
    console.log(`RUNSYNC → ${sync.id} ${sync.status}; delayTime ${sync.delayTime} ms, executionTime ${sync.executionTime} ms`);
    if (sync.status !== 'COMPLETED') throw new Error(`RUNSYNC job ended ${sync.status}: ${JSON.stringify(sync.error)}`);
    await writeOutput('runsync', sync);
    console.log('\ndemo done: see ./output/');
    return 0;
  } finally {
    if (worker.exitCode === null) {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await sim.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
