// Operator configuration: defaults < ConfigMap < environment (TENSORFLEET_*)
// < command-line flags. One table drives parsing, defaults, validation and
// --help, through the engine both binaries share (src/cli/options.ts).
import type { OptionSpec } from '../cli/options.js';
import {
  ConfigError,
  describeOptions,
  envSource,
  fileSource,
  flagSource,
  resolveOptions,
} from '../cli/options.js';
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
  watchNamespaces: readonly string[];
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

export const OPERATOR_OPTIONS: OptionSpec<keyof OperatorConfig>[] = [
  {
    key: 'runtimeImage',
    default: 'ghcr.io/tensorfleet/runtime:0.1.0',
    flag: 'runtime-image',
    kind: 'string',
    help: 'Default runtime image for CPU backends.',
  },
  {
    key: 'runtimeGpuImage',
    default: 'ghcr.io/tensorfleet/runtime-gpu:0.1.0',
    flag: 'runtime-gpu-image',
    kind: 'string',
    help: 'Default runtime image for GPU pods.',
  },
  {
    key: 'gpuResourceName',
    default: 'nvidia.com/gpu',
    flag: 'gpu-resource-name',
    kind: 'string',
    help: 'Extended resource of a whole GPU.',
  },
  {
    key: 'watchNamespaces',
    default: [],
    flag: 'watch-namespaces',
    kind: 'list',
    help: 'Comma-separated namespaces to watch (default: all).',
  },
  {
    key: 'httpAddress',
    default: '0.0.0.0:8080',
    flag: 'http-address',
    kind: 'string',
    help: 'host:port serving /metrics, /healthz, /readyz.',
  },
  {
    key: 'leaderElect',
    default: false,
    flag: 'leader-elect',
    kind: 'bool',
    help: 'Elect a leader through a Lease (run several replicas safely).',
  },
  {
    key: 'leaderElectionNamespace',
    default: 'tensorfleet-system',
    flag: 'leader-election-namespace',
    kind: 'string',
    help: 'Namespace of the leader Lease.',
  },
  {
    key: 'leaderElectionId',
    default: 'tensorfleet-operator',
    flag: 'leader-election-id',
    kind: 'string',
    help: 'Name of the leader Lease.',
  },
  {
    key: 'leaseDurationSeconds',
    default: 15,
    flag: 'lease-duration-seconds',
    kind: 'int',
    min: 2,
    help: 'How long a leader holds the Lease without renewing.',
  },
  {
    key: 'renewDeadlineSeconds',
    default: 10,
    flag: 'renew-deadline-seconds',
    kind: 'int',
    min: 1,
    help: 'A leader that cannot renew within this stops leading.',
  },
  {
    key: 'retryPeriodSeconds',
    default: 2,
    flag: 'retry-period-seconds',
    kind: 'int',
    min: 1,
    help: 'How often candidates try to acquire or renew.',
  },
  {
    key: 'workers',
    default: 4,
    flag: 'workers',
    kind: 'int',
    min: 1,
    help: 'ModelDeployments reconciled at once.',
  },
  {
    key: 'resyncPeriodSeconds',
    default: 600,
    flag: 'resync-period-seconds',
    kind: 'int',
    min: 0,
    help: 'Every ModelDeployment is reconciled at least this often.',
  },
  {
    key: 'prometheusUrl',
    default: '',
    flag: 'prometheus-url',
    kind: 'string',
    help: 'Prometheus for canary analysis and autoscaling (pods are scraped when empty).',
  },
  {
    key: 'configMap',
    default: '',
    flag: 'config-map',
    kind: 'string',
    help: 'namespace/name of a ConfigMap with these settings (keys are the flag names).',
  },
  {
    key: 'logLevel',
    default: 'info',
    flag: 'log-level',
    kind: ['debug', 'info', 'warn', 'error'],
    help: 'Log level.',
  },
  {
    key: 'logFormat',
    default: 'auto',
    flag: 'log-format',
    kind: LOG_FORMATS,
    help: 'json: one JSON object per line; console: time, level, message and key=value fields for people; auto: console when stderr is a terminal, else json.',
  },
  {
    key: 'localCluster',
    default: 'off',
    flag: 'local-cluster',
    kind: ['off', 'auto'],
    help: 'auto: with no cluster configured, start an embedded control plane with simulated GPU nodes.',
  },
  {
    key: 'realNode',
    default: false,
    flag: 'real-node',
    kind: 'bool',
    help: 'With --local-cluster=auto: add a real node (containerd, kubelet; root on Linux, `npm run images` first) that serves a demo model.',
  },
];

/** Values from the environment (TENSORFLEET_*), then an optional ConfigMap's data. */
export function resolveConfig(
  flags: readonly string[],
  env: NodeJS.ProcessEnv,
  configMap?: { name: string; data: Readonly<Record<string, string>> },
): OperatorConfig {
  const config = resolveOptions<OperatorConfig>(OPERATOR_OPTIONS, [
    flagSource(flags, OPERATOR_OPTIONS),
    envSource(env, OPERATOR_OPTIONS),
    ...(configMap ? [fileSource(`ConfigMap ${configMap.name}`, configMap.data)] : []),
  ]);
  if (config.renewDeadlineSeconds >= config.leaseDurationSeconds) {
    throw new ConfigError('--renew-deadline-seconds must be shorter than --lease-duration-seconds');
  }
  if (!/^[^:]*:\d+$/.test(config.httpAddress)) {
    throw new ConfigError(
      `--http-address (${JSON.stringify(config.httpAddress)}) must be host:port`,
    );
  }
  return config;
}

/** What the operator runs with when nothing is set. */
export const DEFAULT_CONFIG: OperatorConfig = resolveConfig([], {});

export function usage(): string {
  return `Usage: tensorfleet-operator [flags]

Flags (each also read from its environment variable and, with --config-map, the
ConfigMap's key of the flag's name; flags win, then the environment; an empty
value is unset):
${describeOptions(OPERATOR_OPTIONS)}
  --help      This text.
  --version   The operator's version.
`;
}
