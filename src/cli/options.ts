// Command-line options, one engine for both binaries (tensorfleet-operator and
// tensorfleet-runtime): each binary describes its options in one table, which
// drives parsing, validation, defaults and --help.
//
// Sources, highest first: flags, environment variables (TENSORFLEET_<FLAG>),
// a settings file (the operator's ConfigMap), the table's defaults.
// One rule for empty values in every source: an empty value is "not set here"
// and the next source decides. Kubernetes' `value: ""` and Helm templates that
// render an unset value as "" mean exactly that; and no option has an empty
// value that differs from its default.
// The result is frozen: nothing changes a configuration once it is read.

import { envName } from '../contract/runtime.js';

export type OptionValue = string | number | boolean | readonly string[];
type Resolved = Readonly<Record<string, OptionValue>>;

/** string, int, float, bool, list (comma-separated), or one of the given words. */
export type OptionKind = 'string' | 'int' | 'float' | 'bool' | 'list' | readonly string[];

export interface OptionSpec<K extends string = string> {
  key: K;
  flag: string;
  kind: OptionKind;
  help: string;
  /** A value, or a function of the options resolved before this one (in table order). */
  default?: OptionValue | ((resolved: Resolved) => OptionValue);
  /** How --help shows a default that is computed. */
  defaultText?: string;
  required?: boolean;
  min?: number;
  max?: number;
}

/** A configuration that cannot be used: the process should exit with status 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Values from one source, keyed by flag name, with how to name a setting in an error. */
export interface OptionSource {
  values: Readonly<Record<string, string | undefined>>;
  /** e.g. `--workers`, `TENSORFLEET_WORKERS`, `ConfigMap ops/tensorfleet: workers`. */
  describe(flag: string): string;
  /** Whether a name not in the table is an error (flags, files) or ignored (the environment). */
  strict: boolean;
}

/**
 * `--flag=value` and `--flag value`; a boolean flag given alone means true
 * (`--leader-elect`), unless `true` or `false` follows it.
 */
export function flagSource(argv: readonly string[], specs: readonly OptionSpec[]): OptionSource {
  const byFlag = new Map(specs.map((s) => [s.flag, s]));
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = byFlag.get(flag);
    if (spec === undefined) throw new ConfigError(`unknown flag --${flag}`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (spec.kind === 'bool' && !/^(true|false)$/i.test(argv[i + 1] ?? '')) value = 'true';
    else value = argv[++i];
    if (value === undefined) throw new ConfigError(`flag --${flag} needs a value`);
    values[flag] = value;
  }
  return { values, describe: (flag) => `--${flag}`, strict: true };
}

export function envSource(env: NodeJS.ProcessEnv, specs: readonly OptionSpec[]): OptionSource {
  return {
    values: Object.fromEntries(specs.map((s) => [s.flag, env[envName(s.flag)]])),
    describe: envName,
    strict: false,
  };
}

/** Settings keyed by flag name from a file or a ConfigMap's data, named `name` in errors. */
export function fileSource(name: string, values: Readonly<Record<string, string>>): OptionSource {
  return { values, describe: (flag) => `${name}: ${flag}`, strict: true };
}

function convert(spec: OptionSpec, raw: string, where: string): OptionValue {
  const fail = (why: string) => new ConfigError(`${where} (${JSON.stringify(raw)}) ${why}`);
  const kind = spec.kind;
  if (typeof kind !== 'string') {
    if (!kind.includes(raw)) throw fail(`must be one of: ${kind.join(', ')}`);
    return raw;
  }
  switch (kind) {
    case 'string':
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'bool':
      if (/^(true|1|yes)$/i.test(raw)) return true;
      if (/^(false|0|no)$/i.test(raw)) return false;
      throw fail('must be true or false');
    case 'int':
    case 'float': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
        throw fail(`must be ${kind === 'int' ? 'an integer' : 'a number'}`);
      }
      if (spec.min !== undefined && n < spec.min) throw fail(`must be >= ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw fail(`must be <= ${spec.max}`);
      return n;
    }
  }
}

/**
 * The configuration from `sources` (highest first) over the table's defaults,
 * frozen. Throws ConfigError naming the source and setting of a bad value.
 */
export function resolveOptions<T>(
  specs: readonly OptionSpec[],
  sources: readonly OptionSource[],
): T {
  const known = new Set(specs.map((s) => s.flag));
  for (const source of sources.filter((s) => s.strict)) {
    const unknown = Object.keys(source.values).find((flag) => !known.has(flag));
    if (unknown !== undefined)
      throw new ConfigError(`${source.describe(unknown)}: unknown setting`);
  }
  const out: Record<string, OptionValue> = {};
  for (const spec of specs) {
    const from = sources.find((s) => (s.values[spec.flag] ?? '') !== '');
    if (from !== undefined) {
      out[spec.key] = convert(spec, from.values[spec.flag]!, from.describe(spec.flag));
    } else if (spec.default !== undefined) {
      out[spec.key] = typeof spec.default === 'function' ? spec.default(out) : spec.default;
    } else if (spec.required) {
      throw new ConfigError(`--${spec.flag} (or ${envName(spec.flag)}) is required`);
    }
  }
  for (const value of Object.values(out)) if (Array.isArray(value)) Object.freeze(value);
  return Object.freeze(out) as T;
}

/** --help's flag list: type, variable, default and help of each option. */
export function describeOptions(specs: readonly OptionSpec[]): string {
  return specs
    .map((s) => {
      const kind = typeof s.kind === 'string' ? s.kind : s.kind.join('|');
      const value = s.defaultText ?? (typeof s.default === 'function' ? undefined : s.default);
      const text = Array.isArray(value) ? value.join(',') : value;
      const shown = text === '' ? '""' : text;
      const def =
        shown !== undefined ? ` (default ${String(shown)})` : s.required ? ' (required)' : '';
      return `  --${s.flag} <${kind}>  ${envName(s.flag)}${def}\n      ${s.help}`;
    })
    .join('\n');
}
