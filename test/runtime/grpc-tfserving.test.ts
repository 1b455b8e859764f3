// TF Serving's gRPC API driven by its own Python client (tensorflow-serving-api
// with TensorFlow's tf.make_tensor_proto / tf.make_ndarray): Predict with every
// dtype in tensor_content and in the typed fields, GetModelMetadata,
// GetModelStatus, and bad requests answered with TF Serving's status codes
// and precise messages, the server serving on afterwards.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures } from './helpers.js';
import { makeFixtures } from './helpers.js';
import type { GrpcRuntime } from './grpc/harness.js';
import { outputOf, runClients, startGrpcRuntime } from './grpc/harness.js';

interface Plain {
  dtype: string;
  shape: number[];
  values: unknown[];
}

interface Status {
  code: string;
  message: string;
}

interface Answer {
  outputs: Record<string, Plain>;
  fields: Record<string, string[]>;
  model_spec: { name: string; version: number; signature_name: string };
}

interface Report {
  expected: Record<string, Plain>;
  predict_tensor_content: Answer;
  predict_typed: Answer;
  predict_filled_f32: Plain;
  predict_output_filter: string[];
  metadata: {
    model_spec: { name: string; version: number };
    signatures: Record<
      string,
      {
        method_name: string;
        inputs: Record<string, [string, number[], string]>;
        outputs: Record<string, [string, number[]]>;
      }
    >;
  };
  status: { version: number; state: string; error_code: number; error_message: string }[];
  errors: Record<string, Status>;
  after_errors: Plain;
}

let fx: Fixtures;
let server: GrpcRuntime;
let report: Report;

beforeAll(async () => {
  fx = await makeFixtures();
  server = await startGrpcRuntime(fx.dtypes, { modelName: 'dtypes' });
  report = await runClients<Report>('tfserving', server.addr);
}, 300_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
});

describe('tensorflow.serving.PredictionService/Predict (tensorflow-serving-api)', () => {
  it('answers every dtype sent as tensor_content, bit for bit', () => {
    const names = Object.keys(report.expected);
    expect(names).toHaveLength(9);
    for (const name of names) {
      expect(report.predict_tensor_content.outputs[outputOf(name)], name).toEqual(
        report.expected[name],
      );
    }
    expect(report.predict_tensor_content.model_spec).toEqual({
      name: 'dtypes',
      version: 1,
      signature_name: 'serving_default',
    });
  });

  it('answers every dtype sent in its typed field, in typed fields as TF Serving does', () => {
    for (const name of Object.keys(report.expected)) {
      expect(report.predict_typed.outputs[outputOf(name)], name).toEqual(report.expected[name]);
    }
    const fields = report.predict_typed.fields;
    expect(fields['f32_out']).toEqual(['dtype', 'float_val', 'tensor_shape']);
    expect(fields['f16_out']).toEqual(['dtype', 'half_val', 'tensor_shape']);
    expect(fields['i64_out']).toEqual(['dtype', 'int64_val', 'tensor_shape']);
    expect(fields['text_bytes']).toEqual(['dtype', 'string_val', 'tensor_shape']);
  });

  it('fills a shape from one typed value, as TensorFlow reads a short field', () => {
    expect(report.predict_filled_f32).toEqual({
      dtype: 'float32',
      shape: [2, 2],
      values: Array(4).fill('0x1.c000000000000p+2'), // 7.0, as Python's float.hex writes it
    });
  });

  it('returns only the outputs named in output_filter', () => {
    expect(report.predict_output_filter).toEqual(['i64_out']);
  });
});

describe('GetModelMetadata and GetModelStatus', () => {
  it('GetModelMetadata packs the SignatureDefMap in an Any', () => {
    const sig = report.metadata.signatures['serving_default'];
    expect(report.metadata.model_spec).toEqual({ name: 'dtypes', version: 1 });
    expect(sig?.method_name).toBe('tensorflow/serving/predict');
    expect(sig?.inputs['f32']).toEqual(['DT_FLOAT', [-1, 2], 'f32:0']);
    expect(sig?.inputs['i64']?.[0]).toBe('DT_INT64');
    expect(sig?.inputs['text']?.slice(0, 2)).toEqual(['DT_STRING', [-1]]);
    expect(sig?.outputs['f16_out']).toEqual(['DT_HALF', [-1, 2]]);
    expect(Object.keys(sig?.inputs ?? {})).toHaveLength(9);
  });

  it('GetModelStatus reports the version AVAILABLE', () => {
    expect(report.status).toEqual([
      { version: 1, state: 'AVAILABLE', error_code: 0, error_message: '' },
    ]);
  });
});

describe('bad requests get TF Serving status codes and precise messages', () => {
  const cases: [string, string, string | RegExp][] = [
    ['unknown_model', 'NOT_FOUND', 'model "nope" is not served here; this runtime serves "dtypes"'],
    [
      'unknown_version',
      'NOT_FOUND',
      'model "dtypes" has no version "7"; this runtime serves version "1"',
    ],
    [
      'unknown_label',
      'NOT_FOUND',
      'model "dtypes" has no version "canary"; this runtime serves version "1"',
    ],
    [
      'unknown_signature',
      'INVALID_ARGUMENT',
      'serving signature "other" not found; this model serves "serving_default"',
    ],
    [
      'wrong_dtype',
      'INVALID_ARGUMENT',
      'input "f32" has dtype DT_DOUBLE but the model expects DT_FLOAT',
    ],
    [
      'wrong_shape',
      'INVALID_ARGUMENT',
      'input "f32" has shape [2] but the model expects [-1,2] (-1 = any size)',
    ],
    [
      'short_content',
      'INVALID_ARGUMENT',
      'input "f32": tensor_content has 12 bytes but shape [2,2] of DT_FLOAT needs 16',
    ],
    ['out_of_range', 'INVALID_ARGUMENT', /^input "i64" element 0 = 1099511627776 is out of range/],
    ['missing_input', 'INVALID_ARGUMENT', /^missing input "flag" \(DT_BOOL \[-1,2\]\)/],
    ['unknown_input', 'INVALID_ARGUMENT', /^unknown input "nope"; the model's inputs are "f32", /],
    ['unknown_output', 'INVALID_ARGUMENT', /^output_filter names unknown output "nope"/],
    ['classify', 'UNIMPLEMENTED', /^Classify is not supported: it needs tf.Example/],
    [
      'metadata_field',
      'INVALID_ARGUMENT',
      'metadata_field "graph" is not supported; use "signature_def"',
    ],
    [
      'status_unknown_model',
      'NOT_FOUND',
      'model "nope" is not served here; this runtime serves "dtypes"',
    ],
  ];
  it.each(cases)('%s: %s', (name, code, message) => {
    const got = report.errors[name];
    expect(got?.code, name).toBe(code);
    if (typeof message === 'string') expect(got?.message).toBe(message);
    else expect(got?.message).toMatch(message);
  });

  it('serves on after them', () => {
    expect(report.after_errors).toEqual(report.expected['f32']);
  });
});
