/**
 * The pieces every section of `npm run bench` shares: the endpoint emulator of one worker, the worker itself (ours,
 * `dist/handler/main.js`, or the raw pass-through floor, `dist/bench/raw-worker.js`) as a child process in
 * platform mode, one job's timing from the emulator's and the simulator's request logs, and the worker's CPU time
 * and peak RSS from `/proc`.
 *
 * Clocks: the emulator's records and the simulator's log both use `performance.timeOrigin + performance.now()`
 * (epoch ms, sub-ms) on the same machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEndpoint, type LocalEndpoint, type WorkerApiRecord } from '../handler/endpoint/index.js';
import { WORKER_NODE_FLAGS, withWorkerMallocEnv } from '../handler/runpod/worker/launch.js';
import { startSimProcess, type SimProcess } from '../tests/helpers/sim-process.js';

/** The repository root (the bench runs from `dist/bench/`). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Which worker runs the jobs: ours, or the raw pass-through floor. */
export type WorkerKind = 'ours' | 'raw';

/**
 * The emulator for one worker: every worker-API request recorded (no bodies), results up to 64 MB, a final job
 * dropped at once (the bench reads the records, not `/status`; kept results would grow this process's heap and its
 * GC pauses, which slow the reading of the next result).
 * @param latencyMs the platform round-trip delay before every worker-API answer, ms
 */
export function startBenchEndpoint(latencyMs: number): Promise<LocalEndpoint> {
  return startEndpoint({
    port: 0,
    endpointId: 'bench',
    takeHoldMs: 1000,
    recordRequests: true,
    resultLimitRunBytes: 64 * 1024 * 1024,
    retentionRunMs: 0,
    latencyMs,
  });
}

/**
 * Starts a worker of `kind` pointed at `ep` (the env RunPod injects) and at the A1111 backend(s) in `a1111Env`
 * (`A1111_URL` or `A1111_URLS`), with `extra` env for ours (the raw worker reads only `A1111_URL`) and `nodeArgs`
 * before the script (e.g. `--cpu-prof`). Both kinds are launched with the Node flags of `docker/start.sh`
 * ({@link WORKER_NODE_FLAGS}): the floor runs on the same V8 heap settings as ours. Ours also gets the glibc `malloc`
 * settings of `docker/start.sh` (`WORKER_MALLOC_ENV`); the floor keeps glibc's defaults, which suit its reads into
 * one buffer per answer: with those settings glibc maps each 20 MB buffer anew (a fixed trim threshold turns off its
 * sliding mmap threshold), and the floor's CPU per 20 MB job went from 18–23 to 30–35 ms. With `cpu`, the worker (all its
 * threads) runs on that CPU only (`taskset -c`; see {@link benchCpu}).
 */
export function spawnWorker(
  kind: WorkerKind,
  ep: LocalEndpoint,
  workerId: string,
  a1111Env: Record<string, string>,
  extra: Record<string, string> = {},
  nodeArgs: string[] = [],
  cpu?: number,
): ChildProcess {
  const script = kind === 'ours' ? 'dist/handler/main.js' : 'dist/bench/raw-worker.js';
  const base = { PATH: process.env.PATH ?? '', RUNPOD_POD_ID: workerId, RUNPOD_AI_API_KEY: 'bench-key', ...ep.workerEnv(), ...a1111Env };
  const ours = { RUNPOD_DEBUG_LEVEL: 'WARN', RUNPOD_PING_INTERVAL: '10000', A1111_WARMUP: 'false', ...extra };
  const command = [process.execPath, ...WORKER_NODE_FLAGS, ...nodeArgs, path.join(ROOT, script)];
  // taskset execs node: the child's pid stays the worker's (its /proc figures are the worker's).
  const [file, ...args] = cpu === undefined ? command : ['taskset', '-c', String(cpu), ...command];
  return spawn(file!, args, { env: kind === 'ours' ? withWorkerMallocEnv({ ...base, ...ours }) : base, stdio: ['ignore', 'inherit', 'inherit'] });
}

/**
 * Ends a worker with `signal` (ours drains on SIGTERM and SIGINT, and exits, which writes a `--cpu-prof` profile)
 * and waits for its exit.
 */
export async function stopWorker(worker: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise((r) => worker.once('exit', r));
  worker.kill(signal);
  await exited;
}

/**
 * The CPU the cost section's workers run on: the machine's last, when it has two or more and `taskset` (util-linux)
 * is there; undefined otherwise (the workers then run where the scheduler puts them). Both workers run their jobs
 * one at a time, alternating, so they never compete for it. Unpinned on the 2-core bench machine, where a worker and
 * the simulator or emulator it waits for land changed from run to run, ours / raw of one tree moved between ×1.37 and
 * ×1.82 for 64×64; pinned, between ×1.31 and ×1.41 in five runs (bench/RESULTS.md).
 */
export function benchCpu(): number | undefined {
  const n = os.availableParallelism();
  if (n < 2) return undefined;
  try {
    execFileSync('taskset', ['-c', String(n - 1), 'true'], { stdio: 'ignore' });
    return n - 1;
  } catch {
    return undefined;
  }
}

/** One worker with its own emulator and simulator, as every single-backend section uses it. */
export interface Rig {
  kind: WorkerKind;
  ep: LocalEndpoint;
  sim: SimProcess;
  worker: ChildProcess;
  close(): Promise<void>;
}

/**
 * Starts a simulator (`simArgs`), an emulator at `latencyMs` and a worker of `kind` on them.
 * @param extra env of our worker (see {@link spawnWorker})
 * @param cpuProfDir when set, the worker runs with `--cpu-prof` writing into this folder, and is ended by SIGINT
 * @param cpu when set, the worker runs on that CPU only ({@link benchCpu})
 */
export async function startRig(kind: WorkerKind, latencyMs: number, simArgs: string[], extra: Record<string, string> = {}, cpuProfDir?: string, cpu?: number): Promise<Rig> {
  const sim = await startSimProcess(simArgs);
  const ep = await startBenchEndpoint(latencyMs);
  const nodeArgs = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `${kind}-worker.cpuprofile`] : [];
  const worker = spawnWorker(kind, ep, `w-${kind}`, { A1111_URL: sim.url }, extra, nodeArgs, cpu);
  return {
    kind,
    ep,
    sim,
    worker,
    async close() {
      await stopWorker(worker, cpuProfDir ? 'SIGINT' : 'SIGTERM');
      await sim.close();
      await ep.close();
    },
  };
}

/** The job-take that handed out `jobId` (answered) and the final job-done post of it (answered), once both exist. */
export async function handOutAndResult(ep: LocalEndpoint, jobId: string, timeoutMs: number): Promise<{ take: WorkerApiRecord; done: WorkerApiRecord }> {
  const done = await ep.waitForRequest((r) => r.kind === 'done' && r.jobId === jobId && r.progress === false && r.status === 200, `result of job ${jobId}`, timeoutMs);
  const take = ep.requests().find((r) => r.kind === 'take' && r.status === 200 && r.jobIds?.includes(jobId));
  if (!take) throw new Error(`no job-take handed out ${jobId}`);
  return { take, done };
}

/** One job's figures: the worker's own time, A1111's time, the result's size. */
export interface JobTiming {
  /** job-take answered → job-done received, minus A1111's own time, ms. */
  overheadMs: number;
  /** A1111's (the simulator's) time: request received → response sent, ms. */
  a1111Ms: number;
  /** The final job-done body, bytes. */
  bytes: number;
}

/** Submits one job to the rig, waits for its result, and times it. Expects exactly one txt2img call. */
export async function timeOneJob(rig: Rig, input: unknown): Promise<JobTiming> {
  const since = (await rig.sim.requests()).length;
  const [id] = rig.ep.submit([{ input }]) as [string];
  const { take, done } = await handOutAndResult(rig.ep, id, 120_000);
  const gen = (await rig.sim.requests(since)).filter((r) => r.path === '/sdapi/v1/txt2img');
  if (gen.length !== 1) throw new Error(`${rig.kind}: expected 1 txt2img call for ${id}, saw ${gen.length}`);
  const a1111Ms = gen[0]!.respondedAt - gen[0]!.receivedAt;
  return { overheadMs: done.receivedAt - take.answeredAt! - a1111Ms, a1111Ms, bytes: done.bytes };
}

/** The `q` quantile (0..1) of `xs`, nearest rank; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Peak resident set size (VmHWM) of a process, bytes. */
export function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

let clockTicks: number | undefined;

/** Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 when unavailable). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * CPU time a process has used so far (user + system: `utime` + `stime` of `/proc/<pid>/stat`), ms. Resolution one
 * clock tick (10 ms at 100 Hz): read it around many jobs.
 */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 on: utime is field 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
}
