// TF SavedModels made by TensorFlow itself (tools/native/saved_models.py, run
// by `npm run setup:native` with the same TensorFlow release the backend
// links), served on the native `tensorflow` backend: format detection, the
// SignatureDef as both protocols report it, answers equal to TensorFlow's own
// (expected.json), dynamic batching, a missing signature, and the real
// `tensorfleet-runtime serve` process picking the backend by itself.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveConfigDefaults } from '../../src/runtime/config.js';
import { RuntimeMetrics } from '../../src/runtime/metrics.js';
import { RequestBodies } from '../../src/runtime/request-bodies.js';
import { ModelService } from '../../src/runtime/service.js';
import type { TestRuntime } from './helpers.js';
import { metricValue, startRuntime } from './helpers.js';
import type { NativeManifest } from './native.js';
import { NATIVE_VERSIONS, nativeSkipReason, nativeStatus } from './native.js';
import { startProcess, waitReady } from './process.js';

interface Expected {
  dtype: string;
  shape: number[];
  data: number[];
}
interface Case {
  inputs: Record<string, Expected>;
  outputs: Record<string, Expected>;
}

const status = nativeStatus();
const skip = nativeSkipReason(status);

function manifest(): NativeManifest {
  if (!status.available) throw new Error(`${status.reason}: run npm run setup:native`);
  return status.manifest;
}

describe.skipIf(skip !== undefined)('TF SavedModel made by TensorFlow, on tensorflow', () => {
  let dir: string;
  let expected: { tensorflow: string; half_plus_two: Case; dense: Case };
  let hpt: TestRuntime;
  let dense: TestRuntime;

  beforeAll(async () => {
    dir = manifest().savedModels;
    expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as typeof expected;
    [hpt, dense] = await Promise.all([
      startRuntime(join(dir, 'half_plus_two'), {
        modelName: 'half_plus_two',
        backend: 'tensorflow',
        maxBatchSize: 64,
        batchTimeoutMicros: 5000,
      }),
      startRuntime(join(dir, 'dense'), { modelName: 'dense', backend: 'tensorflow' }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([hpt?.close(), dense?.close()]);
  });

  it('was written by the pinned TensorFlow', () => {
    expect(expected.tensorflow).toBe(NATIVE_VERSIONS.tensorflow);
  });

  it('is detected as tf-saved-model and reports its SignatureDef in TF Serving layout', async () => {
    const res = await dense.app.inject({ method: 'GET', url: '/v1/models/dense/metadata' });
    expect(res.statusCode).toBe(200);
    const meta = res.json<{
      metadata: {
        signature_def: { signature_def: Record<string, unknown> };
        tensorfleet: Record<string, string>;
      };
    }>();
    expect(meta.metadata.tensorfleet).toEqual({
      backend: 'tensorflow',
      tfjs_backend: 'tensorflow',
      device: 'cpu',
      format: 'tf-saved-model',
    });
    const dim = (...sizes: number[]): object => ({
      dim: sizes.map((s) => ({ size: String(s), name: '' })),
      unknown_rank: false,
    });
    expect(meta.metadata.signature_def.signature_def['serving_default']).toEqual({
      inputs: {
        features: {
          dtype: 'DT_FLOAT',
          tensor_shape: dim(-1, 4),
          name: 'serving_default_features:0',
        },
        steps_in: { dtype: 'DT_INT32', tensor_shape: dim(-1), name: 'serving_default_steps_in:0' },
      },
      outputs: {
        label: { dtype: 'DT_INT32', tensor_shape: dim(-1), name: 'StatefulPartitionedCall:0' },
        scores: { dtype: 'DT_FLOAT', tensor_shape: dim(-1, 3), name: 'StatefulPartitionedCall:1' },
        steps: { dtype: 'DT_INT32', tensor_shape: dim(-1), name: 'StatefulPartitionedCall:2' },
      },
      method_name: 'tensorflow/serving/predict',
    });
  });

  it("answers TF Serving's half_plus_two example as TensorFlow computed it", async () => {
    const res = await hpt.app.inject({
      method: 'POST',
      url: '/v1/models/half_plus_two:predict',
      payload: { instances: expected.half_plus_two.inputs['x']?.data },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ predictions: expected.half_plus_two.outputs['y']?.data });
    expect(res.json()).toEqual({ predictions: [2.5, 3, 4.5] });
  });

  it('answers OIP infer with several inputs and outputs as TensorFlow computed them', async () => {
    const { inputs, outputs } = expected.dense;
    const oip = { float32: 'FP32', int32: 'INT32' } as Record<string, string>;
    const res = await dense.app.inject({
      method: 'POST',
      url: '/v2/models/dense/infer',
      payload: {
        id: 'r1',
        inputs: Object.entries(inputs).map(([name, t]) => ({
          name,
          shape: t.shape,
          datatype: oip[t.dtype],
          data: t.data,
        })),
      },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      id: string;
      model_name: string;
      outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
    }>();
    expect(body.id).toBe('r1');
    const got = Object.fromEntries(body.outputs.map((o) => [o.name, o]));
    expect(Object.keys(got).sort()).toEqual(['label', 'scores', 'steps']);
    for (const [name, want] of Object.entries(outputs)) {
      expect(got[name]?.datatype, name).toBe(oip[want.dtype]);
      expect(got[name]?.shape, name).toEqual(want.shape);
      if (want.dtype === 'float32') {
        got[name]?.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i] ?? NaN, 5));
      } else {
        // int32 outputs exactly; `steps` goes through Round on int32.
        expect(got[name]?.data, name).toEqual(want.data);
      }
    }
  });

  it('batches concurrent requests along dimension 0 and gives each its own rows', async () => {
    const before = (await metricValue(hpt.metrics, 'tensorfleet_runtime_batch_size_count')) ?? 0;
    const n = 32;
    const responses = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        hpt.app.inject({
          method: 'POST',
          url: '/v1/models/half_plus_two:predict',
          payload: { instances: [i, -i, i + 0.5] },
        }),
      ),
    );
    responses.forEach((res, i) => {
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ predictions: [0.5 * i + 2, -0.5 * i + 2, 0.5 * (i + 0.5) + 2] });
    });
    const batches =
      ((await metricValue(hpt.metrics, 'tensorfleet_runtime_batch_size_count')) ?? 0) - before;
    expect(batches).toBeLessThan(n);
  }, 60_000);

  it('fails to load a signature the SavedModel does not have, naming the ones it has', async () => {
    const config = serveConfigDefaults({
      modelName: 'hpt',
      modelUri: join(dir, 'half_plus_two'),
      backend: 'tensorflow',
      signature: 'classify',
      workers: 1,
    });
    const service = new ModelService({
      config,
      metrics: new RuntimeMetrics('hpt', '1', { processMetrics: false }),
      bodies: new RequestBodies(),
      resolveModelDir: () => Promise.resolve(join(dir, 'half_plus_two')),
    });
    try {
      await expect(service.start()).rejects.toMatchObject({
        code: 'MODEL_LOAD_FAILED',
        message: expect.stringMatching(
          /has no signature "classify" \(it has serving_default\)/,
        ) as unknown,
      });
    } finally {
      await service.close();
    }
  }, 60_000);

  it('tensorfleet-runtime serve --backend auto picks tensorflow and serves the SavedModel', async () => {
    const rt = await startProcess(
      ['--model-name', 'hpt', '--model-uri', join(dir, 'half_plus_two'), '--workers', '1'],
      { TF_CPP_MIN_LOG_LEVEL: '1' },
    );
    try {
      await waitReady(rt.port);
      const meta = (await (await fetch(`http://127.0.0.1:${rt.port}/v2/models/hpt`)).json()) as {
        platform: string;
        parameters: Record<string, string>;
      };
      expect(meta.parameters['backend']).toBe('tensorflow');
      const res = await fetch(`http://127.0.0.1:${rt.port}/v1/models/hpt:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [1, 2, 5] }),
      });
      expect(await res.json()).toEqual({ predictions: [2.5, 3, 4.5] });
      const metrics = await (await fetch(`http://127.0.0.1:${rt.port}/metrics`)).text();
      expect(metrics).toMatch(
        /tensorfleet_runtime_backend_info\{model="hpt",version="1",backend="tensorflow",tfjs_backend="tensorflow",device="cpu",format="tf-saved-model"\} 1/,
      );
      const ready = rt.logs.find((l) => /ready on backend/.test(String(l['msg'])));
      expect(ready?.['msg']).toBe('model hpt version 1 ready on backend tensorflow');
    } finally {
      rt.child.kill('SIGTERM');
      await rt.exited;
    }
  }, 90_000);
});
