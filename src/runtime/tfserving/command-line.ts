// `tensorfleet-runtime tensorflow_model_server [flags]`: TF Serving's command
// line (tensorflow_serving/model_servers/main.cc and server.cc), read into one
// frozen typed config. Flags are spelled as TF Serving spells them; every flag
// it has is supported, accepted without effect (and reported in `notices`) or
// refused by name with the reason (flags.ts); anything else is refused.
//
// As TF Serving's parser: `--flag=value`, bools also as `--flag`; a flag given
// twice takes its last value (TF Serving's Docker entrypoint passes --port,
// --rest_api_port, --model_name and --model_base_path before the user's own
// arguments, which override them). Beyond it: `--flag value` for flags that
// are not bools, and unknown arguments are errors, not warnings.

import { readFileSync } from 'node:fs';
import { RuntimeError } from '../errors.js';
import type { TfServingBatching } from './batching-parameters.js';
import { TF_SERVING_BATCHING_DEFAULTS, parseBatchingParameters } from './batching-parameters.js';
import { deepFreeze } from './deep-freeze.js';
import type { FlagValue, TfServingFlag } from './flags.js';
import { TF_SERVING_FLAGS } from './flags.js';
import type { TfServingModel } from './model-server-config.js';
import {
  DEFAULT_VERSION_POLICY,
  MODEL_NAME,
  basePathProblem,
  parseModelServerConfig,
} from './model-server-config.js';
import { parseMonitoringConfig } from './monitoring-config.js';

/** What TF Serving would serve, in the terms Tensorfleet's server takes. */
export interface TensorflowModelServerConfig {
  /** `--port` (8500): the gRPC port. */
  readonly grpcPort: number;
  /** `--rest_api_port`; undefined when 0 (TF Serving's default): no REST API, no metrics. */
  readonly restApiPort: number | undefined;
  /** `--rest_api_timeout_in_ms` (30000): Tensorfleet's --request-timeout-ms. */
  readonly restApiTimeoutMs: number;
  /** From --model_config_file, else the one model of --model_name and --model_base_path. */
  readonly models: readonly TfServingModel[];
  /** Set when the models come from a file: re-read it every pollWaitSeconds (0: read once). */
  readonly modelConfigFile: { readonly path: string; readonly pollWaitSeconds: number } | undefined;
  /** `--file_system_poll_wait_seconds` (1): how often base paths are listed for new versions; 0: once. */
  readonly fileSystemPollWaitSeconds: number;
  /**
   * `--enable_batching` with `--batching_parameters_file` (or TF Serving's
   * defaults); undefined: requests are not merged, each runs as its own batch
   * (TF Serving's default).
   */
  readonly batching: TfServingBatching | undefined;
  /** From `--monitoring_config_file`: where the REST port serves Prometheus metrics, if anywhere. */
  readonly prometheusPath: string | undefined;
  /**
   * `--enable_model_warmup` (true) and `--num_request_iterations_for_warmup`
   * (iterations undefined when 0: Tensorfleet's --warmup-iterations default).
   * Tensorfleet warms up with generated inputs, not a SavedModel's
   * assets.extra/tf_serving_warmup_requests.
   */
  readonly warmup: { readonly enabled: boolean; readonly iterations: number | undefined };
  /** `--allow_version_labels_for_unavailable_models` (false). */
  readonly allowVersionLabelsForUnavailableModels: boolean;
  /** `--max_num_load_retries` (5) and `--load_retry_interval_micros` (60 s; negative: 0). */
  readonly modelLoadRetries: { readonly max: number; readonly intervalMicros: number };
  /** `--enable_serialization_as_tensor_content` (false): Predict answers in tensor_content. */
  readonly grpcPredictTensorContent: boolean;
  /** Flags and settings accepted without effect, one message each, for the startup log. */
  readonly notices: readonly string[];
}

export type TensorflowModelServerCommand =
  | { readonly command: 'serve'; readonly config: TensorflowModelServerConfig }
  /** `--version`: print the version and exit (TF Serving does it whatever else is given). */
  | { readonly command: 'version' }
  /** `--help`: print the usage and exit. */
  | { readonly command: 'help' };

export interface CommandLineOptions {
  /** Reads a config file named by a flag (default: the file system, UTF-8). */
  readonly readFile?: (path: string) => string;
}

function invalid(message: string): RuntimeError {
  return new RuntimeError('CONFIG_INVALID', message);
}

/** Parses a value as TF Serving's sscanf does for the flag's type, with the type's range. */
function parseValue(flag: TfServingFlag, text: string): FlagValue {
  const name = `--${flag.name}`;
  switch (flag.type) {
    case 'bool':
      if (text === 'true' || text === 'false') return text === 'true';
      throw invalid(
        `${name}=${text}: a boolean flag takes true or false (or ${name} alone for true)`,
      );
    case 'string':
      return text;
    case 'float':
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
        throw invalid(`${name}=${text}: expected a number`);
      }
      return Number(text);
    case 'int32':
    case 'int64': {
      if (!/^[+-]?\d+$/.test(text)) throw invalid(`${name}=${text}: expected an integer`);
      const value = BigInt(text);
      const bits = flag.type === 'int32' ? 31n : 63n;
      if (value < -(2n ** bits) || value >= 2n ** bits) {
        throw invalid(`${name}=${text}: out of the range of ${flag.type}`);
      }
      if (value < BigInt(Number.MIN_SAFE_INTEGER) || value > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw invalid(`${name}=${text}: larger than Tensorfleet handles`);
      }
      return Number(value);
    }
  }
}

/** The hint for an argument that is not one of TF Serving's flags. */
function unknownArgument(arg: string): RuntimeError {
  const name = /^-{1,2}([^=]*)/.exec(arg)?.[1] ?? '';
  const underscored = name.replaceAll('-', '_');
  let hint = '';
  if (TF_SERVING_FLAGS.has(name) && !arg.startsWith('--')) {
    hint = ` (tensorflow_model_server's flags start with "--": --${name})`;
  } else if (TF_SERVING_FLAGS.has(underscored)) {
    hint = ` (tensorflow_model_server spells it --${underscored})`;
  } else if (arg.startsWith('-')) {
    hint = ' (not a flag of tensorflow_model_server)';
  }
  return invalid(
    arg.startsWith('-')
      ? `unknown flag ${arg}${hint}`
      : `unexpected argument ${JSON.stringify(arg)}: tensorflow_model_server takes only --flags`,
  );
}

/** The flags given, by name, each with its last value. */
function readArguments(argv: readonly string[]): Map<string, FlagValue> {
  const given = new Map<string, FlagValue>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help') {
      given.set('help', true);
      continue;
    }
    const match = /^--([A-Za-z0-9_]+)(=(.*))?$/s.exec(arg);
    const flag = match === null ? undefined : TF_SERVING_FLAGS.get(match[1] as string);
    if (match === null || flag === undefined) throw unknownArgument(arg);
    let text = match[3];
    if (text === undefined && flag.type === 'bool') {
      text = 'true';
    } else if (text === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        throw invalid(`--${flag.name} needs a value: --${flag.name}=VALUE or --${flag.name} VALUE`);
      }
      text = next;
      i++;
    }
    given.set(flag.name, parseValue(flag, text));
  }
  return given;
}

/** Refused flags (with a value that asks for something) are errors; no-effect ones become notices. */
function checkDispositions(given: ReadonlyMap<string, FlagValue>, notices: string[]): void {
  for (const [name, value] of given) {
    const flag = TF_SERVING_FLAGS.get(name);
    if (flag === undefined) continue;
    const disposition = flag.disposition;
    if (disposition.kind === 'refused' && !disposition.accepted.includes(value)) {
      const alternatives = disposition.accepted
        .filter((v) => v !== '')
        .map((v) => `--${name}=${String(v)}`);
      throw invalid(
        `--${name}=${String(value)} is not supported by Tensorfleet: ${disposition.why}; remove it` +
          (alternatives.length > 0 ? `, or give ${alternatives.join(' or ')}` : ''),
      );
    }
    if (disposition.kind === 'no-effect') {
      notices.push(`--${name} has no effect: ${disposition.why}`);
    }
  }
}

/** A flag's value, or the TF Serving default given. */
interface FlagReader {
  int(name: string, fallback: number): number;
  bool(name: string, fallback: boolean): boolean;
  string(name: string, fallback: string): string;
}

/** Reads the flags given; the casts hold because parseValue made each value of its flag's type. */
function flagReader(given: ReadonlyMap<string, FlagValue>): FlagReader {
  return {
    int: (name: string, fallback: number): number =>
      (given.get(name) as number | undefined) ?? fallback,
    bool: (name: string, fallback: boolean): boolean =>
      (given.get(name) as boolean | undefined) ?? fallback,
    string: (name: string, fallback: string): string =>
      (given.get(name) as string | undefined) ?? fallback,
  };
}

function readConfigFile(path: string, flag: string, readFile: (path: string) => string): string {
  try {
    return readFile(path);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new RuntimeError('CONFIG_INVALID', `--${flag}=${path}: cannot read the file: ${reason}`, {
      cause: err,
    });
  }
}

function port(value: number, flag: string, allowZero: boolean): number {
  if (value < (allowZero ? 0 : 1) || value > 65535) {
    throw invalid(
      `--${flag}=${value}: a port is 1 to 65535` +
        (allowZero
          ? ' (or 0 for none)'
          : flag === 'port'
            ? ' (gRPC is always on in Tensorfleet: TF Serving turns it off only for --grpc_socket_path, which is not supported)'
            : ''),
    );
  }
  return value;
}

function nonNegative(value: number, flag: string, meaning: string): number {
  if (value < 0) {
    throw invalid(
      `--${flag}=${value}: must be 0 or more (${meaning}); TF Serving keeps negative values for its tests`,
    );
  }
  return value;
}

function models(
  get: FlagReader,
  given: ReadonlyMap<string, FlagValue>,
  readFile: (path: string) => string,
  notices: string[],
): Pick<TensorflowModelServerConfig, 'models' | 'modelConfigFile'> {
  const configFile = get.string('model_config_file', '');
  const pollWaitSeconds = nonNegative(
    get.int('model_config_file_poll_wait_seconds', 0),
    'model_config_file_poll_wait_seconds',
    '0 reads the file once',
  );
  if (configFile !== '') {
    // TF Serving ignores the single-model flags beside a config file; its Docker
    // image always passes them, so refusing them would refuse its documented use.
    if (given.has('model_name') || given.has('model_base_path')) {
      notices.push(
        `--model_name and --model_base_path are ignored: the models come from --model_config_file=${configFile} (as in TF Serving)`,
      );
    }
    const source = `--model_config_file=${configFile}`;
    return {
      models: parseModelServerConfig(
        readConfigFile(configFile, 'model_config_file', readFile),
        source,
      ),
      modelConfigFile: { path: configFile, pollWaitSeconds },
    };
  }
  if (given.has('model_config_file_poll_wait_seconds')) {
    notices.push('--model_config_file_poll_wait_seconds has no effect without --model_config_file');
  }
  const basePath = get.string('model_base_path', '');
  if (basePath === '') {
    throw invalid(
      'no model to serve: give --model_base_path (with --model_name, default "default") or --model_config_file',
    );
  }
  const problem = basePathProblem(basePath);
  if (problem !== undefined) throw invalid(`--model_base_path=${basePath}: ${problem}`);
  const name = get.string('model_name', 'default');
  if (!MODEL_NAME.test(name)) {
    throw invalid(
      `--model_name=${name}: may contain only letters, digits, ".", "_" and "-" (it is a URL path segment)`,
    );
  }
  return {
    models: [
      {
        name,
        basePath,
        platform: 'tensorflow',
        versionPolicy: DEFAULT_VERSION_POLICY,
        versionLabels: {},
      },
    ],
    modelConfigFile: undefined,
  };
}

function batching(
  get: FlagReader,
  readFile: (path: string) => string,
  notices: string[],
): TfServingBatching | undefined {
  const file = get.string('batching_parameters_file', '');
  if (!get.bool('enable_batching', false)) {
    if (file !== '') {
      throw invalid(
        `--batching_parameters_file=${file} is set without --enable_batching (TF Serving refuses this too)`,
      );
    }
    return undefined;
  }
  if (file === '') {
    const { maxBatchSize, batchTimeoutMicros, maxEnqueuedBatches } = TF_SERVING_BATCHING_DEFAULTS;
    return {
      maxBatchSize,
      batchTimeoutMicros,
      maxQueueSize: maxEnqueuedBatches * maxBatchSize,
      workers: undefined,
    };
  }
  const parsed = parseBatchingParameters(
    readConfigFile(file, 'batching_parameters_file', readFile),
    `--batching_parameters_file=${file}`,
  );
  notices.push(...parsed.notices.map((n) => `--batching_parameters_file=${file}: ${n}`));
  return parsed.batching;
}

function prometheusPath(
  get: FlagReader,
  restApiPort: number | undefined,
  readFile: (path: string) => string,
): string | undefined {
  const file = get.string('monitoring_config_file', '');
  if (file === '') return undefined;
  if (restApiPort === undefined) {
    // TF Serving then never reads the file; saying so beats serving no metrics silently.
    throw invalid(
      `--monitoring_config_file=${file} needs --rest_api_port: Prometheus metrics are served on the REST port`,
    );
  }
  return parseMonitoringConfig(
    readConfigFile(file, 'monitoring_config_file', readFile),
    `--monitoring_config_file=${file}`,
  );
}

/**
 * Parses tensorflow_model_server's arguments (without the program name).
 * Throws RuntimeError('CONFIG_INVALID', ...) naming the flag, or the file,
 * line and column of a config file.
 */
export function parseTensorflowModelServerCommandLine(
  argv: readonly string[],
  options: CommandLineOptions = {},
): TensorflowModelServerCommand {
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const given = readArguments(argv);
  if (given.has('help')) return deepFreeze({ command: 'help' });
  if (given.get('version') === true) return deepFreeze({ command: 'version' });

  const notices: string[] = [];
  checkDispositions(given, notices);
  const get = flagReader(given);

  const grpcPort = port(get.int('port', 8500), 'port', false);
  const restPort = port(get.int('rest_api_port', 0), 'rest_api_port', true);
  if (restPort === grpcPort) {
    throw invalid(
      `--rest_api_port=${restPort} is the gRPC port (--port): give REST a port of its own`,
    );
  }
  const restApiPort = restPort === 0 ? undefined : restPort;
  const restApiTimeoutMs = get.int('rest_api_timeout_in_ms', 30_000);
  if (restApiTimeoutMs < 1) {
    throw invalid(`--rest_api_timeout_in_ms=${restApiTimeoutMs}: must be at least 1`);
  }
  if (
    [
      'tensorflow_session_parallelism',
      'tensorflow_intra_op_parallelism',
      'tensorflow_inter_op_parallelism',
    ].every((name) => get.int(name, 0) > 0)
  ) {
    throw invalid(
      'set either --tensorflow_session_parallelism or --tensorflow_intra_op_parallelism and --tensorflow_inter_op_parallelism, not all three (TF Serving refuses this too)',
    );
  }
  const maxRetries = get.int('max_num_load_retries', 5);
  if (maxRetries < 0) throw invalid(`--max_num_load_retries=${maxRetries}: must be 0 or more`);
  const iterations = get.int('num_request_iterations_for_warmup', 0);

  const config: TensorflowModelServerConfig = {
    grpcPort,
    restApiPort,
    restApiTimeoutMs,
    ...models(get, given, readFile, notices),
    fileSystemPollWaitSeconds: nonNegative(
      get.int('file_system_poll_wait_seconds', 1),
      'file_system_poll_wait_seconds',
      '0 lists each base path once',
    ),
    batching: batching(get, readFile, notices),
    prometheusPath: prometheusPath(get, restApiPort, readFile),
    warmup: {
      enabled: get.bool('enable_model_warmup', true),
      iterations: iterations > 0 ? iterations : undefined,
    },
    allowVersionLabelsForUnavailableModels: get.bool(
      'allow_version_labels_for_unavailable_models',
      false,
    ),
    modelLoadRetries: {
      max: maxRetries,
      intervalMicros: Math.max(0, get.int('load_retry_interval_micros', 60_000_000)),
    },
    grpcPredictTensorContent: get.bool('enable_serialization_as_tensor_content', false),
    notices,
  };
  return deepFreeze({ command: 'serve', config });
}
