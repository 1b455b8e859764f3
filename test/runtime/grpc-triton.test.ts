// The Open Inference Protocol's gRPC API driven by Triton's own client
// (tritonclient[grpc], numpy inputs of every datatype the model takes, sent
// as raw_input_contents), health through grpc-health-probe, and bad input and
// oversize messages answered with the right status code and a precise
// message, the server serving on afterwards.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME_VERSION } from '../../src/runtime/version.js';
import type { Fixtures } from './helpers.js';
import { makeFixtures, metricValue } from './helpers.js';
import type { GrpcRuntime } from './grpc/harness.js';
import { outputOf, probe, runClients, startGrpcRuntime } from './grpc/harness.js';

interface Plain {
  dtype: string;
  shape: number[];
  values: unknown[];
}

interface Status {
  code: string;
  message: string;
}

interface Report {
  expected: Record<string, Plain>;
  infer: {
    outputs: Record<string, Plain>;
    datatypes: Record<string, string>;
    id: string;
    model_name: string;
    model_version: string;
  };
  infer_outputs: { names: string[]; f64_out: Plain; f32_out: Plain };
  health: Record<string, boolean>;
  server_metadata: unknown;
  model_metadata: {
    name: string;
    versions: string[];
    platform: string;
    inputs: { name: string; datatype: string; shape: string[] }[];
    outputs: { name: string; datatype: string; shape: string[] }[];
  };
  errors: Record<string, Status>;
  after_errors: Plain;
}

/** Small enough that an infer of 200 000 bytes is refused. */
const MAX_BODY_BYTES = 65536;

let fx: Fixtures;
let server: GrpcRuntime;
let report: Report;

beforeAll(async () => {
  fx = await makeFixtures();
  server = await startGrpcRuntime(fx.dtypes, {
    modelName: 'dtypes',
    maxBodyBytes: MAX_BODY_BYTES,
  });
  report = await runClients<Report>('triton', server.addr);
}, 300_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
});

describe('inference.GRPCInferenceService (tritonclient[grpc])', () => {
  it('infers with numpy inputs of every datatype, answered bit for bit', () => {
    const names = Object.keys(report.expected);
    expect(names).toHaveLength(9);
    for (const name of names)
      expect(report.infer.outputs[outputOf(name)], name).toEqual(report.expected[name]);
    expect(report.infer.datatypes).toEqual({
      f32_out: 'FP32',
      i32_out: 'INT32',
      u8_out: 'UINT8',
      i64_out: 'INT64',
      i8_out: 'INT8',
      f16_out: 'FP16',
      f64_out: 'FP64',
      flag_out: 'BOOL',
      text_bytes: 'BYTES',
    });
    expect(report.infer).toMatchObject({ id: 'req-7', model_name: 'dtypes', model_version: '1' });
  });

  it('answers the requested outputs in order, with class_count as classification', () => {
    expect(report.infer_outputs.names).toEqual(['f64_out', 'f32_out']);
    expect(report.infer_outputs.f64_out).toEqual(report.expected['f64']);
    expect(report.infer_outputs.f32_out).toEqual({
      dtype: 'object',
      shape: [2, 1],
      // As REST's classification prints them (classification.ts).
      values: ['1.500000:0', '3.4028234663852886e+38:0'],
    });
  });

  it('reports health, server and model metadata', () => {
    expect(report.health).toEqual({
      live: true,
      ready: true,
      model_ready: true,
      model_version_ready: true,
    });
    expect(report.server_metadata).toEqual({
      name: 'tensorfleet-runtime',
      version: RUNTIME_VERSION,
      extensions: ['classification'],
    });
    const meta = report.model_metadata;
    expect(meta).toMatchObject({ name: 'dtypes', versions: ['1'], platform: 'tensorflowjs_graph' });
    expect(meta.inputs).toHaveLength(9);
    expect(meta.inputs[0]).toEqual({ name: 'f32', datatype: 'FP32', shape: ['-1', '2'] });
    expect(meta.outputs.find((o) => o.name === 'f16_out')).toEqual({
      name: 'f16_out',
      datatype: 'FP16',
      shape: ['-1', '2'],
    });
  });
});

describe('bad requests get the right status code and a precise message', () => {
  const cases: [string, string, string | RegExp][] = [
    [
      'wrong_datatype',
      'INVALID_ARGUMENT',
      'input "f32" has datatype FP64 but the model expects FP32',
    ],
    [
      'wrong_shape',
      'INVALID_ARGUMENT',
      'input "f32" has shape [4] but the model expects [-1,2] (-1 = any size)',
    ],
    [
      'batch_mismatch',
      'INVALID_ARGUMENT',
      /^the inputs disagree on the batch size \(dimension 0\)/,
    ],
    [
      'out_of_range',
      'INVALID_ARGUMENT',
      /^input "i64" element 0 = 1099511627776 is out of range for INT64/,
    ],
    ['unknown_model', 'NOT_FOUND', 'model "nope" is not served here; this runtime serves "dtypes"'],
    [
      'unknown_version',
      'NOT_FOUND',
      'model "dtypes" has no version "9"; this runtime serves version "1"',
    ],
    [
      'unknown_output',
      'INVALID_ARGUMENT',
      /^outputs\[0\]: unknown output "nope"; the model's outputs/,
    ],
    ['model_ready_unknown', 'NOT_FOUND', /^model "nope" is not served here/],
    ['metadata_unknown', 'NOT_FOUND', /^model "nope" is not served here/],
  ];
  it.each(cases)('%s: %s', (name, code, message) => {
    const got = report.errors[name];
    expect(got?.code, name).toBe(code);
    if (typeof message === 'string') expect(got?.message).toBe(message);
    else expect(got?.message).toMatch(message);
  });

  it('serves on after them', () => {
    expect(report.after_errors).toEqual(report.expected['u8']);
  });

  it('refuses a message over --max-body-bytes with RESOURCE_EXHAUSTED, and serves on', async () => {
    const got = await runClients<{ oversize: Status; after: Plain }>('oversize', server.addr, [
      '200000',
    ]);
    expect(got.oversize.code).toBe('RESOURCE_EXHAUSTED');
    expect(got.oversize.message).toMatch(
      new RegExp(
        `^the request message is \\d+ bytes, more than this server's limit of ${MAX_BODY_BYTES} \\(--max-body-bytes\\)$`,
      ),
    );
    expect(got.after).toEqual(report.expected['i8']);
  }, 60_000);

  it('counts the calls under protocol="grpc" with REST\'s status codes', async () => {
    const count = (code: string): Promise<number | undefined> =>
      metricValue(server.rt.metrics, 'tensorfleet_runtime_requests_total', {
        protocol: 'grpc',
        code,
      });
    // 3 answered infers, then 5 refused with INVALID_ARGUMENT (the unknown model and version are not this model's traffic).
    expect(await count('200')).toBeGreaterThanOrEqual(3);
    expect(await count('400')).toBe(5);
  });
});

describe('grpc.health.v1.Health (grpc-health-probe)', () => {
  it('says SERVING for the server and each service', async () => {
    for (const service of [
      '',
      'inference.GRPCInferenceService',
      'tensorflow.serving.PredictionService',
    ]) {
      const got = await probe(server.addr, service === '' ? [] : [`-service=${service}`]);
      expect(got, service).toEqual({
        code: 0,
        output: expect.stringContaining('SERVING') as string,
      });
    }
  });

  it('fails for a service that is not here', async () => {
    const got = await probe(server.addr, ['-service=nope']);
    expect(got.code).toBe(3);
    expect(got.output).toMatch(/NotFound.*no service "nope" here/);
  });
});

describe('server reflection (grpcio-reflection)', () => {
  it('lists every service and describes them down to the imported messages', async () => {
    const got = await runClients<{
      services: string[];
      methods: Record<string, Record<string, [string, string]>>;
      tensor_fields: string[];
    }>('reflection', server.addr);
    expect(got.services).toEqual([
      'grpc.health.v1.Health',
      'inference.GRPCInferenceService',
      'tensorflow.serving.ModelService',
      'tensorflow.serving.PredictionService',
    ]);
    expect(got.methods['tensorflow.serving.PredictionService']?.['Predict']).toEqual([
      'tensorflow.serving.PredictRequest',
      'tensorflow.serving.PredictResponse',
    ]);
    expect(Object.keys(got.methods['inference.GRPCInferenceService'] ?? {})).toHaveLength(6);
    expect(got.tensor_fields).toContain('tensor_content');
    expect(got.tensor_fields).toContain('half_val');
  }, 60_000);
});
