// TF Serving's --model_config_file: a ModelServerConfig in text format
// (tensorflow_serving/config/model_server_config.proto, with the version policy
// of file_system_storage_path_source.proto), read into the models Tensorfleet
// serves. What TF Serving refuses is refused here too (a model listed twice, a
// relative base_path, no platform); what Tensorfleet does not implement is
// refused by name with the reason, never skipped.

import type { TextMessage } from './text-format.js';
import { parseTextFormat } from './text-format.js';
import { TextMessageReader } from './text-message-reader.js';
import { deepFreeze } from './deep-freeze.js';

/** Which versions found under a model's base_path are served (ServableVersionPolicy). */
export type ServableVersionPolicy =
  /** The highest-numbered `numVersions` (TF Serving's default: latest 1). */
  | { readonly kind: 'latest'; readonly numVersions: number }
  /** Every version directory. */
  | { readonly kind: 'all' }
  /** Exactly these versions, ascending, without repeats. */
  | { readonly kind: 'specific'; readonly versions: readonly number[] };

/** One model to serve (a ModelConfig). */
export interface TfServingModel {
  /** URL name (`/v1/models/{name}`); letters, digits, ".", "_", "-". */
  readonly name: string;
  /** Absolute path or URI of the directory holding numbered version directories. */
  readonly basePath: string;
  /** Always "tensorflow" (TF Serving's kTensorFlowModelPlatform). */
  readonly platform: 'tensorflow';
  readonly versionPolicy: ServableVersionPolicy;
  /** Label -> version (`/v1/models/{name}/labels/{label}`). */
  readonly versionLabels: Readonly<Record<string, number>>;
}

export const DEFAULT_VERSION_POLICY: ServableVersionPolicy = Object.freeze({
  kind: 'latest',
  numVersions: 1,
});

/** Tensorfleet's rule for model names (src/runtime/config.ts): a URL path segment. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** TF Serving's REST rule for labels (serving_config.md). */
const VERSION_LABEL = /^[A-Za-z0-9_]+$/;
/** Where Tensorfleet can look for version directories: its sources that can list a directory. */
const BASE_PATH_SCHEMES = ['file://', 's3://', 'gs://', 'az://', 'hf://', 'pvc://'];

const LOGGING_REFUSAL =
  'request logging to a LogCollector is not implemented; remove logging_config (Tensorfleet logs requests in its own log and metrics)';

function readVersionPolicy(message: TextMessage, source: string): ServableVersionPolicy {
  const policy = new TextMessageReader(message, source, 'ServableVersionPolicy', {
    latest: 'supported',
    all: 'supported',
    specific: 'supported',
  });
  const choice = policy.oneof(['latest', 'all', 'specific']);
  if (choice === 'latest') {
    const latest = new TextMessageReader(
      policy.message('latest') as TextMessage,
      source,
      'Latest',
      {
        num_versions: 'supported',
      },
    );
    // As TF Serving: 0 (or unset) serves one version.
    const numVersions = Number(latest.integer('num_versions', 'uint32') ?? 1n);
    return { kind: 'latest', numVersions: Math.max(1, numVersions) };
  }
  if (choice === 'all') {
    new TextMessageReader(policy.message('all') as TextMessage, source, 'All', {});
    return { kind: 'all' };
  }
  if (choice === 'specific') {
    const message = policy.message('specific') as TextMessage;
    const specific = new TextMessageReader(message, source, 'Specific', { versions: 'supported' });
    const versions = specific.values('versions').map((v) => {
      const version = specific.asInteger(v, 'versions', 'int64');
      if (version < 0n || version > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw specific.error(
          v.position,
          `Specific.versions ${version} is not a version directory Tensorfleet serves (0 to ${Number.MAX_SAFE_INTEGER})`,
        );
      }
      return Number(version);
    });
    if (versions.length === 0) {
      throw specific.error(
        message.position,
        'model_version_policy specific { } lists no versions: add versions: N (or use latest { } / all { })',
      );
    }
    return { kind: 'specific', versions: [...new Set(versions)].sort((a, b) => a - b) };
  }
  return DEFAULT_VERSION_POLICY;
}

function readVersionLabels(config: TextMessageReader): Record<string, number> {
  const labels: [string, number][] = [];
  for (const value of config.values('version_labels')) {
    const entry = new TextMessageReader(
      config.asMessage(value, 'version_labels'),
      config.source,
      'version_labels',
      { key: 'supported', value: 'supported' },
    );
    const key = entry.string('key') ?? '';
    if (!VERSION_LABEL.test(key)) {
      throw entry.error(
        entry.positionOf('key'),
        `version label ${JSON.stringify(key)} must be letters, digits and "_" (TF Serving's rule for /labels/ URLs)`,
      );
    }
    if (labels.some(([k]) => k === key)) {
      throw entry.error(
        entry.positionOf('key'),
        `version label ${JSON.stringify(key)} is given twice: a label names one version`,
      );
    }
    const version = entry.integer('value', 'int64') ?? 0n;
    if (version < 0n || version > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw entry.error(
        entry.positionOf('value'),
        `version label ${JSON.stringify(key)} points at ${version}, not a version (0 to ${Number.MAX_SAFE_INTEGER})`,
      );
    }
    labels.push([key, Number(version)]);
  }
  return Object.fromEntries(labels);
}

/** The deprecated ModelType enum (model_server_config.proto), by name and number. */
const MODEL_TYPES: Readonly<Record<string, bigint>> = {
  MODEL_TYPE_UNSPECIFIED: 0n,
  TENSORFLOW: 1n,
  OTHER: 2n,
};

function readPlatform(config: TextMessageReader): 'tensorflow' {
  const platform = config.string('model_platform');
  const modelType = config.single('model_type');
  const typeNumber =
    modelType?.kind === 'identifier' && Object.hasOwn(MODEL_TYPES, modelType.value)
      ? MODEL_TYPES[modelType.value]
      : modelType?.kind === 'integer'
        ? modelType.value
        : undefined;
  if (modelType !== undefined && typeNumber === undefined) {
    throw config.error(
      modelType.position,
      `ModelConfig.model_type must be one of ${Object.keys(MODEL_TYPES).join(', ')} (and is deprecated: write model_platform: "tensorflow")`,
    );
  }
  // MODEL_TYPE_UNSPECIFIED (0) is the field's default: the same as leaving it out, as in TF Serving.
  if (modelType !== undefined && typeNumber !== 0n) {
    if (platform !== undefined && platform !== '') {
      throw config.error(
        modelType.position,
        'ModelConfig sets both model_type (deprecated) and model_platform: keep model_platform only',
      );
    }
    if (typeNumber !== MODEL_TYPES['TENSORFLOW']) {
      throw config.error(
        modelType.position,
        'ModelConfig.model_type is deprecated and only TENSORFLOW is accepted; write model_platform: "tensorflow"',
      );
    }
    return 'tensorflow';
  }
  if (platform === undefined || platform === '') {
    throw config.error(
      config.textMessage.position,
      'ModelConfig has no model_platform: add model_platform: "tensorflow" (TF Serving requires it too)',
    );
  }
  if (platform !== 'tensorflow') {
    throw config.error(
      config.positionOf('model_platform'),
      `model_platform ${JSON.stringify(platform)} is not served by Tensorfleet: it serves "tensorflow" models (SavedModels, and TensorFlow.js models in the same version directories)`,
    );
  }
  return 'tensorflow';
}

/**
 * Why `basePath` cannot be a model's base path, or undefined when it can: an
 * absolute path or a URI (as TF Serving requires) of a kind Tensorfleet can
 * list version directories under.
 */
export function basePathProblem(basePath: string): string | undefined {
  if (basePath === '') return 'it is empty';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(basePath)?.[0];
  if (scheme === undefined) {
    return basePath.startsWith('/')
      ? undefined
      : 'it must be an absolute path or a URI (as in TF Serving)';
  }
  return BASE_PATH_SCHEMES.includes(scheme.toLowerCase())
    ? undefined
    : `Tensorfleet finds version directories under ${BASE_PATH_SCHEMES.join(', ')} or an absolute path, not ${scheme} (http(s) cannot list a directory)`;
}

function readBasePath(config: TextMessageReader, name: string): string {
  const basePath = config.string('base_path') ?? '';
  const problem = basePathProblem(basePath);
  if (problem !== undefined) {
    throw config.error(
      config.positionOf('base_path'),
      basePath === ''
        ? `model ${JSON.stringify(name)} has no base_path`
        : `base_path ${JSON.stringify(basePath)} of model ${JSON.stringify(name)}: ${problem}`,
    );
  }
  return basePath;
}

function readModel(message: TextMessage, source: string): TfServingModel {
  const config = new TextMessageReader(message, source, 'ModelConfig', {
    name: 'supported',
    base_path: 'supported',
    model_type: 'supported',
    model_platform: 'supported',
    model_version_policy: 'supported',
    version_labels: 'supported',
    logging_config: { refused: LOGGING_REFUSAL },
  });
  const name = config.string('name') ?? '';
  if (!MODEL_NAME.test(name)) {
    throw config.error(
      config.positionOf('name'),
      name === ''
        ? 'ModelConfig has no name'
        : `model name ${JSON.stringify(name)} may contain only letters, digits, ".", "_" and "-" (it is a URL path segment)`,
    );
  }
  const policy = config.message('model_version_policy');
  return {
    name,
    basePath: readBasePath(config, name),
    platform: readPlatform(config),
    versionPolicy:
      policy === undefined ? DEFAULT_VERSION_POLICY : readVersionPolicy(policy, source),
    versionLabels: readVersionLabels(config),
  };
}

/**
 * The models of a ModelServerConfig in text format. `source` names the file in
 * errors (`--model_config_file=/models/models.config`). Throws
 * RuntimeError('CONFIG_INVALID', '<source> line L, column C: ...').
 */
export function parseModelServerConfig(text: string, source: string): readonly TfServingModel[] {
  const root = new TextMessageReader(parseTextFormat(text, source), source, 'ModelServerConfig', {
    model_config_list: 'supported',
    custom_model_config: {
      refused:
        'custom (Any) model configs need a TF Serving build with a custom loader; list the models in model_config_list',
    },
  });
  const list = root.message('model_config_list');
  if (list === undefined) {
    throw root.error(
      root.textMessage.position,
      'ModelServerConfig has no model_config_list: write model_config_list { config { name: ... base_path: ... model_platform: "tensorflow" } }',
    );
  }
  const configs = new TextMessageReader(list, source, 'ModelConfigList', { config: 'supported' });
  const models: TfServingModel[] = [];
  for (const value of configs.values('config')) {
    const model = readModel(configs.asMessage(value, 'config'), source);
    if (models.some((m) => m.name === model.name)) {
      throw configs.error(
        value.position,
        `model ${JSON.stringify(model.name)} is listed more than once (TF Serving refuses this too)`,
      );
    }
    models.push(model);
  }
  if (models.length === 0) {
    throw configs.error(
      list.position,
      'model_config_list lists no model: Tensorfleet reports ready once its models are loaded, so it needs at least one config { }',
    );
  }
  return deepFreeze(models);
}
