// The contract between the operator and the runtime it deploys, written once:
// what the operator puts into a pod (the runtime's command lines, its
// environment, port, probe paths and termination message file) and what it
// reads back (the runtime's metric names). The runtime parses and serves
// exactly these; the API, the builders, autoscaling and canary analysis use
// them. Pure: no I/O, no imports.

export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];
export const FORMATS = ['auto', 'tfjs-graph', 'tfjs-layers', 'tf-saved-model'] as const;
export type FormatChoice = (typeof FORMATS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const QUALITY_KINDS = ['auto', 'classification', 'regression'] as const;
export type QualityKind = (typeof QUALITY_KINDS)[number];

/** `tensorfleet-runtime serve`'s options: each is the flag `--<kebab-case key>` and the variable envName(flag). */
export interface ServeConfig {
  modelName: string;
  /** The model served at modelVersion; with modelBasePath, the base path (set from it). */
  modelUri: string;
  modelVersion: string;
  /** Serve the versions under <base>/<version>/ that modelVersionPolicy selects, instead of modelUri. */
  modelBasePath?: string;
  /** latest:N, all or specific:V1,V2 (TF Serving's model_version_policy). */
  modelVersionPolicy: string;
  /** Seconds between listings of modelBasePath; 0 lists it once. */
  fileSystemPollWaitSeconds: number;
  modelFormat: FormatChoice;
  signature: string;
  backend: BackendChoice;
  host: string;
  port: number;
  /** gRPC port (TF Serving's and the Open Inference Protocol's gRPC APIs); 0: any free port, -1: no gRPC. */
  grpcPort: number;
  maxBatchSize: number;
  batchTimeoutMicros: number;
  maxQueueSize: number;
  cpus: number;
  workers: number;
  decodeWorkers: number;
  warmupIterations: number;
  maxBodyBytes: number;
  drainTimeoutSeconds: number;
  maxConnectionAgeSeconds: number;
  requestTimeoutMs: number;
  modelCacheDir: string;
  downloadStallSeconds: number;
  /** Bodies at least this large are JSON-decoded in a worker instead of the HTTP thread. */
  decodeInWorkersMinBytes: number;
  /** Bodies up to this large are decoded on the HTTP thread anyway while every worker is busy. */
  decodeOnHttpThreadMaxBytes: number;
  /** A request alone in the runtime expected to compute within this many milliseconds runs on the HTTP thread. */
  inferOnHttpThreadMaxMs: number;
  /** For tests only: fraction of inference requests answered with a 500 INJECTED_FAILURE. */
  injectErrorRate: number;
  /** For tests only: milliseconds added to every inference (a slow model, for autoscaling tests). */
  injectLatencyMs: number;
  /** Record each prediction under its request id for feedback (docs/runtime.md, Model quality). */
  qualityTracking: boolean;
  /** The output whose predictions are judged; unset: the first. Setting it turns tracking on. */
  qualityOutput?: string;
  /** classification (argmax of each row) or regression (the values); auto: from the output's shape. */
  qualityKind: QualityKind;
  /** Labelled predictions the accuracy and mean absolute error gauges are computed over. */
  qualityWindow: number;
  /** Predictions kept for feedback, at most. */
  qualityLogMaxEntries: number;
  /** Predicted numbers kept for feedback, at most, over all entries (the log's memory bound). */
  qualityLogMaxValues: number;
  /** How long a prediction waits for its feedback. */
  qualityLogTtlSeconds: number;
  logLevel: LogLevel;
}

/** `tensorfleet-runtime fetch`'s options (the model download of an init container). */
export interface FetchConfig {
  modelUri: string;
  dest: string;
  retries: number;
  downloadStallSeconds: number;
  logLevel: LogLevel;
}

/** The port the runtime serves TF Serving REST, OIP v2, health and /metrics on. */
export const RUNTIME_PORT = 8501;
/** The port the runtime serves gRPC on (TF Serving's gRPC port). */
export const RUNTIME_GRPC_PORT = 8500;
/** OIP v2's health endpoints, which the pod's probes call. */
export const LIVE_PATH = '/v2/health/live';
export const READY_PATH = '/v2/health/ready';
/** Where the runtime writes why it exits (Kubernetes' terminationMessagePath). */
export const TERMINATION_LOG = '/dev/termination-log';

/** The flag of an option key: modelName -> model-name. */
export function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The environment variable of a flag: model-name -> TENSORFLEET_MODEL_NAME. */
export function envName(flag: string): string {
  return `TENSORFLEET_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** Every option is a string, a number or a boolean (ServeConfig, FetchConfig). */
type OptionValues = Partial<
  Record<keyof ServeConfig | keyof FetchConfig, string | number | boolean>
>;

function args(command: string, values: OptionValues): string[] {
  const out = [command];
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) out.push(`--${flagOf(key)}=${value}`);
  }
  return out;
}

/** `serve` and its flags, in the order given. */
export const serveArgs = (values: Partial<ServeConfig>): string[] => args('serve', values);

/** `fetch` and its flags, in the order given. */
export const fetchArgs = (values: Partial<FetchConfig>): string[] => args('fetch', values);

/**
 * Upper bounds (seconds) of the runtime's latency histograms, request duration
 * among them: a latency SLO's threshold must be one of them, since Prometheus
 * can only count requests below a bucket bound.
 */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** The runtime's metrics that the operator, its HPA and KEDA builders and canary analysis read. */
export const RUNTIME_METRICS = {
  requests: 'tensorfleet_runtime_requests_total',
  /** A histogram: its series are <name>_bucket, _sum and _count. */
  requestDuration: 'tensorfleet_runtime_request_duration_seconds',
  inflightRequests: 'tensorfleet_runtime_inflight_requests',
  queueDepth: 'tensorfleet_runtime_queue_depth',
  /**
   * 1 for the state each version held is in, as /v1/models/<m> reports it
   * (labels model, version, state: LOADING, AVAILABLE, UNLOADING, END;
   * error_code: OK, or UNKNOWN for a failed load).
   */
  modelVersionState: 'tensorfleet_runtime_model_version_state',
  /** Not exported by the runtime: the per-pod rate a metrics adapter derives from `requests`. */
  requestsPerSecond: 'tensorfleet_runtime_requests_per_second',
} as const;

/** The model quality series (with quality tracking on) that canary analysis and the dashboard read. */
export const MODEL_QUALITY_METRICS = {
  labelled: 'tensorfleet_model_predictions_labelled_total',
  correct: 'tensorfleet_model_predictions_correct_total',
  /** A histogram of each labelled regression row's absolute error: _sum over _count is the mean. */
  absoluteError: 'tensorfleet_model_absolute_error',
} as const;
