/**
 * CLI of the A1111 API simulator:
 *
 *   node dist/sim/main.js [--port 3000] [--host 127.0.0.1] [--startup-delay-ms N]
 *     [--step-ms N] [--first-load-delay-ms N] [--fail-next N --fail-status S]
 *     [--fault-rate R --fault-seed N [--fault-kinds status,close,garbage] [--fault-routes txt2img,...]]
 *     [--log] [--no-gzip] [--flavor a1111|forge] [--extensions controlnet,adetailer,wildcards] [--data-dir DIR]
 *
 * Each flag can also come from the environment (`SIM_PORT`, `SIM_HOST`,
 * `SIM_STARTUP_DELAY_MS`, `SIM_STEP_MS`, `SIM_FIRST_LOAD_DELAY_MS`,
 * `SIM_FAIL_NEXT`, `SIM_FAIL_STATUS`, `SIM_FAULT_RATE`, `SIM_FAULT_SEED`,
 * `SIM_FAULT_KINDS`, `SIM_FAULT_ROUTES`, `SIM_LOG`, `SIM_GZIP`, `SIM_FLAVOR`, `SIM_EXTENSIONS`, `SIM_DATA_DIR`:
 * where saved images are written, see save-images.ts); flags win.
 * A bad value prints a message naming the flag and exits with code 2.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SIM_RANDOM_FAULT_KINDS, startSimulator, type SimExtension, type SimFlavor, type SimOptions, type SimRandomFaultKind, type Simulator } from './server.js';
import { SIM_EXTENSIONS } from './env.js';

/** Parsed CLI configuration. */
export interface SimCliConfig {
  options: SimOptions;
  /** number of upcoming /sdapi/v1/* requests answered with `failStatus` (0 = none) */
  failNext: number;
  /** HTTP status for `failNext` */
  failStatus: number;
}

/** A configuration error: message names the flag or env var and the value. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

interface Spec {
  flag: string;
  env: string;
  kind: 'int' | 'bool' | 'string' | 'rate' | 'list' | 'flavor';
  min?: number;
  max?: number;
}

const SPECS: Spec[] = [
  { flag: '--port', env: 'SIM_PORT', kind: 'int', min: 0, max: 65535 },
  { flag: '--host', env: 'SIM_HOST', kind: 'string' },
  { flag: '--startup-delay-ms', env: 'SIM_STARTUP_DELAY_MS', kind: 'int', min: 0 },
  { flag: '--step-ms', env: 'SIM_STEP_MS', kind: 'int', min: 0 },
  { flag: '--first-load-delay-ms', env: 'SIM_FIRST_LOAD_DELAY_MS', kind: 'int', min: 0 },
  { flag: '--fail-next', env: 'SIM_FAIL_NEXT', kind: 'int', min: 0 },
  { flag: '--fail-status', env: 'SIM_FAIL_STATUS', kind: 'int', min: 100, max: 599 },
  { flag: '--fault-rate', env: 'SIM_FAULT_RATE', kind: 'rate' },
  { flag: '--fault-seed', env: 'SIM_FAULT_SEED', kind: 'int', min: 0 },
  { flag: '--fault-kinds', env: 'SIM_FAULT_KINDS', kind: 'list' },
  { flag: '--fault-routes', env: 'SIM_FAULT_ROUTES', kind: 'list' },
  { flag: '--log', env: 'SIM_LOG', kind: 'bool' },
  { flag: '--gzip', env: 'SIM_GZIP', kind: 'bool' },
  { flag: '--flavor', env: 'SIM_FLAVOR', kind: 'flavor' },
  { flag: '--extensions', env: 'SIM_EXTENSIONS', kind: 'list' },
  { flag: '--data-dir', env: 'SIM_DATA_DIR', kind: 'string' },
];

const USAGE = `usage: node dist/sim/main.js [--port 3000] [--host 127.0.0.1] [--startup-delay-ms N] [--step-ms N]
       [--first-load-delay-ms N] [--fail-next N --fail-status S]
       [--fault-rate R --fault-seed N [--fault-kinds status,close,garbage] [--fault-routes txt2img,...]]
       [--log] [--no-gzip] [--flavor a1111|forge] [--extensions controlnet,adetailer,wildcards] [--data-dir DIR]`;

function parseValue(spec: Spec, raw: string, source: string): number | boolean | string | string[] {
  if (spec.kind === 'flavor') {
    const v = raw.trim().toLowerCase();
    if (v !== 'a1111' && v !== 'forge') throw new CliError(`${source}: expected a1111 or forge`);
    return v;
  }
  if (spec.kind === 'list') {
    const items = raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
    if (items.length === 0) throw new CliError(`${source}: expected a comma-separated list`);
    return items;
  }
  if (spec.kind === 'rate') {
    const n = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new CliError(`${source}: expected a number from 0 to 1, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (spec.kind === 'string') {
    if (raw.trim() === '') throw new CliError(`${source}: empty value`);
    return raw;
  }
  if (spec.kind === 'bool') {
    const l = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(l)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(l)) return false;
    throw new CliError(`${source}: expected a boolean (1/0/true/false), got ${JSON.stringify(raw)}`);
  }
  if (!/^\d+$/.test(raw.trim())) throw new CliError(`${source}: expected a non-negative integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw.trim());
  if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    throw new CliError(`${source}: ${n} is out of range ${spec.min ?? '-inf'}..${spec.max ?? 'inf'}`);
  }
  return n;
}

/** Every flag a string option for `parseArgs`; a bare boolean flag (`--log`) is turned into `--log=1` first. */
const PARSE_OPTIONS = Object.fromEntries([...SPECS.map((s) => [s.flag.slice(2), { type: 'string' as const }]), ['help', { type: 'boolean' as const, short: 'h' }]]);

function normalizeArgv(argv: string[]): string[] {
  return argv.map((arg) => {
    if (arg === '--no-gzip' || arg === '--no-log') return `--${arg.slice(5)}=0`;
    return SPECS.some((s) => s.kind === 'bool' && s.flag === arg) ? `${arg}=1` : arg;
  });
}

/**
 * Parses argv (without node and script) and env into a configuration; flags through `node:util` `parseArgs`.
 * @throws CliError on an unknown flag, a missing or bad value, or `--fail-next` without a usable status
 */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv): SimCliConfig | 'help' {
  const values = new Map<string, number | boolean | string | string[]>();
  for (const spec of SPECS) {
    const raw = env[spec.env];
    if (raw !== undefined) values.set(spec.flag, parseValue(spec, raw, `${spec.env}=${JSON.stringify(raw)}`));
  }
  const { tokens } = parseArgs({ args: normalizeArgv(argv), options: PARSE_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return 'help';
  for (const t of tokens) {
    const spec = t.kind === 'option' ? SPECS.find((s) => s.flag === `--${t.name}`) : undefined;
    if (t.kind === 'option-terminator' || !spec || t.kind !== 'option') {
      throw new CliError(`unknown flag ${JSON.stringify(argv[t.index])}\n${USAGE}`);
    }
    if (t.value === undefined) throw new CliError(`${spec.flag}: missing value`);
    const source = spec.kind === 'bool' ? spec.flag : `${spec.flag} ${JSON.stringify(t.value)}`;
    values.set(spec.flag, parseValue(spec, t.value, source));
  }
  const num = (f: string) => values.get(f) as number | undefined;
  const failNext = num('--fail-next') ?? 0;
  const failStatus = num('--fail-status') ?? 500;
  const faultRate = num('--fault-rate');
  const kinds = values.get('--fault-kinds') as string[] | undefined;
  const routes = values.get('--fault-routes') as string[] | undefined;
  const badKind = kinds?.find((k) => !SIM_RANDOM_FAULT_KINDS.includes(k as SimRandomFaultKind));
  if (badKind !== undefined) throw new CliError(`--fault-kinds: unknown kind ${JSON.stringify(badKind)} (allowed: ${SIM_RANDOM_FAULT_KINDS.join(', ')})`);
  const exts = values.get('--extensions') as string[] | undefined;
  const badExt = exts?.find((x) => !(SIM_EXTENSIONS as readonly string[]).includes(x));
  if (badExt !== undefined) throw new CliError(`--extensions: unknown extension ${JSON.stringify(badExt)} (allowed: ${SIM_EXTENSIONS.join(', ')})`);
  if (faultRate === undefined && (kinds || routes || values.has('--fault-seed'))) {
    throw new CliError('--fault-seed / --fault-kinds / --fault-routes need --fault-rate');
  }
  return {
    options: {
      port: num('--port') ?? 3000,
      host: (values.get('--host') as string | undefined) ?? '127.0.0.1',
      startupDelayMs: num('--startup-delay-ms') ?? 0,
      stepMs: num('--step-ms') ?? 2,
      firstLoadDelayMs: num('--first-load-delay-ms') ?? 0,
      log: (values.get('--log') as boolean | undefined) ?? false,
      gzip: (values.get('--gzip') as boolean | undefined) ?? true,
      flavor: (values.get('--flavor') as SimFlavor | undefined) ?? 'a1111',
      extensions: (exts ?? []) as SimExtension[],
      ...(values.has('--data-dir') ? { dataDir: values.get('--data-dir') as string } : {}),
      ...(faultRate !== undefined
        ? {
            randomFaults: {
              rate: faultRate,
              seed: num('--fault-seed') ?? 0,
              ...(kinds ? { kinds: kinds as SimRandomFaultKind[] } : {}),
              ...(routes ? { routes } : {}),
            },
          }
        : {}),
    },
    failNext,
    failStatus,
  };
}

async function main(): Promise<void> {
  let cfg: SimCliConfig | 'help';
  try {
    cfg = parseCli(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`sim: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  if (cfg === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const t0 = Date.now();
  let sim: Simulator;
  try {
    sim = await startSimulator(cfg.options);
  } catch (e) {
    process.stderr.write(`sim: cannot start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  if (cfg.failNext > 0) sim.injectFault({ kind: 'status', status: cfg.failStatus, count: cfg.failNext });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`INFO:     Shutting down (${signal})\n`);
    sim.close().then(
      () => {
        process.stdout.write('INFO:     Finished server process\n');
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await sim.ready;
  } catch (e) {
    process.stderr.write(`sim: cannot listen on ${sim.url}: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  process.stdout.write(
    `Startup time: ${secs}s (prepare environment: 0.0s, import torch: 0.0s, initialize shared: 0.0s, load scripts: 0.0s, create ui: 0.0s).\n` +
      `INFO:     Started server process [${process.pid}]\n` +
      'INFO:     Waiting for application startup.\n' +
      'INFO:     Application startup complete.\n' +
      `INFO:     Uvicorn running on ${sim.url} (Press CTRL+C to quit)\n`,
  );
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) void main();
