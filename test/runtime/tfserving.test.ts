// TF Serving REST API: every endpoint, row and columnar formats, b64, multiple
// named inputs/outputs, both model formats.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, startRuntime } from './helpers.js';
import { testBackend, testDevice, tfjsBackendName } from './native.js';

let fx: Fixtures;
const runtimes: TestRuntime[] = [];
let hpt: TestRuntime;
let two: TestRuntime;
let dtypes: TestRuntime;
let mlp: TestRuntime;

beforeAll(async () => {
  fx = await makeFixtures();
  [hpt, two, dtypes, mlp] = await Promise.all([
    startRuntime(fx.halfPlusTwo, { modelName: 'half_plus_two', modelVersion: '123' }),
    startRuntime(fx.twoInTwoOut, { modelName: 'two', backend: 'cpu' }),
    startRuntime(fx.dtypes, { modelName: 'dtypes' }),
    startRuntime(fx.mlpLayers, { modelName: 'mlp' }),
  ]);
  runtimes.push(hpt, two, dtypes, mlp);
}, 120_000);

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  await fx?.cleanup();
});

describe('TF Serving predict', () => {
  it('answers the documented half_plus_two example exactly', async () => {
    const res = await hpt.app.inject({
      method: 'POST',
      url: '/v1/models/half_plus_two:predict',
      // curl -d sends this content type; TF Serving's own examples rely on it.
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '{"instances": [1.0, 2.0, 5.0]}',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ predictions: [2.5, 3.0, 4.5] });
  });

  it('accepts the version in the URL and a labels alias for it', async () => {
    for (const url of [
      '/v1/models/half_plus_two/versions/123:predict',
      '/v1/models/half_plus_two/labels/123:predict',
    ]) {
      const res = await hpt.app.inject({ method: 'POST', url, payload: { instances: [0] } });
      expect(res.statusCode, url).toBe(200);
      expect(res.json()).toEqual({ predictions: [2] });
    }
  });

  it('columnar "inputs" answers with "outputs"', async () => {
    const res = await hpt.app.inject({
      method: 'POST',
      url: '/v1/models/half_plus_two:predict',
      payload: { signature_name: 'serving_default', inputs: [1, 3] },
    });
    expect(res.json()).toEqual({ outputs: [2.5, 3.5] });
    const named = await hpt.app.inject({
      method: 'POST',
      url: '/v1/models/half_plus_two:predict',
      payload: { inputs: { x: [4] } },
    });
    expect(named.json()).toEqual({ outputs: [4] });
  });

  it('row format with named inputs returns one object per row for several outputs', async () => {
    const res = await two.app.inject({
      method: 'POST',
      url: '/v1/models/two:predict',
      payload: {
        instances: [
          { a: [1, 2, 3], b: [10, 20] },
          { a: [0, 0, 1], b: [0.5, 0.25] },
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      predictions: [
        { sum: [36], concat: [1, 2, 3, 10, 20] },
        { sum: [1.75], concat: [0, 0, 1, 0.5, 0.25] },
      ],
    });
  });

  it('columnar format with several inputs returns an object of outputs', async () => {
    const res = await two.app.inject({
      method: 'POST',
      url: '/v1/models/two:predict',
      payload: { inputs: { a: [[1, 1, 1]], b: [[2, 2]] } },
    });
    expect(res.json()).toEqual({ outputs: { sum: [[7]], concat: [[1, 1, 1, 2, 2]] } });
  });

  it('round-trips every dtype; strings as text or {"b64"}, *_bytes outputs as b64', async () => {
    const res = await dtypes.app.inject({
      method: 'POST',
      url: '/v1/models/dtypes:predict',
      payload: {
        instances: [
          {
            f32: [0.1, -2.5],
            i32: [-7, 2147483647],
            u8: [0, 255],
            i64: [-1, 9],
            i8: [-128, 127],
            f16: [0.5, -1024],
            f64: [0.1, 2],
            flag: [true, false],
            text: { b64: Buffer.from([0, 255, 1]).toString('base64') },
          },
          {
            f32: [1e-7, 3],
            i32: [0, 1],
            u8: [7, 8],
            i64: [0, 0],
            i8: [0, 0],
            f16: [0, 0],
            f64: [0, 0],
            flag: [false, true],
            text: 'héllo',
          },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ predictions: Record<string, unknown>[] }>();
    expect(body.predictions[0]).toEqual({
      f32_out: [0.1, -2.5],
      i32_out: [-7, 2147483647],
      u8_out: [0, 255],
      i64_out: [-1, 9],
      i8_out: [-128, 127],
      f16_out: [0.5, -1024],
      f64_out: [0.1, 2],
      flag_out: [true, false],
      text_bytes: { b64: Buffer.from([0, 255, 1]).toString('base64') },
    });
    expect(body.predictions[1]?.['text_bytes']).toEqual({
      b64: Buffer.from('héllo').toString('base64'),
    });
    // float32 values print as their shortest decimal, not as widened doubles.
    expect(res.body).toContain('"f32_out":[0.1,-2.5]');
    expect(res.body).toContain('1e-7');
  });

  it('serves a layers model (MLP 784-128-10) whose rows are probability vectors', async () => {
    const instance = Array.from({ length: 784 }, (_, i) => (i % 17) / 17);
    const res = await mlp.app.inject({
      method: 'POST',
      url: '/v1/models/mlp:predict',
      payload: { instances: [instance, instance] },
    });
    expect(res.statusCode).toBe(200);
    const { predictions } = res.json<{ predictions: number[][] }>();
    expect(predictions).toHaveLength(2);
    expect(predictions[0]).toHaveLength(10);
    expect(predictions[0]?.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // Equal rows give equal answers, to float32 rounding: TensorFlow's oneDNN
    // kernels may round the rows of one batch differently in the last bit.
    predictions[1]?.forEach((p, i) => expect(p).toBeCloseTo(predictions[0]?.[i] ?? NaN, 6));
  });
});

describe('TF Serving status and metadata', () => {
  it('reports model status AVAILABLE for all versions and for the served one', async () => {
    const expected = {
      // KServe's v1 fields beside TF Serving's.
      name: 'half_plus_two',
      ready: true,
      model_version_status: [
        { version: '123', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
      ],
    };
    for (const url of ['/v1/models/half_plus_two', '/v1/models/half_plus_two/versions/123']) {
      const res = await hpt.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(expected);
    }
  });

  it('returns the signature_def metadata in TF Serving layout, with the backend', async () => {
    const res = await hpt.app.inject({ method: 'GET', url: '/v1/models/half_plus_two/metadata' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      model_spec: { name: 'half_plus_two', signature_name: '', version: '123' },
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: {
              inputs: {
                x: {
                  dtype: 'DT_FLOAT',
                  tensor_shape: { dim: [{ size: '-1', name: '' }], unknown_rank: false },
                  name: 'x:0',
                },
              },
              outputs: {
                y: {
                  dtype: 'DT_FLOAT',
                  tensor_shape: { dim: [{ size: '-1', name: '' }], unknown_rank: false },
                  name: 'y:0',
                },
              },
              method_name: 'tensorflow/serving/predict',
            },
          },
        },
        tensorfleet: {
          backend: testBackend(),
          tfjs_backend: tfjsBackendName(testBackend()),
          device: testDevice(),
          format: 'tfjs-graph',
        },
      },
    });
    const layers = await two.app.inject({
      method: 'GET',
      url: '/v1/models/two/versions/1/metadata',
    });
    const sig = layers.json<{
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: {
              inputs: Record<string, { tensor_shape: { dim: { size: string }[] } }>;
            };
          };
        };
        tensorfleet: { backend: string };
      };
    }>();
    expect(Object.keys(sig.metadata.signature_def.signature_def.serving_default.inputs)).toEqual([
      'a',
      'b',
    ]);
    expect(
      sig.metadata.signature_def.signature_def.serving_default.inputs['a']?.tensor_shape.dim.map(
        (d) => d.size,
      ),
    ).toEqual(['-1', '3']);
    expect(sig.metadata.tensorfleet.backend).toBe('cpu');
  });

  it('rejects :classify and :regress with 501 and a reason', async () => {
    const res = await hpt.app.inject({
      method: 'POST',
      url: '/v1/models/half_plus_two:classify',
      payload: {},
    });
    expect(res.statusCode).toBe(501);
    expect(res.json<{ error: string }>().error).toMatch(/:classify is not supported/);
  });
});
