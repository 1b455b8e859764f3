// `tensorfleet-runtime tensorflow_model_server`: TF Serving's parsed command
// line (tfserving/command-line.ts) in the terms the runtime's server takes:
// its ServeConfig, the models whose base paths' versions it follows, and where
// REST and metrics are, and how the model config file is read again (the
// server calls that read; planning itself is pure apart from the environment
// it is handed).

import type { ServeConfig } from '../contract/runtime.js';
import { parseServeConfig } from './config.js';
import { RuntimeError } from './errors.js';
import { readFile } from 'node:fs/promises';
import type { ServerOptions, VersionedModel } from './server.js';
import type { TensorflowModelServerConfig } from './tfserving/command-line.js';
import type { ServableVersionPolicy, TfServingModel } from './tfserving/model-server-config.js';
import { parseModelServerConfig } from './tfserving/model-server-config.js';
import type { VersionPolicy } from './versions/version-policy.js';

export interface TensorflowModelServerPlan {
  config: ServeConfig;
  options: ServerOptions & Required<Pick<ServerOptions, 'versioned'>>;
  /** Startup notices beyond the parser's. */
  notices: string[];
}

function versionPolicy(policy: ServableVersionPolicy): VersionPolicy {
  switch (policy.kind) {
    case 'latest':
      return { kind: 'latest', count: policy.numVersions };
    case 'all':
      return { kind: 'all' };
    case 'specific':
      return { kind: 'specific', versions: policy.versions };
  }
}

/**
 * The runtime's flags for what TF Serving's flags say, read like `serve`'s so
 * that TENSORFLEET_* variables still set what TF Serving has no flag for
 * (--backend, --host, --cpus, ...); TF Serving's flags win over them.
 */
export function planTensorflowModelServer(
  tf: TensorflowModelServerConfig,
  env: NodeJS.ProcessEnv,
): TensorflowModelServerPlan {
  const [model] = tf.models;
  if (model === undefined) {
    throw new RuntimeError('CONFIG_INVALID', 'no model to serve: give --model_base_path');
  }
  const flags: string[] = [
    '--model-name',
    model.name,
    '--model-uri',
    model.basePath,
    '--grpc-port',
    String(tf.grpcPort),
    '--port',
    String(tf.restApiPort ?? 0),
    '--request-timeout-ms',
    String(tf.restApiTimeoutMs),
  ];
  const batching = tf.batching;
  if (batching === undefined) {
    // TF Serving without --enable_batching: one request, one model call.
    flags.push('--max-batch-size', '1', '--batch-timeout-micros', '0');
  } else {
    flags.push(
      '--max-batch-size',
      String(batching.maxBatchSize),
      '--batch-timeout-micros',
      String(batching.batchTimeoutMicros),
      '--max-queue-size',
      String(batching.maxQueueSize),
    );
    if (batching.workers !== undefined) flags.push('--workers', String(batching.workers));
  }
  if (!tf.warmup.enabled) flags.push('--warmup-iterations', '0');
  else if (tf.warmup.iterations !== undefined)
    flags.push('--warmup-iterations', String(tf.warmup.iterations));
  const config = parseServeConfig(flags, env);
  const file = tf.modelConfigFile;
  return {
    config,
    options: {
      versioned: versionedModels(tf.models, tf),
      ...(file !== undefined && file.pollWaitSeconds > 0
        ? { reloadModels: reloadFrom(file.path, file.pollWaitSeconds, tf, readFileText) }
        : {}),
      rest: tf.restApiPort !== undefined,
      prometheusPath: tf.prometheusPath,
      grpcPredictTensorContent: tf.grpcPredictTensorContent,
    },
    notices: [],
  };
}

/** Each model its own versions, pools and batchers, with the same settings. */
function versionedModels(
  models: readonly TfServingModel[],
  tf: TensorflowModelServerConfig,
): VersionedModel[] {
  return models.map((m) => ({
    name: m.name,
    basePath: m.basePath,
    policy: versionPolicy(m.versionPolicy),
    labels: m.versionLabels,
    pollSeconds: tf.fileSystemPollWaitSeconds,
    loadRetries: {
      max: tf.modelLoadRetries.max,
      intervalMs: Math.max(0, tf.modelLoadRetries.intervalMicros / 1000),
    },
  }));
}

const readFileText = (path: string): Promise<string> => readFile(path, 'utf8');

/**
 * The config file read again, as at start: the same parser, the same errors
 * (`--model_config_file=<path> line L, column C: ...`).
 */
export function reloadFrom(
  path: string,
  everySeconds: number,
  tf: TensorflowModelServerConfig,
  read: (path: string) => Promise<string>,
): NonNullable<ServerOptions['reloadModels']> {
  const source = `--model_config_file=${path}`;
  return {
    everySeconds,
    source,
    read: async () => {
      let text: string;
      try {
        text = await read(path);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new RuntimeError('CONFIG_INVALID', `${source}: cannot read the file: ${reason}`, {
          cause: err,
        });
      }
      return versionedModels(parseModelServerConfig(text, source), tf);
    },
  };
}
