// Runtime configuration: every option is a command-line flag with a matching
// TENSORFLEET_* environment variable (flags win; src/cli/options.ts, the
// engine both binaries share). The tables below are the single source for
// parsing, defaults, validation and `--help`; the options
// themselves (names, types, lists) are the operator-runtime contract
// (src/contract/runtime.ts), which the operator writes pods' arguments with.

import type { FetchConfig, ServeConfig } from '../contract/runtime.js';
import {
  BACKENDS,
  FORMATS,
  LOG_LEVELS,
  QUALITY_KINDS,
  RUNTIME_GRPC_PORT,
  RUNTIME_PORT,
} from '../contract/runtime.js';
import type { OptionSpec } from '../cli/options.js';
import {
  ConfigError,
  describeOptions,
  envSource,
  flagSource,
  resolveOptions,
} from '../cli/options.js';
import { detectCpus } from './cpus.js';
import { RuntimeError } from './errors.js';
import { refuseOciBasePath } from './sources/oci-reference.js';
import { parseVersionPolicy } from './versions/version-policy.js';

const MAX_WORKERS = 64;

/** One inference worker per CPU, less one for the HTTP thread (within the flag's range). */
const defaultWorkers = (resolved: Readonly<Record<string, unknown>>): number =>
  Math.min(MAX_WORKERS, Math.max(1, Number(resolved['cpus']) - 1));

/** `serve` downloads remote models as `fetch` does: one stall rule for both. */
const DOWNLOAD_STALL_OPTION: OptionSpec<'downloadStallSeconds'> = {
  key: 'downloadStallSeconds',
  flag: 'download-stall-seconds',
  kind: 'int',
  default: 30,
  min: 1,
  max: 3600,
  help: 'A download that moves no byte for this long is aborted and retried.',
};

export const SERVE_OPTIONS: OptionSpec<keyof ServeConfig>[] = [
  {
    key: 'modelName',
    flag: 'model-name',
    kind: 'string',
    required: true,
    help: 'Name the model is served under (URL path segment).',
  },
  {
    key: 'modelUri',
    flag: 'model-uri',
    kind: 'string',
    help: 'file://, http(s)://, s3://, gs://, az://<account>/<container>/<path> (or https://<account>.blob.core.windows.net/...), hf://<org>/<repo>[@<revision>]/<path> (Hugging Face Hub), oci://<registry>/<repository>:<tag> or @sha256:<digest> (OCI registry), pvc://<claim>/<path>, or a local path. Required unless --model-base-path is given.',
  },
  {
    key: 'modelVersion',
    flag: 'model-version',
    kind: 'string',
    default: '1',
    help: 'Version label reported and accepted in URLs (of --model-uri; not used with --model-base-path).',
  },
  {
    key: 'modelBasePath',
    flag: 'model-base-path',
    kind: 'string',
    help: 'Instead of --model-uri: a directory of numbered version directories (<base>/<version>/; a local path, file://, s3://, gs://, az://, hf:// or pvc://), whose versions --model-version-policy selects are served, followed as they are added and removed.',
  },
  {
    key: 'modelVersionPolicy',
    flag: 'model-version-policy',
    kind: 'string',
    default: 'latest:1',
    help: 'With --model-base-path: latest:N (the N highest versions), all, or specific:V1,V2.',
  },
  {
    key: 'fileSystemPollWaitSeconds',
    flag: 'file-system-poll-wait-seconds',
    kind: 'int',
    default: 1,
    min: 0,
    max: 86_400,
    help: 'With --model-base-path: seconds between listings of the base path; 0 lists it once.',
  },
  {
    key: 'modelFormat',
    flag: 'model-format',
    kind: FORMATS,
    default: 'auto',
    help: 'Model format; auto detects from the files.',
  },
  {
    key: 'signature',
    flag: 'signature',
    kind: 'string',
    default: 'serving_default',
    help: 'Signature name served.',
  },
  {
    key: 'backend',
    flag: 'backend',
    kind: BACKENDS,
    default: 'auto',
    help: 'tfjs backend; auto picks the best that loads.',
  },
  { key: 'host', flag: 'host', kind: 'string', default: '0.0.0.0', help: 'Address to listen on.' },
  {
    key: 'port',
    flag: 'port',
    kind: 'int',
    default: RUNTIME_PORT,
    min: 0,
    max: 65535,
    help: 'HTTP port (TF Serving REST default).',
  },
  {
    key: 'grpcPort',
    flag: 'grpc-port',
    kind: 'int',
    default: RUNTIME_GRPC_PORT,
    min: -1,
    max: 65535,
    help: 'gRPC port (TF Serving gRPC default); 0: any free port, -1: no gRPC server.',
  },
  {
    key: 'maxBatchSize',
    flag: 'max-batch-size',
    kind: 'int',
    default: 32,
    min: 1,
    help: 'Most rows merged into one model call.',
  },
  {
    key: 'batchTimeoutMicros',
    flag: 'batch-timeout-micros',
    kind: 'int',
    default: 2000,
    min: 0,
    help: 'Longest a request waits for others to batch with while a worker is idle.',
  },
  {
    key: 'maxQueueSize',
    flag: 'max-queue-size',
    kind: 'int',
    default: 256,
    min: 1,
    help: 'Requests waiting for a worker; beyond it requests get 429.',
  },
  {
    key: 'cpus',
    flag: 'cpus',
    kind: 'int',
    default: () => detectCpus(),
    defaultText: 'the CPU limit, else the machine',
    min: 1,
    max: 1024,
    help: "CPUs this runtime may use: the default --workers and TensorFlow's thread pools follow it. Default: the container's CPU limit (cgroup quota, rounded up), else the machine's CPUs.",
  },
  {
    key: 'workers',
    flag: 'workers',
    kind: 'int',
    default: defaultWorkers,
    defaultText: 'cpus - 1, at least 1',
    min: 1,
    max: MAX_WORKERS,
    help: 'Inference worker threads, each holding the model.',
  },
  {
    key: 'decodeWorkers',
    flag: 'decode-workers',
    kind: 'int',
    default: 1,
    min: 0,
    max: 64,
    help: 'Threads that only decode JSON bodies (no model), beside the inference workers.',
  },
  {
    key: 'warmupIterations',
    flag: 'warmup-iterations',
    kind: 'int',
    default: 2,
    min: 0,
    help: 'Inferences run per worker before the runtime reports ready.',
  },
  {
    key: 'maxBodyBytes',
    flag: 'max-body-bytes',
    kind: 'int',
    default: 64 * 1024 * 1024,
    min: 1024,
    help: 'Largest request body; larger gets 413.',
  },
  {
    key: 'drainTimeoutSeconds',
    flag: 'drain-timeout-seconds',
    kind: 'float',
    default: 30,
    min: 0,
    help: 'On SIGTERM, longest time to serve on until traffic stops.',
  },
  {
    key: 'maxConnectionAgeSeconds',
    flag: 'max-connection-age-seconds',
    kind: 'float',
    default: 30,
    min: 0,
    help: 'A keep-alive connection older than this is closed after its next answer, so clients spread again over the pods (canaries, scale-ups); 0: never.',
  },
  {
    key: 'requestTimeoutMs',
    flag: 'request-timeout-ms',
    kind: 'int',
    default: 30000,
    min: 1,
    help: 'Per-request deadline (queue + compute); past it 504.',
  },
  {
    key: 'modelCacheDir',
    flag: 'model-cache-dir',
    kind: 'string',
    default: '/tmp/tensorfleet/models',
    help: 'Where remote models are downloaded.',
  },
  DOWNLOAD_STALL_OPTION,
  {
    key: 'decodeInWorkersMinBytes',
    flag: 'decode-in-workers-min-bytes',
    kind: 'int',
    default: 4096,
    min: 0,
    help: 'JSON bodies this large or larger are parsed in a worker thread.',
  },
  {
    key: 'decodeOnHttpThreadMaxBytes',
    flag: 'decode-on-http-thread-max-bytes',
    kind: 'int',
    default: 65536,
    min: 0,
    help: 'While every worker is busy, JSON bodies up to this size are parsed on the HTTP thread.',
  },
  {
    key: 'inferOnHttpThreadMaxMs',
    flag: 'infer-on-http-thread-max-ms',
    kind: 'float',
    default: 2,
    min: 0,
    help: 'A request alone in the runtime is computed on the HTTP thread (no hop to a worker) when it should take at most this long and the model holds at most 64 MiB; 0: always in workers.',
  },
  {
    key: 'injectErrorRate',
    flag: 'inject-error-rate',
    kind: 'float',
    default: 0,
    min: 0,
    max: 1,
    help: 'TESTS ONLY: fraction of inferences that fail with 500.',
  },
  {
    key: 'injectLatencyMs',
    flag: 'inject-latency-ms',
    kind: 'int',
    default: 0,
    min: 0,
    max: 60_000,
    help: 'TESTS ONLY: milliseconds added to every inference.',
  },
  {
    key: 'qualityTracking',
    flag: 'quality-tracking',
    kind: 'bool',
    default: false,
    help: 'Record each prediction under its request id (x-request-id) so that feedback can label it later; --quality-output or --quality-kind turn it on too.',
  },
  {
    key: 'qualityOutput',
    flag: 'quality-output',
    kind: 'string',
    defaultText: 'the first output',
    help: 'The output whose predictions feedback judges.',
  },
  {
    key: 'qualityKind',
    flag: 'quality-kind',
    kind: QUALITY_KINDS,
    default: 'auto',
    help: 'classification (the argmax of each row is the predicted class) or regression (the values); auto: classification when the output is [rows, classes] with classes > 1.',
  },
  {
    key: 'qualityWindow',
    flag: 'quality-window',
    kind: 'int',
    default: 1000,
    min: 1,
    max: 1_000_000,
    help: 'Last labelled predictions that the accuracy and mean absolute error gauges cover.',
  },
  {
    key: 'qualityLogMaxEntries',
    flag: 'quality-log-max-entries',
    kind: 'int',
    default: 100_000,
    min: 1,
    max: 10_000_000,
    help: 'Predictions kept for feedback, at most; the oldest is dropped first.',
  },
  {
    key: 'qualityLogMaxValues',
    flag: 'quality-log-max-values',
    kind: 'int',
    default: 4_000_000,
    min: 1,
    max: 1_000_000_000,
    help: 'Predicted numbers (8 bytes each) kept for feedback, over all predictions; the oldest are dropped first.',
  },
  {
    key: 'qualityLogTtlSeconds',
    flag: 'quality-log-ttl-seconds',
    kind: 'float',
    default: 3600,
    min: 0.001,
    help: 'How long a prediction waits for its feedback.',
  },
  { key: 'logLevel', flag: 'log-level', kind: LOG_LEVELS, default: 'info', help: 'Log level.' },
];

export const FETCH_OPTIONS: OptionSpec<keyof FetchConfig>[] = [
  {
    key: 'modelUri',
    flag: 'model-uri',
    kind: 'string',
    required: true,
    help: 'Model to download: http(s)://, s3://, gs://, hf://<org>/<repo>[@<revision>]/<path> (Hugging Face Hub), file://, pvc://<claim>/<path> or a local path.',
  },
  {
    key: 'dest',
    flag: 'dest',
    kind: 'string',
    required: true,
    help: 'Directory to place the model in (replaced atomically).',
  },
  {
    key: 'retries',
    flag: 'retries',
    kind: 'int',
    default: 4,
    min: 0,
    max: 20,
    help: 'Retries for transient failures, with exponential backoff.',
  },
  DOWNLOAD_STALL_OPTION,
  { key: 'logLevel', flag: 'log-level', kind: LOG_LEVELS, default: 'info', help: 'Log level.' },
];

/** The options of `specs` from flags over TENSORFLEET_* variables over defaults. */
function resolve<T>(
  specs: readonly OptionSpec[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): T {
  try {
    return resolveOptions<T>(specs, [flagSource(argv, specs), envSource(env, specs)]);
  } catch (err) {
    if (err instanceof ConfigError) throw new RuntimeError('CONFIG_INVALID', err.message);
    throw err;
  }
}

export function parseServeConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ServeConfig {
  const resolved = resolve<ServeConfig>(SERVE_OPTIONS, argv, env);
  const config = withModelSource(resolved);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(config.modelName)) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      `--model-name "${config.modelName}" may contain only letters, digits, ".", "_" and "-"`,
    );
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(config.modelVersion)) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      `--model-version "${config.modelVersion}" may contain only letters, digits, ".", "_" and "-"`,
    );
  }
  return config;
}

/** Exactly one of --model-uri and --model-base-path; the base path stands as the URI. */
function withModelSource(config: ServeConfig): ServeConfig {
  // The options engine leaves an unset --model-uri undefined (it is not required on its own).
  const uri = config.modelUri as string | undefined;
  const base = config.modelBasePath;
  if (uri !== undefined && base !== undefined) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      'give --model-uri (one version) or --model-base-path (its version directories), not both',
    );
  }
  if (base !== undefined) {
    refuseOciBasePath(base);
    parseVersionPolicy(config.modelVersionPolicy);
    return { ...config, modelUri: base };
  }
  if (uri === undefined) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      '--model-uri (or TENSORFLEET_MODEL_URI) is required, or --model-base-path for version directories',
    );
  }
  return config;
}

export function parseFetchConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): FetchConfig {
  return resolve<FetchConfig>(FETCH_OPTIONS, argv, env);
}

export function usage(command: string, specs: readonly OptionSpec[]): string {
  return [
    `Usage: tensorfleet-runtime ${command} [flags]`,
    '',
    'Flags (each also read from its environment variable; an empty value is unset):',
    describeOptions(specs),
  ].join('\n');
}

/** Defaults for embedding the runtime in-process (tests, benches). */
export function serveConfigDefaults(
  overrides: Partial<ServeConfig> & Pick<ServeConfig, 'modelName' | 'modelUri'>,
): ServeConfig {
  const base = parseServeConfig(
    ['--model-name', overrides.modelName, '--model-uri', overrides.modelUri],
    {},
  );
  return Object.freeze({ ...base, ...overrides });
}
