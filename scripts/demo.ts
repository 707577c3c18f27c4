/**
 * `npm run demo`: the main job on the bundled A1111 simulator.
 *
 * Starts the simulator on a free loopback port, runs the built worker in local one-shot mode on
 * `./test_input.json` (seed 004's txt2img request) with `A1111_URL` pointing at it, and writes the PNGs,
 * `info` and `parameters` of the result to `./output/`.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../sim/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, 'output');

async function main(): Promise<number> {
  const sim = await startSimulator({ port: 0 });
  console.log(`A1111 simulator listening on ${sim.url}`);
  try {
    const child = spawn(process.execPath, [path.join(root, 'dist/handler/main.js')], {
      cwd: root,
      env: { ...process.env, A1111_URL: sim.url, RUNPOD_DEBUG_LEVEL: process.env.RUNPOD_DEBUG_LEVEL ?? 'INFO' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    const text = Buffer.concat(chunks).toString('utf8').trim();
    let result: { output?: { images?: string[]; info?: string; parameters?: unknown }; error?: unknown };
    try {
      result = JSON.parse(text) as typeof result;
    } catch {
      console.error(`worker printed no result JSON (exit ${code})`);
      return 1;
    }
    if (code !== 0 || result.error !== undefined) {
      console.error(`job failed (exit ${code}): ${JSON.stringify(result.error)}`);
      return 1;
    }
    await mkdir(outDir, { recursive: true });
    const images = result.output?.images ?? [];
    for (const [i, b64] of images.entries()) {
      const file = path.join(outDir, `${i}.png`);
      await writeFile(file, Buffer.from(b64, 'base64'));
      console.log(`wrote ${path.relative(root, file)}`);
    }
    if (result.output?.info !== undefined) {
      await writeFile(path.join(outDir, 'info.json'), JSON.stringify(JSON.parse(result.output.info), null, 2) + '\n');
      console.log('wrote output/info.json');
    }
    await writeFile(path.join(outDir, 'parameters.json'), JSON.stringify(result.output?.parameters ?? null, null, 2) + '\n');
    console.log(`wrote output/parameters.json\ndemo done: ${images.length} image(s) in ./output/`);
    return 0;
  } finally {
    await sim.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
