/**
 * The worker's command-line flags, with RunPod's names (runpod-python `runpod/serverless/__init__.py` `_set_config_args`).
 */
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
 * Parses RunPod's CLI flags (spec §13.1): `--flag value` and `--flag=value`. Unknown arguments are
 * returned in `rest` (Python's `parse_known_args` keeps them too).
 * @throws ConfigError for a flag without its value or a non-integer where an integer is wanted.
 */
export function parseArgs(argv: readonly string[]): { args: CliArgs; rest: string[] } {
  const args: CliArgs = {};
  const rest: string[] = [];
  const bag = args as Record<string, string | number | boolean>;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([a-z_]+)(?:=(.*))?$/s.exec(a);
    const name = m?.[1] as keyof CliArgs | undefined;
    if (!m || !name || !(name in FLAG_TYPES)) {
      rest.push(a);
      continue;
    }
    const kind = FLAG_TYPES[name];
    if (kind === 'bool') {
      if (m[2] !== undefined) throw new ConfigError(`--${name} takes no value (got ${JSON.stringify(m[2])})`);
      bag[name] = true;
      continue;
    }
    let value = m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    }
    if (kind === 'int') {
      if (!/^\d+$/.test(value)) throw new ConfigError(`--${name} must be a non-negative integer (got ${JSON.stringify(value)})`);
      bag[name] = Number(value);
    } else {
      bag[name] = value;
    }
  }
  return { args, rest };
}
