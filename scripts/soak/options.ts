/**
 * The soak's options: their defaults, and how `npm run soak` reads them from flags (`node:util.parseArgs`) and env.
 */
import { parseArgs } from 'node:util';

/** Options of `runSoak`; every field is optional. */
export interface SoakOptions {
  /** Jobs to run; default 1000. */
  jobs?: number;
  /** Seed of every fault generator; default 1. */
  seed?: number;
  /** Fault rate of each link (A1111 calls, job-takes, job-dones) unless set below; default 0.15. */
  faultRate?: number;
  /** Share of A1111 calls faulted (500 / reset / non-JSON 200, equally likely). */
  a1111FaultRate?: number;
  /** Share of job-takes faulted (500 / 429 / garbage / reset, before any job is assigned). */
  takeFaultRate?: number;
  /** Share of job-dones faulted (500 / reset, before the result is recorded). */
  doneFaultRate?: number;
  /** Jobs submitted and not yet final at any time; default 16. */
  window?: number;
  /** Jobs in each RSS window (first and last); default 200. */
  rssWindow?: number;
  /** Largest allowed ratio of the last window's peak RSS to the first one's; default 1.2. */
  rssMaxGrowth?: number;
  /** Enforce the RSS check; default: when there are at least 2 × `rssWindow` jobs. */
  checkRss?: boolean;
  /** Smallest share of faulted calls required on each link; default 0.1. */
  minFaultShare?: number;
  /** `policy.executionTimeout` of every job, ms; default 30 000 (a job can never hang forever). */
  executionTimeoutMs?: number;
  /** Give up waiting when no job became final for this long, ms; default `executionTimeoutMs` + 15 000. */
  stallTimeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** The defaults of {@link SoakOptions}. */
export const SOAK_DEFAULTS = { jobs: 1000, seed: 1, faultRate: 0.15, window: 16, rssWindow: 200, rssMaxGrowth: 1.2, minFaultShare: 0.1, executionTimeoutMs: 30_000 } as const;

/** {@link SoakOptions} with every default applied (the three fault rates split per link). */
export type ResolvedSoakOptions = Required<Omit<SoakOptions, 'faultRate'>>;

/** Applies the defaults of {@link SOAK_DEFAULTS} (and the derived ones) to `options`. */
export function resolveSoakOptions(options: SoakOptions): ResolvedSoakOptions {
  const jobs = options.jobs ?? SOAK_DEFAULTS.jobs;
  const rate = options.faultRate ?? SOAK_DEFAULTS.faultRate;
  const rssWindow = options.rssWindow ?? SOAK_DEFAULTS.rssWindow;
  const executionTimeoutMs = options.executionTimeoutMs ?? SOAK_DEFAULTS.executionTimeoutMs;
  return {
    jobs,
    seed: options.seed ?? SOAK_DEFAULTS.seed,
    a1111FaultRate: options.a1111FaultRate ?? rate,
    takeFaultRate: options.takeFaultRate ?? rate,
    doneFaultRate: options.doneFaultRate ?? rate,
    window: Math.max(1, options.window ?? SOAK_DEFAULTS.window),
    rssWindow,
    rssMaxGrowth: options.rssMaxGrowth ?? SOAK_DEFAULTS.rssMaxGrowth,
    checkRss: options.checkRss ?? jobs >= 2 * rssWindow,
    minFaultShare: options.minFaultShare ?? SOAK_DEFAULTS.minFaultShare,
    executionTimeoutMs,
    stallTimeoutMs: options.stallTimeoutMs ?? executionTimeoutMs + 15_000,
    log: options.log ?? (() => undefined),
  };
}

/** The flags of `npm run soak`: name → the option it sets and how its value reads. */
const FLAGS = {
  jobs: ['jobs', 'int'],
  seed: ['seed', 'int'],
  window: ['window', 'int'],
  'fault-rate': ['faultRate', 'rate'],
  'a1111-fault-rate': ['a1111FaultRate', 'rate'],
  'take-fault-rate': ['takeFaultRate', 'rate'],
  'done-fault-rate': ['doneFaultRate', 'rate'],
} as const satisfies Record<string, readonly [keyof SoakOptions, 'int' | 'rate']>;

/** A non-negative integer (`int`) or a number from 0 to 1 (`rate`). @throws Error naming `name` */
function num(name: string, raw: string | undefined, kind: 'int' | 'rate'): number {
  const n = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(n) || (kind === 'int' ? !Number.isInteger(n) || n < 0 : n < 0 || n > 1)) {
    throw new Error(`${name}: expected ${kind === 'int' ? 'a non-negative integer' : 'a number from 0 to 1'}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/**
 * Parses the CLI flags and env into options: env `SOAK_JOBS`, `SOAK_SEED`, `SOAK_FAULT_RATE`, then the flags
 * `--jobs N`, `--seed N`, `--window N`, `--fault-rate R`, `--a1111-fault-rate R`, `--take-fault-rate R`,
 * `--done-fault-rate R` (each as `--flag value` or `--flag=value`, the last one wins) and `--no-rss-check`.
 * @throws Error naming a bad flag or value
 */
export function parseSoakArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SoakOptions {
  const o: SoakOptions = {};
  if (env.SOAK_JOBS) o.jobs = num('SOAK_JOBS', env.SOAK_JOBS, 'int');
  if (env.SOAK_SEED) o.seed = num('SOAK_SEED', env.SOAK_SEED, 'int');
  if (env.SOAK_FAULT_RATE) o.faultRate = num('SOAK_FAULT_RATE', env.SOAK_FAULT_RATE, 'rate');
  const options = Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: 'string' as const }]));
  // Not strict: unknown flags and stray words come back as tokens, refused below with the message of old.
  const { tokens } = parseArgs({ args: [...argv], options: { ...options, 'no-rss-check': { type: 'boolean' } }, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'option' && t.name === 'no-rss-check') o.checkRss = false;
    else if (t.kind === 'option' && Object.hasOwn(FLAGS, t.name)) {
      const [key, kind] = FLAGS[t.name as keyof typeof FLAGS];
      o[key] = num(t.rawName, t.value, kind);
    } else throw new Error(`unknown flag ${JSON.stringify(argv[t.index])}`);
  }
  return o;
}
