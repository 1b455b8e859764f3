// Properties of the text format layer: any tree printed and parsed back is the
// same tree; any text, however broken, either parses or fails with
// CONFIG_INVALID at a line and column (never another exception, never a hang);
// the config readers above it fail the same way; and any well-formed
// model_config_list reads as exactly the models it describes.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/runtime/errors.js';
import { parseBatchingParameters } from '../../../src/runtime/tfserving/batching-parameters.js';
import { parseTensorflowModelServerCommandLine } from '../../../src/runtime/tfserving/command-line.js';
import { parseModelServerConfig } from '../../../src/runtime/tfserving/model-server-config.js';
import { parseMonitoringConfig } from '../../../src/runtime/tfserving/monitoring-config.js';
import type {
  TextField,
  TextMessage,
  TextScalar,
  TextValue,
} from '../../../src/runtime/tfserving/text-format.js';
import { parseTextFormat } from '../../../src/runtime/tfserving/text-format.js';
import { printTextFormat } from '../../../src/runtime/tfserving/text-format-printer.js';

const at = { line: 1, column: 1 };

/** The tree without positions, which printing does not keep. */
function withoutPositions(value: TextValue): unknown {
  if (value.kind !== 'message') return { kind: value.kind, value: value.value };
  return value.fields.map((f) => ({ name: f.name, values: f.values.map(withoutPositions) }));
}

const fieldName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,11}$/);

const scalar: fc.Arbitrary<TextScalar> = fc.oneof(
  fc
    .string({ unit: 'binary', maxLength: 20 })
    .filter((s) => !/\p{Cs}/u.test(s)) // lone surrogates are not text
    .map((value) => ({ kind: 'string' as const, value, position: at })),
  fc
    .bigInt({ min: -(2n ** 64n), max: 2n ** 64n })
    .map((value) => ({ kind: 'integer' as const, value, position: at })),
  fc.double().map((value) => ({ kind: 'float' as const, value, position: at })),
  fieldName.map((value) => ({ kind: 'identifier' as const, value, position: at })),
);

const { message } = fc.letrec<{ message: TextMessage; field: TextField }>((tie) => ({
  message: fc
    .uniqueArray(tie('field'), { maxLength: 4, selector: (f) => f.name })
    .map((fields) => ({ kind: 'message' as const, position: at, fields })),
  field: fc.record({
    name: fieldName,
    position: fc.constant(at),
    values: fc.array(
      fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('message')),
      { minLength: 1, maxLength: 3 },
    ),
  }),
}));

/** Fails the property unless `fn` returns or throws CONFIG_INVALID at a line and column. */
function onlyConfigInvalid(fn: () => unknown, position = true): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof RuntimeError) || err.code !== 'CONFIG_INVALID') throw err;
    if (position) expect(err.message).toMatch(/ line \d+, column \d+: /);
  }
}

/** Text made of the pieces config files are made of, in any order. */
const configLike = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '{',
        '}',
        '<',
        '>',
        '[',
        ']',
        ':',
        ',',
        ';',
        '-',
        '"',
        "'",
        '\\',
        '#',
        '\n',
        ' ',
        'model_config_list',
        'config',
        'name',
        'base_path',
        'model_platform',
        'model_version_policy',
        'specific',
        'latest',
        'all',
        'versions',
        'num_versions',
        'version_labels',
        'key',
        'value',
        'logging_config',
        'max_batch_size',
        'prometheus_config',
        'enable',
        'path',
        'true',
        '0x',
        '"tensorflow"',
        "'/models/m'",
        '"/x"',
        '42',
        '-1',
        '1.5',
        '\\x',
        '\\u',
        '077',
        'inf',
      ),
      fc.string({ maxLength: 3 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

describe('text format properties', () => {
  it('a printed tree parses back to the same tree', () => {
    fc.assert(
      fc.property(message, (tree) => {
        const parsed = parseTextFormat(printTextFormat(tree), 'printed');
        expect(withoutPositions(parsed)).toEqual(withoutPositions(tree));
      }),
      { numRuns: 300 },
    );
  });

  it('any text parses or fails with CONFIG_INVALID at a line and column', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), configLike), (text) => {
        onlyConfigInvalid(() => parseTextFormat(text, 'garbage'));
      }),
      { numRuns: 1000 },
    );
  });

  it('the config readers fail only with CONFIG_INVALID at a line and column', () => {
    fc.assert(
      fc.property(configLike, (text) => {
        onlyConfigInvalid(() => parseModelServerConfig(text, 'models.config'));
        onlyConfigInvalid(() => parseBatchingParameters(text, 'batching.txt'));
        onlyConfigInvalid(() => parseMonitoringConfig(text, 'monitoring.txt'));
      }),
      { numRuns: 1000 },
    );
  });

  it('any command line parses or fails with CONFIG_INVALID', () => {
    const flag = fc.constantFrom(
      '--port',
      '--rest_api_port',
      '--model_name',
      '--model_base_path',
      '--model_config_file',
      '--enable_batching',
      '--batching_parameters_file',
      '--monitoring_config_file',
      '--version',
      '--help',
      '--ssl_config_file',
      '--grpc_max_threads',
      '--model-name',
      '-port',
      '--',
    );
    const argument = fc.oneof(
      flag,
      fc.tuple(flag, fc.constantFrom('=', ''), fc.string({ maxLength: 8 })).map((p) => p.join('')),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(argument, { maxLength: 8 }), configLike, (argv, file) => {
        onlyConfigInvalid(
          () => parseTensorflowModelServerCommandLine(argv, { readFile: () => file }),
          false,
        );
      }),
      { numRuns: 1000 },
    );
  });
});

/** A ModelConfig as TF Serving users write it, and the model it must read as. */
const modelConfig = fc
  .record({
    name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/),
    basePath: fc.oneof(
      fc.stringMatching(/^\/[a-z0-9_/.-]{0,20}$/),
      fc
        .tuple(
          fc.constantFrom('s3://', 'gs://', 'file:///', 'pvc://'),
          fc.stringMatching(/^[a-z0-9/]{1,12}$/),
        )
        .map(([scheme, rest]) => scheme + rest),
    ),
    policy: fc.oneof(
      fc.constant({ kind: 'default' as const }),
      fc.nat(5).map((numVersions) => ({ kind: 'latest' as const, numVersions })),
      fc.constant({ kind: 'all' as const }),
      fc
        .array(fc.nat({ max: 2 ** 40 }), { minLength: 1, maxLength: 4 })
        .map((versions) => ({ kind: 'specific' as const, versions })),
    ),
    labels: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[A-Za-z0-9_]{1,8}$/), fc.nat(1000)), {
      maxLength: 3,
      selector: ([label]) => label,
    }),
    quote: fc.constantFrom('"', "'"),
  })
  .map(({ name, basePath, policy, labels, quote }) => {
    const q = (s: string) => `${quote}${s}${quote}`;
    const policyText =
      policy.kind === 'default'
        ? ''
        : policy.kind === 'latest'
          ? `model_version_policy { latest { num_versions: ${policy.numVersions} } }`
          : policy.kind === 'all'
            ? 'model_version_policy { all { } }'
            : `model_version_policy { specific { versions: [${policy.versions.join(', ')}] } }`;
    const text = [
      `config {`,
      `  name: ${q(name)}`,
      `  base_path: ${q(basePath)}`,
      `  model_platform: ${q('tensorflow')}`,
      `  ${policyText}`,
      ...labels.map(
        ([label, version]) => `  version_labels { key: ${q(label)} value: ${version} }`,
      ),
      `}`,
    ].join('\n');
    const versionPolicy =
      policy.kind === 'default'
        ? { kind: 'latest', numVersions: 1 }
        : policy.kind === 'latest'
          ? { kind: 'latest', numVersions: Math.max(1, policy.numVersions) }
          : policy.kind === 'all'
            ? { kind: 'all' }
            : { kind: 'specific', versions: [...new Set(policy.versions)].sort((a, b) => a - b) };
    return {
      text,
      model: {
        name,
        basePath,
        platform: 'tensorflow',
        versionPolicy,
        versionLabels: Object.fromEntries(labels),
      },
    };
  });

describe('model config file properties', () => {
  it('any list of well-formed model configs reads as the models it describes', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(modelConfig, { minLength: 1, maxLength: 4, selector: (c) => c.model.name }),
        (configs) => {
          const text = `model_config_list {\n${configs.map((c) => c.text).join('\n')}\n}\n`;
          expect(parseModelServerConfig(text, 'models.config')).toEqual(
            configs.map((c) => c.model),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
