// TF Serving's parsed command line in the runtime's terms
// (planTensorflowModelServer): ports, REST off, batching, warmup, the
// followed base path with its policy and labels; one model per process.

import { describe, expect, it } from 'vitest';
import {
  planTensorflowModelServer,
  reloadFrom,
} from '../../src/runtime/tensorflow-model-server.js';
import { parseTensorflowModelServerCommandLine } from '../../src/runtime/tfserving/command-line.js';

function plan(argv: string[], files: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) {
  const parsed = parseTensorflowModelServerCommandLine(argv, {
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`no file ${path}`);
      return text;
    },
  });
  if (parsed.command !== 'serve') throw new Error(parsed.command);
  return planTensorflowModelServer(parsed.config, env);
}

describe('planTensorflowModelServer', () => {
  it("maps the Docker image's command line: gRPC, REST, one model at latest 1", () => {
    const { config, options } = plan([
      '--port=8500',
      '--rest_api_port=8501',
      '--model_name=my_model',
      '--model_base_path=/models/my_model',
    ]);
    expect(config).toMatchObject({
      modelName: 'my_model',
      modelUri: '/models/my_model',
      grpcPort: 8500,
      port: 8501,
      requestTimeoutMs: 30_000,
      // No --enable_batching: one request, one model call.
      maxBatchSize: 1,
      batchTimeoutMicros: 0,
    });
    expect(options).toMatchObject({
      rest: true,
      versioned: [
        {
          name: 'my_model',
          basePath: '/models/my_model',
          policy: { kind: 'latest', count: 1 },
          labels: {},
          pollSeconds: 1,
          loadRetries: { max: 5, intervalMs: 60_000 },
        },
      ],
    });
  });

  it('turns REST off without --rest_api_port, as TF Serving', () => {
    const { options } = plan(['--model_base_path=/m']);
    expect(options.rest).toBe(false);
  });

  it('takes batching, warmup, the poll interval and tensor_content from the flags', () => {
    const { config, options } = plan(
      [
        '--rest_api_port=8501',
        '--model_base_path=/m',
        '--enable_batching',
        '--batching_parameters_file=/b',
        '--file_system_poll_wait_seconds=5',
        '--enable_model_warmup=false',
        '--enable_serialization_as_tensor_content',
        '--rest_api_timeout_in_ms=1500',
      ],
      {
        '/b': 'max_batch_size { value: 16 } batch_timeout_micros { value: 500 } num_batch_threads { value: 3 }',
      },
    );
    expect(config).toMatchObject({
      maxBatchSize: 16,
      batchTimeoutMicros: 500,
      maxQueueSize: 160,
      workers: 3,
      warmupIterations: 0,
      requestTimeoutMs: 1500,
    });
    expect(options.versioned[0]?.pollSeconds).toBe(5);
    expect(options.grpcPredictTensorContent).toBe(true);
  });

  it("reads the config file's policy and labels, and TENSORFLEET_* for the rest", () => {
    const { config, options } = plan(
      ['--model_config_file=/c', '--model_config_file_poll_wait_seconds=60'],
      {
        '/c': `model_config_list { config {
          name: "m" base_path: "/models/m" model_platform: "tensorflow"
          model_version_policy { specific { versions: [1, 3] } }
          version_labels { key: "stable" value: 1 }
        } }`,
      },
      { TENSORFLEET_BACKEND: 'wasm', TENSORFLEET_HOST: '127.0.0.1' },
    );
    expect(config).toMatchObject({ modelName: 'm', backend: 'wasm', host: '127.0.0.1' });
    expect(options.versioned[0]).toMatchObject({
      policy: { kind: 'specific', versions: [1, 3] },
      labels: { stable: 1 },
    });
    // Read again every --model_config_file_poll_wait_seconds.
    expect(options.reloadModels).toMatchObject({
      everySeconds: 60,
      source: '--model_config_file=/c',
    });
  });

  it('reads the config file once without a poll interval, and with the single-model flags', () => {
    const file = {
      '/c': 'model_config_list { config { name: "m" base_path: "/m" model_platform: "tensorflow" } }',
    };
    expect(plan(['--model_config_file=/c'], file).options.reloadModels).toBeUndefined();
    expect(plan(['--model_base_path=/m']).options.reloadModels).toBeUndefined();
  });

  it("reads the file again with the start's parser: its models, or the parser's precise error", async () => {
    const parsed = parseTensorflowModelServerCommandLine(['--model_base_path=/m'], {});
    if (parsed.command !== 'serve') throw new Error(parsed.command);
    let text =
      'model_config_list { config { name: "a" base_path: "/a" model_platform: "tensorflow" version_labels { key: "stable" value: 2 } } }';
    const reload = reloadFrom('/c', 5, parsed.config, (path) =>
      path === '/c' ? Promise.resolve(text) : Promise.reject(new Error(`ENOENT: ${path}`)),
    );
    expect(await reload.read()).toMatchObject([
      { name: 'a', basePath: '/a', labels: { stable: 2 }, policy: { kind: 'latest', count: 1 } },
    ]);
    text =
      'model_config_list { config { name: "a" base_path: "/a" model_platform: "tensorflow" bogus: 1 } }';
    await expect(reload.read()).rejects.toThrow(
      /^--model_config_file=\/c line 1, column \d+: .*bogus/,
    );
    const missing = reloadFrom('/gone', 5, parsed.config, () =>
      Promise.reject(new Error('ENOENT')),
    );
    await expect(missing.read()).rejects.toThrow(
      '--model_config_file=/gone: cannot read the file: ENOENT',
    );
  });

  it('serves every model of a config file, each with its own policy', () => {
    const { config, options } = plan(['--model_config_file=/c'], {
      '/c': `model_config_list {
        config { name: "a" base_path: "/models/a" model_platform: "tensorflow" }
        config { name: "b" base_path: "/models/b" model_platform: "tensorflow"
                 model_version_policy { all {} } }
      }`,
    });
    expect(config.modelName).toBe('a');
    expect(options.versioned.map((m) => [m.name, m.basePath, m.policy])).toEqual([
      ['a', '/models/a', { kind: 'latest', count: 1 }],
      ['b', '/models/b', { kind: 'all' }],
    ]);
  });
});
