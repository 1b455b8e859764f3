// Operator configuration: defaults < ConfigMap < environment (TENSORFLEET_*)
// < command-line flags. One table drives parsing, validation and --help.
import { parseArgs } from 'node:util';
import type { LogFormat } from './logger.js';
import { LOG_FORMATS } from './logger.js';

export interface OperatorConfig {
  /** Runtime image for CPU backends. */
  runtimeImage: string;
  /** Runtime image for GPU pods (tfjs-node-gpu on CUDA). */
  runtimeGpuImage: string;
  /** Extended resource that provides a whole GPU. */
  gpuResourceName: string;
  /** Namespaces to watch; empty means all. */
  watchNamespaces: string[];
  /** host:port of the /metrics, /healthz and /readyz endpoint. */
  httpAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
  /** Reconciles running at once. */
  workers: number;
  resyncPeriodSeconds: number;
  /** Prometheus base URL for canary analysis and the builtin autoscaler; scrapes pods when empty. */
  prometheusUrl: string;
  /** ConfigMap (namespace/name) whose data overrides the defaults. */
  configMap: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** json | console | auto (console on a terminal, else json). */
  logFormat: LogFormat;
  /** Start an embedded control plane when no cluster is configured: off | auto. */
  localCluster: 'off' | 'auto';
  realNode: boolean;
}

type Kind = 'string' | 'int' | 'bool' | 'list' | readonly string[];

interface Option {
  key: keyof OperatorConfig;
  flag: string;
  kind: Kind;
  help: string;
  min?: number;
}

export const OPERATOR_OPTIONS: Option[] = [
  {
    key: 'runtimeImage',
    flag: 'runtime-image',
    kind: 'string',
    help: 'Default runtime image for CPU backends.',
  },
  {
    key: 'runtimeGpuImage',
    flag: 'runtime-gpu-image',
    kind: 'string',
    help: 'Default runtime image for GPU pods.',
  },
  {
    key: 'gpuResourceName',
    flag: 'gpu-resource-name',
    kind: 'string',
    help: 'Extended resource of a whole GPU.',
  },
  {
    key: 'watchNamespaces',
    flag: 'watch-namespaces',
    kind: 'list',
    help: 'Comma-separated namespaces to watch (default: all).',
  },
  {
    key: 'httpAddress',
    flag: 'http-address',
    kind: 'string',
    help: 'host:port serving /metrics, /healthz, /readyz.',
  },
  {
    key: 'leaderElect',
    flag: 'leader-elect',
    kind: 'bool',
    help: 'Elect a leader through a Lease (run several replicas safely).',
  },
  {
    key: 'leaderElectionNamespace',
    flag: 'leader-election-namespace',
    kind: 'string',
    help: 'Namespace of the leader Lease.',
  },
  {
    key: 'leaderElectionId',
    flag: 'leader-election-id',
    kind: 'string',
    help: 'Name of the leader Lease.',
  },
  {
    key: 'leaseDurationSeconds',
    flag: 'lease-duration-seconds',
    kind: 'int',
    min: 2,
    help: 'How long a leader holds the Lease without renewing.',
  },
  {
    key: 'renewDeadlineSeconds',
    flag: 'renew-deadline-seconds',
    kind: 'int',
    min: 1,
    help: 'A leader that cannot renew within this stops leading.',
  },
  {
    key: 'retryPeriodSeconds',
    flag: 'retry-period-seconds',
    kind: 'int',
    min: 1,
    help: 'How often candidates try to acquire or renew.',
  },
  {
    key: 'workers',
    flag: 'workers',
    kind: 'int',
    min: 1,
    help: 'ModelDeployments reconciled at once.',
  },
  {
    key: 'resyncPeriodSeconds',
    flag: 'resync-period-seconds',
    kind: 'int',
    min: 0,
    help: 'Every ModelDeployment is reconciled at least this often.',
  },
  {
    key: 'prometheusUrl',
    flag: 'prometheus-url',
    kind: 'string',
    help: 'Prometheus for canary analysis and autoscaling (pods are scraped when empty).',
  },
  {
    key: 'configMap',
    flag: 'config-map',
    kind: 'string',
    help: 'namespace/name of a ConfigMap with these settings (keys are the flag names).',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    kind: ['debug', 'info', 'warn', 'error'],
    help: 'Log level.',
  },
  {
    key: 'logFormat',
    flag: 'log-format',
    kind: LOG_FORMATS,
    help: 'json: one JSON object per line; console: time, level, message and key=value fields for people; auto: console when stderr is a terminal, else json.',
  },
  {
    key: 'localCluster',
    flag: 'local-cluster',
    kind: ['off', 'auto'],
    help: 'auto: with no cluster configured, start an embedded control plane with simulated GPU nodes.',
  },
  {
    key: 'realNode',
    flag: 'real-node',
    kind: 'bool',
    help: 'With --local-cluster=auto: add a real node (containerd, kubelet; root on Linux, `npm run images` first) that serves a demo model.',
  },
];

export const DEFAULT_CONFIG: OperatorConfig = {
  runtimeImage: 'ghcr.io/tensorfleet/runtime:0.1.0',
  runtimeGpuImage: 'ghcr.io/tensorfleet/runtime-gpu:0.1.0',
  gpuResourceName: 'nvidia.com/gpu',
  watchNamespaces: [],
  httpAddress: '0.0.0.0:8080',
  leaderElect: false,
  leaderElectionNamespace: 'tensorfleet-system',
  leaderElectionId: 'tensorfleet-operator',
  leaseDurationSeconds: 15,
  renewDeadlineSeconds: 10,
  retryPeriodSeconds: 2,
  workers: 4,
  resyncPeriodSeconds: 600,
  prometheusUrl: '',
  configMap: '',
  logLevel: 'info',
  logFormat: 'auto',
  localCluster: 'off',
  realNode: false,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const envName = (flag: string) => `TENSORFLEET_${flag.toUpperCase().replace(/-/g, '_')}`;

function parseValue(
  option: Option,
  raw: string,
  source: string,
): OperatorConfig[keyof OperatorConfig] {
  const fail = (why: string) =>
    new ConfigError(`${source}: ${option.flag}=${JSON.stringify(raw)}: ${why}`);
  switch (option.kind) {
    case 'string':
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'bool':
      if (['true', '1', 'yes'].includes(raw)) return true;
      if (['false', '0', 'no'].includes(raw)) return false;
      throw fail('expected true or false');
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw fail('expected an integer');
      const n = Number(raw);
      if (option.min !== undefined && n < option.min) throw fail(`must be at least ${option.min}`);
      return n;
    }
    default:
      if (!option.kind.includes(raw)) throw fail(`expected one of ${option.kind.join(', ')}`);
      return raw;
  }
}

/** Values from one source (flags, env or a ConfigMap's data), keyed by flag name. */
export type RawSettings = Record<string, string | undefined>;

/**
 * Reads `--flag=value` and `--flag value`; a boolean flag given alone
 * (`--leader-elect`, `--real-node`) means true, as `--help` shows it.
 */
export function readFlags(argv: string[]): RawSettings {
  const booleans = new Set(
    OPERATOR_OPTIONS.filter((o) => o.kind === 'bool').map((o) => `--${o.flag}`),
  );
  const args = argv.flatMap((arg, i) => {
    const next = argv[i + 1];
    const valueFollows = next !== undefined && /^(true|false)$/i.test(next);
    return booleans.has(arg) && !valueFollows ? [`${arg}=true`] : [arg];
  });
  const { values } = parseArgs({
    args,
    options: Object.fromEntries(OPERATOR_OPTIONS.map((o) => [o.flag, { type: 'string' as const }])),
    allowPositionals: false,
    strict: true,
  });
  return values;
}

export function readEnv(env: NodeJS.ProcessEnv): RawSettings {
  return Object.fromEntries(OPERATOR_OPTIONS.map((o) => [o.flag, env[envName(o.flag)]]));
}

/** Merges sources, later ones winning, and validates every value. */
export function resolveConfig(...sources: { name: string; values: RawSettings }[]): OperatorConfig {
  const config: OperatorConfig = { ...DEFAULT_CONFIG };
  const known = new Set(OPERATOR_OPTIONS.map((o) => o.flag));
  for (const source of sources) {
    for (const [flag, raw] of Object.entries(source.values)) {
      if (raw === undefined) continue;
      if (!known.has(flag)) throw new ConfigError(`${source.name}: unknown setting ${flag}`);
      const option = OPERATOR_OPTIONS.find((o) => o.flag === flag)!;
      (config as unknown as Record<string, unknown>)[option.key] = parseValue(
        option,
        raw,
        source.name,
      );
    }
  }
  if (config.renewDeadlineSeconds >= config.leaseDurationSeconds) {
    throw new ConfigError('renew-deadline-seconds must be shorter than lease-duration-seconds');
  }
  if (!/^[^:]*:\d+$/.test(config.httpAddress)) {
    throw new ConfigError(`http-address ${config.httpAddress}: expected host:port`);
  }
  return config;
}

export function usage(): string {
  const lines = OPERATOR_OPTIONS.map((o) => {
    const def = DEFAULT_CONFIG[o.key];
    const shown = Array.isArray(def) ? def.join(',') : String(def);
    return `  --${o.flag.padEnd(28)} ${o.help} [${envName(o.flag)}; default ${shown || '""'}]`;
  });
  const own = [
    `  --${'help'.padEnd(28)} This text.`,
    `  --${'version'.padEnd(28)} The operator's version.`,
  ];
  return `Usage: tensorfleet-operator [flags]\n\n${[...lines, ...own].join('\n')}\n`;
}
