// tensorflow_model_server's command line: TF Serving's defaults, its Docker
// image's arguments, the config files it names, and for every flag of
// main.cc: supported, accepted without effect, or refused by name.

import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/runtime/errors.js';
import type {
  CommandLineOptions,
  TensorflowModelServerConfig,
} from '../../../src/runtime/tfserving/command-line.js';
import { parseTensorflowModelServerCommandLine } from '../../../src/runtime/tfserving/command-line.js';
import type { FlagValue } from '../../../src/runtime/tfserving/flags.js';
import { TF_SERVING_FLAGS } from '../../../src/runtime/tfserving/flags.js';

const FILES: Readonly<Record<string, string>> = {
  '/models/models.config': `model_config_list {
  config {
    name: 'my_first_model'
    base_path: '/tmp/my_first_model/'
    model_platform: 'tensorflow'
    model_version_policy { specific { versions: 42 versions: 43 } }
    version_labels { key: 'stable' value: 42 }
    version_labels { key: 'canary' value: 43 }
  }
  config {
    name: 'my_second_model'
    base_path: '/tmp/my_second_model/'
    model_platform: 'tensorflow'
  }
}
`,
  '/config/batching.txt': `max_batch_size { value: 128 }
batch_timeout_micros { value: 0 }
max_enqueued_batches { value: 1000000 }
num_batch_threads { value: 8 }
thread_pool_name { value: "shared" }
`,
  '/config/monitoring.txt':
    'prometheus_config {\n  enable: true,\n  path: "/monitoring/prometheus/metrics"\n}\n',
  '/config/bad.config':
    'model_config_list {\n  config {\n    name: "m"\n    base_path: "/m"\n    model_platform: "tensorflow"\n    logging_config { }\n  }\n}\n',
};

const options: CommandLineOptions = {
  readFile: (path) => {
    const text = FILES[path];
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  },
};

function serve(argv: readonly string[]): TensorflowModelServerConfig {
  const parsed = parseTensorflowModelServerCommandLine(argv, options);
  if (parsed.command !== 'serve') throw new Error(`expected serve, got ${parsed.command}`);
  return parsed.config;
}

function errorOf(argv: readonly string[]): string {
  try {
    parseTensorflowModelServerCommandLine(argv, options);
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('CONFIG_INVALID');
    return (err as RuntimeError).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

/** TF Serving's Docker entrypoint, before the user's arguments. */
const DOCKER_ENTRYPOINT = [
  '--port=8500',
  '--rest_api_port=8501',
  '--model_name=model',
  '--model_base_path=/models/model',
];

describe('tensorflow_model_server command line: serving', () => {
  it("serves one model with TF Serving's defaults", () => {
    expect(serve(['--model_base_path=/models/half_plus_two'])).toEqual({
      grpcPort: 8500,
      restApiPort: undefined,
      restApiTimeoutMs: 30_000,
      models: [
        {
          name: 'default',
          basePath: '/models/half_plus_two',
          platform: 'tensorflow',
          versionPolicy: { kind: 'latest', numVersions: 1 },
          versionLabels: {},
        },
      ],
      modelConfigFile: undefined,
      fileSystemPollWaitSeconds: 1,
      batching: undefined,
      prometheusPath: undefined,
      warmup: { enabled: true, iterations: undefined },
      allowVersionLabelsForUnavailableModels: false,
      modelLoadRetries: { max: 5, intervalMicros: 60_000_000 },
      grpcPredictTensorContent: false,
      notices: [],
    });
  });

  it("reads TF Serving's Docker image arguments", () => {
    const config = serve(DOCKER_ENTRYPOINT);
    expect(config).toMatchObject({ grpcPort: 8500, restApiPort: 8501 });
    expect(config.models.map((m) => [m.name, m.basePath])).toEqual([['model', '/models/model']]);
  });

  it('takes the last value of a flag given twice, as the Docker entrypoint needs', () => {
    const config = serve([...DOCKER_ENTRYPOINT, '--rest_api_port=9000', '--model_name=mnist']);
    expect(config.restApiPort).toBe(9000);
    expect(config.models[0]?.name).toBe('mnist');
  });

  it('serves the models of --model_config_file, re-read at the poll interval; the Docker flags are ignored and said so', () => {
    const config = serve([
      ...DOCKER_ENTRYPOINT,
      '--model_config_file=/models/models.config',
      '--model_config_file_poll_wait_seconds=60',
    ]);
    expect(config.models.map((m) => m.name)).toEqual(['my_first_model', 'my_second_model']);
    expect(config.models[0]?.versionLabels).toEqual({ stable: 42, canary: 43 });
    expect(config.modelConfigFile).toEqual({ path: '/models/models.config', pollWaitSeconds: 60 });
    expect(config.notices).toEqual([
      '--model_name and --model_base_path are ignored: the models come from --model_config_file=/models/models.config (as in TF Serving)',
    ]);
  });

  it('reads the batching and monitoring files', () => {
    const config = serve([
      '--model_base_path=/m',
      '--rest_api_port=8501',
      '--enable_batching',
      '--batching_parameters_file=/config/batching.txt',
      '--monitoring_config_file',
      '/config/monitoring.txt',
    ]);
    expect(config.batching).toEqual({
      maxBatchSize: 128,
      batchTimeoutMicros: 0,
      maxQueueSize: 128_000_000,
      workers: 8,
    });
    expect(config.prometheusPath).toBe('/monitoring/prometheus/metrics');
    expect(config.notices).toEqual([
      expect.stringMatching(
        /^--batching_parameters_file=\/config\/batching\.txt: thread_pool_name "shared" has no effect/,
      ),
    ]);
  });

  it("batches with TF Serving's defaults when no batching file is given", () => {
    expect(serve(['--model_base_path=/m', '--enable_batching=true']).batching).toEqual({
      maxBatchSize: 1000,
      batchTimeoutMicros: 0,
      maxQueueSize: 10_000,
      workers: undefined,
    });
    expect(serve(['--model_base_path=/m', '--enable_batching=false']).batching).toBeUndefined();
  });

  it('reads both --flag=value and --flag value', () => {
    const config = serve(['--model_base_path', '/m', '--port', '9500', '--rest_api_port=9501']);
    expect(config).toMatchObject({ grpcPort: 9500, restApiPort: 9501 });
    expect(
      serve(['--model_base_path=/m', '--file_system_poll_wait_seconds', '0'])
        .fileSystemPollWaitSeconds,
    ).toBe(0);
  });

  it('reads the other supported flags', () => {
    const config = serve([
      '--model_base_path=gs://bucket/model',
      '--rest_api_timeout_in_ms=500',
      '--enable_model_warmup=false',
      '--num_request_iterations_for_warmup=4',
      '--allow_version_labels_for_unavailable_models',
      '--max_num_load_retries=0',
      '--load_retry_interval_micros=-1',
      '--enable_serialization_as_tensor_content=true',
    ]);
    expect(config).toMatchObject({
      restApiTimeoutMs: 500,
      warmup: { enabled: false, iterations: 4 },
      allowVersionLabelsForUnavailableModels: true,
      modelLoadRetries: { max: 0, intervalMicros: 0 },
      grpcPredictTensorContent: true,
    });
  });

  it('answers --version and --help whatever else is given', () => {
    expect(parseTensorflowModelServerCommandLine(['--version'], options)).toEqual({
      command: 'version',
    });
    expect(parseTensorflowModelServerCommandLine(['--port=1', '--version'], options)).toEqual({
      command: 'version',
    });
    expect(parseTensorflowModelServerCommandLine(['--help', '--port=1'], options)).toEqual({
      command: 'help',
    });
  });

  it('returns a frozen config', () => {
    const parsed = parseTensorflowModelServerCommandLine(
      ['--model_config_file=/models/models.config', '--enable_batching'],
      options,
    );
    expect(Object.isFrozen(parsed)).toBe(true);
    if (parsed.command !== 'serve') throw new Error('expected serve');
    for (const part of [
      parsed.config,
      parsed.config.models,
      parsed.config.models[0],
      parsed.config.batching,
      parsed.config.notices,
    ]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
  });
});

describe('tensorflow_model_server command line: every flag of main.cc', () => {
  it('has every flag of main.cc (TF Serving 2.16 to 2.20), in its order', () => {
    // tensorflow_serving/model_servers/main.cc's flag_list at TF Serving's newest commit.
    const mainCc = [
      'port',
      'grpc_socket_path',
      'rest_api_port',
      'rest_api_num_threads',
      'rest_api_timeout_in_ms',
      'rest_api_enable_cors_support',
      'enable_batching',
      'allow_version_labels_for_unavailable_models',
      'batching_parameters_file',
      'enable_per_model_batching_parameters',
      'model_config_file',
      'model_config_file_poll_wait_seconds',
      'model_name',
      'model_base_path',
      'num_load_threads',
      'num_unload_threads',
      'max_num_load_retries',
      'load_retry_interval_micros',
      'file_system_poll_wait_seconds',
      'flush_filesystem_caches',
      'tensorflow_session_parallelism',
      'tensorflow_session_config_file',
      'tensorflow_intra_op_parallelism',
      'tensorflow_inter_op_parallelism',
      'use_alts_credentials',
      'ssl_config_file',
      'platform_config_file',
      'per_process_gpu_memory_fraction',
      'saved_model_tags',
      'grpc_channel_arguments',
      'grpc_max_threads',
      'enable_model_warmup',
      'num_request_iterations_for_warmup',
      'version',
      'monitoring_config_file',
      'remove_unused_fields_from_bundle_metagraph',
      'prefer_tflite_model',
      'num_tflite_pools',
      'num_tflite_interpreters_per_pool',
      'enable_signature_method_name_check',
      'xla_cpu_compilation_enabled',
      'xla_gpu_compilation_enabled',
      'enable_profiler',
      'thread_pool_factory_config_file',
      'mixed_precision',
      'skip_initialize_tpu',
      'enable_grpc_healthcheck_service',
      'enable_serialization_as_tensor_content',
    ];
    expect([...TF_SERVING_FLAGS.keys()]).toEqual(mainCc);
  });

  /** A value that asks for something: not TF Serving's default. */
  const asking: Record<string, string> = {
    int32: '7',
    int64: '7',
    float: '0.5',
    bool: 'true',
    string: '/some/value',
  };

  for (const [name, flag] of TF_SERVING_FLAGS) {
    const { disposition } = flag;
    if (disposition.kind === 'refused') {
      it(`refuses --${name} by name, with the reason`, () => {
        const value = disposition.accepted.includes(true) ? 'false' : asking[flag.type];
        expect(errorOf(['--model_base_path=/m', `--${name}=${value}`])).toBe(
          `--${name}=${value} is not supported by Tensorfleet: ${disposition.why}; remove it` +
            (disposition.accepted.some((v) => v !== '')
              ? `, or give ${disposition.accepted
                  .filter((v: FlagValue) => v !== '')
                  .map((v) => `--${name}=${String(v)}`)
                  .join(' or ')}`
              : ''),
        );
        for (const accepted of disposition.accepted) {
          expect(serve(['--model_base_path=/m', `--${name}=${String(accepted)}`]).notices).toEqual(
            [],
          );
        }
      });
    } else if (disposition.kind === 'no-effect') {
      it(`accepts --${name} and says it has no effect`, () => {
        const config = serve(['--model_base_path=/m', `--${name}=${asking[flag.type]}`]);
        expect(config.notices).toEqual([`--${name} has no effect: ${disposition.why}`]);
      });
    }
  }
});

describe('tensorflow_model_server command line: refusals', () => {
  const cases: [string, readonly string[], string][] = [
    [
      'no model',
      [],
      'no model to serve: give --model_base_path (with --model_name, default "default") or --model_config_file',
    ],
    [
      'a relative base path',
      ['--model_base_path=models/m'],
      '--model_base_path=models/m: it must be an absolute path or a URI',
    ],
    [
      'an http base path',
      ['--model_base_path=http://h/m'],
      'not http:// (http(s) cannot list a directory)',
    ],
    [
      'a model name with a slash',
      ['--model_base_path=/m', '--model_name=a/b'],
      '--model_name=a/b: may contain only letters',
    ],
    [
      'an unknown flag',
      ['--model_base_path=/m', '--modelbasepath=/m'],
      'unknown flag --modelbasepath=/m (not a flag of tensorflow_model_server)',
    ],
    [
      "Tensorfleet's spelling",
      ['--model-base-path=/m'],
      'unknown flag --model-base-path=/m (tensorflow_model_server spells it --model_base_path)',
    ],
    [
      'a single dash',
      ['-model_base_path=/m'],
      'unknown flag -model_base_path=/m (tensorflow_model_server\'s flags start with "--": --model_base_path)',
    ],
    [
      'a positional argument',
      ['--model_base_path=/m', 'serve'],
      'unexpected argument "serve": tensorflow_model_server takes only --flags',
    ],
    [
      'a bool with a separate value',
      ['--model_base_path=/m', '--enable_batching', 'true'],
      'unexpected argument "true"',
    ],
    ['"--"', ['--model_base_path=/m', '--'], 'unknown flag --'],
    [
      'a flag without its value',
      ['--model_base_path'],
      '--model_base_path needs a value: --model_base_path=VALUE or --model_base_path VALUE',
    ],
    [
      'a flag followed by a flag',
      ['--model_name', '--model_base_path=/m'],
      '--model_name needs a value',
    ],
    [
      'a bool that is not one',
      ['--model_base_path=/m', '--enable_batching=1'],
      '--enable_batching=1: a boolean flag takes true or false (or --enable_batching alone for true)',
    ],
    [
      'a port that is not a number',
      ['--model_base_path=/m', '--port=http'],
      '--port=http: expected an integer',
    ],
    [
      'an int32 out of range',
      ['--model_base_path=/m', '--port=4294967296'],
      '--port=4294967296: out of the range of int32',
    ],
    [
      'a float that is not one',
      ['--model_base_path=/m', '--per_process_gpu_memory_fraction=half'],
      '--per_process_gpu_memory_fraction=half: expected a number',
    ],
    [
      'gRPC port 0',
      ['--model_base_path=/m', '--port=0'],
      '--port=0: a port is 1 to 65535 (gRPC is always on in Tensorfleet',
    ],
    [
      'a REST port out of range',
      ['--model_base_path=/m', '--rest_api_port=70000'],
      '--rest_api_port=70000: a port is 1 to 65535 (or 0 for none)',
    ],
    [
      'REST on the gRPC port',
      ['--model_base_path=/m', '--rest_api_port=8500'],
      '--rest_api_port=8500 is the gRPC port (--port): give REST a port of its own',
    ],
    [
      'a zero REST timeout',
      ['--model_base_path=/m', '--rest_api_timeout_in_ms=0'],
      '--rest_api_timeout_in_ms=0: must be at least 1',
    ],
    [
      'negative file system polling',
      ['--model_base_path=/m', '--file_system_poll_wait_seconds=-1'],
      '--file_system_poll_wait_seconds=-1: must be 0 or more (0 lists each base path once)',
    ],
    [
      'negative config file polling',
      ['--model_config_file=/models/models.config', '--model_config_file_poll_wait_seconds=-1'],
      '--model_config_file_poll_wait_seconds=-1: must be 0 or more (0 reads the file once)',
    ],
    [
      'negative load retries',
      ['--model_base_path=/m', '--max_num_load_retries=-1'],
      '--max_num_load_retries=-1: must be 0 or more',
    ],
    [
      'all three TensorFlow parallelism flags',
      [
        '--model_base_path=/m',
        '--tensorflow_session_parallelism=2',
        '--tensorflow_intra_op_parallelism=2',
        '--tensorflow_inter_op_parallelism=2',
      ],
      'set either --tensorflow_session_parallelism or --tensorflow_intra_op_parallelism and --tensorflow_inter_op_parallelism, not all three',
    ],
    [
      'a batching file without batching',
      ['--model_base_path=/m', '--batching_parameters_file=/config/batching.txt'],
      '--batching_parameters_file=/config/batching.txt is set without --enable_batching (TF Serving refuses this too)',
    ],
    [
      'a monitoring file without REST',
      ['--model_base_path=/m', '--monitoring_config_file=/config/monitoring.txt'],
      '--monitoring_config_file=/config/monitoring.txt needs --rest_api_port: Prometheus metrics are served on the REST port',
    ],
    [
      'a config file that cannot be read',
      ['--model_config_file=/models/missing.config'],
      "--model_config_file=/models/missing.config: cannot read the file: ENOENT: no such file or directory, open '/models/missing.config'",
    ],
    [
      'a config file with an unsupported field, at its line and column',
      ['--model_config_file=/config/bad.config'],
      '--model_config_file=/config/bad.config line 6, column 5: ModelConfig.logging_config is not supported by Tensorfleet',
    ],
    [
      'a batching file with an error, at its line and column',
      [
        '--model_base_path=/m',
        '--enable_batching',
        '--batching_parameters_file=/models/models.config',
      ],
      '--batching_parameters_file=/models/models.config line 1, column 1: BatchingParameters has no field "model_config_list"',
    ],
  ];
  it.each(cases)('refuses %s', (_name, argv, message) => {
    expect(errorOf(argv)).toContain(message);
  });
});
