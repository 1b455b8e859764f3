// --model_config_file: TF Serving's documented examples read into models, and
// every refusal naming the field and where it is.

import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/runtime/errors.js';
import {
  DEFAULT_VERSION_POLICY,
  parseModelServerConfig,
} from '../../../src/runtime/tfserving/model-server-config.js';

const SOURCE = '--model_config_file=/models/models.config';

/** One model_config_list with one config of these lines (name, base_path, platform given unless overridden). */
function oneModel(
  lines: string,
  base = "name: 'm' base_path: '/models/m' model_platform: 'tensorflow'",
): string {
  return `model_config_list {\n  config {\n    ${base}\n    ${lines}\n  }\n}\n`;
}

function errorOf(text: string): string {
  try {
    parseModelServerConfig(text, SOURCE);
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('CONFIG_INVALID');
    return (err as RuntimeError).message;
  }
  throw new Error(`no error for ${text}`);
}

describe('ModelServerConfig: TF Serving documented examples (serving_config.md)', () => {
  it('serves two models, each at its latest version', () => {
    const models = parseModelServerConfig(
      `model_config_list {
  config {
    name: 'my_first_model'
    base_path: '/tmp/my_first_model/'
    model_platform: 'tensorflow'
  }
  config {
    name: 'my_second_model'
    base_path: '/tmp/my_second_model/'
    model_platform: 'tensorflow'
  }
}`,
      SOURCE,
    );
    expect(models).toEqual([
      {
        name: 'my_first_model',
        basePath: '/tmp/my_first_model/',
        platform: 'tensorflow',
        versionPolicy: { kind: 'latest', numVersions: 1 },
        versionLabels: {},
      },
      {
        name: 'my_second_model',
        basePath: '/tmp/my_second_model/',
        platform: 'tensorflow',
        versionPolicy: { kind: 'latest', numVersions: 1 },
        versionLabels: {},
      },
    ]);
  });

  it('pins one version', () => {
    const [model] = parseModelServerConfig(
      oneModel('model_version_policy {\n  specific {\n    versions: 42\n  }\n}'),
      SOURCE,
    );
    expect(model?.versionPolicy).toEqual({ kind: 'specific', versions: [42] });
  });

  it('serves two versions with stable and canary labels', () => {
    const [model] = parseModelServerConfig(
      oneModel(`model_version_policy {
  specific {
    versions: 42
    versions: 43
  }
}
version_labels {
  key: 'stable'
  value: 42
}
version_labels {
  key: 'canary'
  value: 43
}`),
      SOURCE,
    );
    expect(model?.versionPolicy).toEqual({ kind: 'specific', versions: [42, 43] });
    expect(model?.versionLabels).toEqual({ stable: 42, canary: 43 });
  });

  it('moves both labels to one version', () => {
    const [model] = parseModelServerConfig(
      oneModel(`model_version_policy { specific { versions: 42 versions: 43 } }
version_labels { key: 'stable' value: 43 }
version_labels { key: 'canary' value: 43 }`),
      SOURCE,
    );
    expect(model?.versionLabels).toEqual({ stable: 43, canary: 43 });
  });
});

describe('ModelServerConfig: what is accepted', () => {
  it('reads every version policy', () => {
    const policy = (text: string) =>
      parseModelServerConfig(oneModel(`model_version_policy { ${text} }`), SOURCE)[0]
        ?.versionPolicy;
    expect(policy('latest { num_versions: 3 }')).toEqual({ kind: 'latest', numVersions: 3 });
    // As TF Serving: 0 or unset serves one version.
    expect(policy('latest { }')).toEqual({ kind: 'latest', numVersions: 1 });
    expect(policy('latest { num_versions: 0 }')).toEqual({ kind: 'latest', numVersions: 1 });
    expect(policy('all { }')).toEqual({ kind: 'all' });
    expect(policy('')).toEqual(DEFAULT_VERSION_POLICY);
    expect(policy('specific { versions: [7, 3, 7, 0x10] }')).toEqual({
      kind: 'specific',
      versions: [3, 7, 16],
    });
  });

  it('takes the deprecated model_type TENSORFLOW as the tensorflow platform', () => {
    const [model] = parseModelServerConfig(
      oneModel('model_type: TENSORFLOW', "name: 'm' base_path: '/m'"),
      SOURCE,
    );
    expect(model?.platform).toBe('tensorflow');
    for (const modelType of ['1', 'MODEL_TYPE_UNSPECIFIED', '0']) {
      const base = modelType === '1' ? "name: 'm' base_path: '/m'" : undefined;
      const [other] = parseModelServerConfig(oneModel(`model_type: ${modelType}`, base), SOURCE);
      expect(other?.platform).toBe('tensorflow');
    }
  });

  it('takes the base paths Tensorfleet can list versions under', () => {
    for (const basePath of [
      '/models/m',
      'file:///models/m',
      's3://b/m',
      'gs://b/m',
      'pvc://claim/m',
    ]) {
      const [model] = parseModelServerConfig(
        oneModel('', `name: 'm' base_path: '${basePath}' model_platform: 'tensorflow'`),
        SOURCE,
      );
      expect(model?.basePath).toBe(basePath);
    }
  });

  it('reads version labels written as a list of map entries', () => {
    const [model] = parseModelServerConfig(
      oneModel("version_labels: [{ key: 'a' value: 1 }, < key: 'b_2', value: 2 >]"),
      SOURCE,
    );
    expect(model?.versionLabels).toEqual({ a: 1, b_2: 2 });
  });

  it('returns frozen values', () => {
    const models = parseModelServerConfig(
      oneModel(
        "version_labels { key: 'a' value: 1 } model_version_policy { specific { versions: 1 } }",
      ),
      SOURCE,
    );
    expect(Object.isFrozen(models)).toBe(true);
    expect(Object.isFrozen(models[0])).toBe(true);
    expect(Object.isFrozen(models[0]?.versionLabels)).toBe(true);
    const policy = models[0]?.versionPolicy;
    expect(Object.isFrozen(policy)).toBe(true);
    expect(policy?.kind === 'specific' && Object.isFrozen(policy.versions)).toBe(true);
  });
});

describe('ModelServerConfig: refusals name the field, the file, the line and the column', () => {
  const cases: [string, string, string][] = [
    ['an empty file', '', 'line 1, column 1: ModelServerConfig has no model_config_list'],
    [
      'an unknown top-level field',
      'model_config_list { }\nmodel_confg_list { }',
      'line 2, column 1: ModelServerConfig has no field "model_confg_list" (its fields: model_config_list, custom_model_config)',
    ],
    [
      'custom_model_config',
      'custom_model_config { }',
      'line 1, column 1: ModelServerConfig.custom_model_config is not supported by Tensorfleet: custom (Any) model configs',
    ],
    [
      'model_config_list twice',
      'model_config_list { config { } }\nmodel_config_list { }',
      'line 2, column 19: ModelServerConfig.model_config_list is set more than once',
    ],
    [
      'model_config_list as a scalar',
      'model_config_list: 1',
      'line 1, column 20: ModelServerConfig.model_config_list is a message: write model_config_list { ... }, not model_config_list: the number 1',
    ],
    [
      'an empty list',
      'model_config_list { }',
      'line 1, column 19: model_config_list lists no model',
    ],
    [
      'an unknown field in the list',
      'model_config_list { configs { } }',
      'line 1, column 21: ModelConfigList has no field "configs"',
    ],
    [
      'an unknown field in a config',
      oneModel('base_paht: "/x"'),
      'line 4, column 5: ModelConfig has no field "base_paht" (its fields: name, base_path, model_type, model_platform, model_version_policy, version_labels, logging_config)',
    ],
    [
      'logging_config',
      oneModel('logging_config { sampling_config { sampling_rate: 0.1 } }'),
      'line 4, column 5: ModelConfig.logging_config is not supported by Tensorfleet: request logging to a LogCollector is not implemented',
    ],
    [
      'no name',
      oneModel('', "base_path: '/m' model_platform: 'tensorflow'"),
      'line 2, column 10: ModelConfig has no name',
    ],
    [
      'a name that is not a URL segment',
      oneModel('', "name: 'my model' base_path: '/m' model_platform: 'tensorflow'"),
      'line 3, column 5: model name "my model" may contain only letters, digits, ".", "_" and "-"',
    ],
    [
      'a name given twice',
      oneModel("name: 'n'"),
      'line 4, column 11: ModelConfig.name is set more than once (it is not a repeated field)',
    ],
    [
      'a name that is not a string',
      oneModel('', "name: model base_path: '/m' model_platform: 'tensorflow'"),
      'line 3, column 11: ModelConfig.name must be a quoted string, found "model"',
    ],
    [
      'no base_path',
      oneModel('', "name: 'm' model_platform: 'tensorflow'"),
      'line 2, column 10: model "m" has no base_path',
    ],
    [
      'a relative base_path',
      oneModel('', "name: 'm' base_path: 'models/m' model_platform: 'tensorflow'"),
      'line 3, column 15: base_path "models/m" of model "m": it must be an absolute path or a URI (as in TF Serving)',
    ],
    [
      'an http base_path',
      oneModel('', "name: 'm' base_path: 'https://h/m' model_platform: 'tensorflow'"),
      'not https:// (http(s) cannot list a directory)',
    ],
    [
      'an hdfs base_path',
      oneModel('', "name: 'm' base_path: 'hdfs://nn/m' model_platform: 'tensorflow'"),
      'line 3, column 15: base_path "hdfs://nn/m" of model "m": Tensorfleet finds version directories under file://, s3://, gs://, az://, hf://, pvc:// or an absolute path, not hdfs://',
    ],
    [
      'no platform',
      oneModel('', "name: 'm' base_path: '/m'"),
      'line 2, column 10: ModelConfig has no model_platform: add model_platform: "tensorflow" (TF Serving requires it too)',
    ],
    [
      'another platform',
      oneModel('', "name: 'm' base_path: '/m' model_platform: 'tflite'"),
      'line 3, column 31: model_platform "tflite" is not served by Tensorfleet',
    ],
    [
      'model_type beside model_platform',
      oneModel('model_type: TENSORFLOW'),
      'line 4, column 17: ModelConfig sets both model_type (deprecated) and model_platform',
    ],
    [
      'model_type OTHER',
      oneModel('model_type: OTHER', "name: 'm' base_path: '/m'"),
      'line 4, column 17: ModelConfig.model_type is deprecated and only TENSORFLOW is accepted',
    ],
    [
      'a model_type that is not one',
      oneModel('model_type: TENSORFLOW_2', "name: 'm' base_path: '/m'"),
      'line 4, column 17: ModelConfig.model_type must be one of MODEL_TYPE_UNSPECIFIED, TENSORFLOW, OTHER',
    ],
    [
      'model_type unspecified without a platform',
      oneModel('model_type: MODEL_TYPE_UNSPECIFIED', "name: 'm' base_path: '/m'"),
      'line 2, column 10: ModelConfig has no model_platform',
    ],
    [
      'a model listed twice',
      `model_config_list {
  config { name: 'm' base_path: '/a' model_platform: 'tensorflow' }
  config { name: 'm' base_path: '/b' model_platform: 'tensorflow' }
}`,
      'line 3, column 10: model "m" is listed more than once (TF Serving refuses this too)',
    ],
    [
      'two policies of the oneof',
      oneModel('model_version_policy { latest { } all { } }'),
      'line 4, column 39: ServableVersionPolicy.all and ServableVersionPolicy.latest are alternatives (a oneof): set only one',
    ],
    [
      'an unknown policy',
      oneModel('model_version_policy { newest { } }'),
      'line 4, column 28: ServableVersionPolicy has no field "newest" (its fields: latest, all, specific)',
    ],
    [
      'a negative num_versions',
      oneModel('model_version_policy { latest { num_versions: -1 } }'),
      'line 4, column 51: Latest.num_versions is -1, out of the range of uint32',
    ],
    [
      'a field inside all',
      oneModel('model_version_policy { all { versions: 1 } }'),
      'line 4, column 34: All has no field "versions"',
    ],
    [
      'a specific policy without versions',
      oneModel('model_version_policy { specific { } }'),
      'line 4, column 37: model_version_policy specific { } lists no versions',
    ],
    [
      'a negative version',
      oneModel('model_version_policy { specific { versions: -3 } }'),
      'line 4, column 49: Specific.versions -3 is not a version directory Tensorfleet serves',
    ],
    [
      'a version past 2^53',
      oneModel('model_version_policy { specific { versions: 9007199254740993 } }'),
      'Specific.versions 9007199254740993 is not a version directory Tensorfleet serves',
    ],
    [
      'a float version',
      oneModel('model_version_policy { specific { versions: 1.5 } }'),
      'line 4, column 49: Specific.versions must be an integer (int64), found the number 1.5',
    ],
    [
      'a label that is not a word',
      oneModel("version_labels { key: 'can-ary' value: 1 }"),
      'line 4, column 22: version label "can-ary" must be letters, digits and "_"',
    ],
    [
      'a label without a key',
      oneModel('version_labels { value: 1 }'),
      'line 4, column 20: version label "" must be letters, digits and "_"',
    ],
    [
      'a label given twice',
      oneModel("version_labels { key: 'a' value: 1 }\nversion_labels { key: 'a' value: 2 }"),
      'line 5, column 18: version label "a" is given twice',
    ],
    [
      'a label at a negative version',
      oneModel("version_labels { key: 'a' value: -1 }"),
      'line 4, column 31: version label "a" points at -1, not a version',
    ],
    [
      'an unknown field in a label',
      oneModel("version_labels { key: 'a' version: 1 }"),
      'line 4, column 31: version_labels has no field "version" (its fields: key, value)',
    ],
  ];
  it.each(cases)('%s', (_name, text, message) => {
    const error = errorOf(text);
    expect(error.startsWith(`${SOURCE} line `)).toBe(true);
    expect(error).toContain(message);
  });
});
