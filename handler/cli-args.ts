/**
 * The worker's command-line flags, with RunPod's names (runpod-python `runpod/serverless/__init__.py` `_set_config_args`).
 */
import { parseArgs as parseArgv } from 'node:util';
import { ConfigError } from './errors/index.js';

/** Parsed CLI flags (RunPod's names). */
export interface CliArgs {
  rp_log_level?: string;
  rp_debugger?: boolean;
  rp_serve_api?: boolean;
  rp_api_port?: number;
  rp_api_concurrency?: number;
  rp_api_host?: string;
  /** Raw JSON text of `--test_input`. */
  test_input?: string;
}

const FLAG_TYPES: Record<keyof CliArgs, 'string' | 'bool' | 'int'> = {
  rp_log_level: 'string',
  rp_debugger: 'bool',
  rp_serve_api: 'bool',
  rp_api_port: 'int',
  rp_api_concurrency: 'int',
  rp_api_host: 'string',
  test_input: 'string',
};

/**
 * Parses RunPod's CLI flags with `node:util.parseArgs`: `--flag value` and `--flag=value` (runpod-python
 * `runpod/serverless/__init__.py` `_set_config_args`; docs/runpod-protocol.md, "Flags (`argparse`, prog `runpod`)").
 * Unknown arguments are returned in `rest`, as given (Python's `parse_known_args` keeps them too).
 * @throws ConfigError for a flag without its value, a value on a switch, or a non-integer where an integer is wanted.
 */
export function parseArgs(argv: readonly string[]): { args: CliArgs; rest: string[] } {
  const options = Object.fromEntries(Object.entries(FLAG_TYPES).map(([name, kind]) => [name, { type: kind === 'bool' ? 'boolean' : 'string' }] as const));
  const { tokens } = parseArgv({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const args: CliArgs = {};
  const rest: string[] = [];
  const bag = args as Record<string, string | number | boolean>;
  for (const t of tokens) {
    const name = t.kind === 'option' ? (t.name as keyof CliArgs) : undefined;
    if (t.kind !== 'option' || !t.rawName.startsWith('--') || !name || !(name in FLAG_TYPES)) {
      // Not one of ours: kept as given (an unknown option's value, if any, is a positional token of its own).
      rest.push(argv[t.index]!);
      continue;
    }
    const kind = FLAG_TYPES[name];
    if (kind === 'bool') {
      if (t.value !== undefined) throw new ConfigError(`--${name} takes no value (got ${JSON.stringify(t.value)})`);
      bag[name] = true;
      continue;
    }
    const value = t.value;
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    if (kind === 'int') {
      if (!/^\d+$/.test(value)) throw new ConfigError(`--${name} must be a non-negative integer (got ${JSON.stringify(value)})`);
      bag[name] = Number(value);
    } else {
      bag[name] = value;
    }
  }
  return { args, rest };
}
