// A request alone in the runtime is computed on the HTTP thread (the model's
// copy there, inline-model.ts) and gets exactly the answer a worker gives;
// concurrent requests, and a lone one too large to compute quickly, go to
// the workers; the copy is not kept when turned off or far too slow.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InlineModel } from '../../src/runtime/inline-model.js';
import { detectFormat } from '../../src/runtime/models/format.js';
import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, metricValue, startRuntime } from './helpers.js';
import { testBackend } from './native.js';

let fx: Fixtures;

beforeAll(async () => {
  fx = await makeFixtures();
}, 120_000);

afterAll(async () => {
  await fx?.cleanup();
});

const WIDTH = 784;

/** `rows` rows of the MLP's input, varied by `seed`. */
function rowsOf(rows: number, seed: number): number[][] {
  return Array.from({ length: rows }, (_, r) =>
    Array.from({ length: WIDTH }, (_, i) => Math.sin(seed * 7.1 + r * 3.3 + i * 0.01)),
  );
}

async function predict(rt: TestRuntime, instances: number[][]): Promise<unknown> {
  const res = await rt.app.inject({
    method: 'POST',
    url: `/v1/models/${rt.config.modelName}:predict`,
    payload: { instances },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ predictions: unknown }>().predictions;
}

/** Binary tensor request (a large body stays compact). */
async function inferBinary(rt: TestRuntime, rows: number): Promise<number> {
  const data = new Float32Array(rows * WIDTH).map((_, i) => Math.cos(i * 0.001));
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'x',
          shape: [rows, WIDTH],
          datatype: 'FP32',
          parameters: { binary_data_size: data.byteLength },
        },
      ],
      outputs: [{ name: 'probabilities' }],
    }),
  );
  const res = await rt.app.inject({
    method: 'POST',
    url: `/v2/models/${rt.config.modelName}/infer`,
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.byteLength),
    },
    payload: Buffer.concat([header, Buffer.from(data.buffer)]),
  });
  return res.statusCode;
}

const batches = (rt: TestRuntime, thread: 'http' | 'worker') =>
  metricValue(rt.metrics, 'tensorfleet_runtime_batches_total', { thread }).then((v) => v ?? 0);

describe('requests alone in the runtime', () => {
  let inline: TestRuntime;
  let workers: TestRuntime;

  beforeAll(async () => {
    // A generous limit: a slow CI machine must not send these to the workers.
    inline = await startRuntime(fx.mlpGraph, { modelName: 'mlp', inferOnHttpThreadMaxMs: 100 });
    workers = await startRuntime(fx.mlpGraph, { modelName: 'mlp', inferOnHttpThreadMaxMs: 0 });
  }, 120_000);

  afterAll(async () => {
    await inline?.close();
    await workers?.close();
  });

  it('are computed on the HTTP thread, with the answer a worker gives', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.nat(1000), async (rows, seed) => {
        const instances = rowsOf(rows, seed);
        const before = await batches(inline, 'http');
        const here = await predict(inline, instances);
        expect(await batches(inline, 'http')).toBe(before + 1);
        expect(here).toEqual(await predict(workers, instances));
      }),
      { numRuns: 25 },
    );
    expect(await batches(inline, 'worker')).toBe(0);
    expect(await batches(workers, 'http')).toBe(0);
  });

  it('go to the workers, batched, when they come together', async () => {
    const http = await batches(inline, 'http');
    const worker = await batches(inline, 'worker');
    const rowsBefore =
      (await metricValue(inline.metrics, 'tensorfleet_runtime_batch_size_sum')) ?? 0;
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => predict(inline, rowsOf(1, i))),
    );
    expect(answers).toHaveLength(12);
    expect(await batches(inline, 'http')).toBe(http);
    const calls = (await batches(inline, 'worker')) - worker;
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThan(12);
    expect(await metricValue(inline.metrics, 'tensorfleet_runtime_batch_size_sum')).toBe(
      rowsBefore + 12,
    );
  });
});

describe('a lone request too large to compute quickly', () => {
  it('goes to a worker, and a small one after it stays on the HTTP thread', async () => {
    // 10 ms: a 1-row MLP computes in well under it, 1,000 rows estimated at
    // 1,000 times the warmup's time per row (at least 0.05 ms) do not.
    const rt = await startRuntime(fx.mlpGraph, { modelName: 'mlp', inferOnHttpThreadMaxMs: 10 });
    try {
      expect(await inferBinary(rt, 1000)).toBe(200);
      expect(await batches(rt, 'worker')).toBe(1);
      expect(await batches(rt, 'http')).toBe(0);
      expect(await inferBinary(rt, 1)).toBe(200);
      expect(await batches(rt, 'http')).toBe(1);
    } finally {
      await rt.close();
    }
  }, 60_000);
});

describe('the HTTP thread keeps no copy of the model', () => {
  it('when turned off, or when warmup shows it far too slow', async () => {
    for (const limit of [0, 1e-6]) {
      const rt = await startRuntime(fx.mlpGraph, {
        modelName: 'mlp',
        inferOnHttpThreadMaxMs: limit,
      });
      try {
        for (let i = 0; i < 3; i++) await predict(rt, rowsOf(1, i));
        expect(await batches(rt, 'http')).toBe(0);
        expect(await batches(rt, 'worker')).toBe(3);
      } finally {
        await rt.close();
      }
    }
  }, 60_000);

  it('refuses a model far slower than the limit, and says so', async () => {
    const loaded = await InlineModel.load({
      backend: testBackend(),
      device: 'cpu',
      modelDir: fx.cnn,
      format: await detectFormat(fx.cnn),
      signatureName: 'serving_default',
      maxComputeMs: 1e-6,
    });
    expect(loaded.model).toBeUndefined();
    expect(loaded.model === undefined && loaded.reason).toMatch(
      /^one request computes in [\d.]+ ms at warmup, far above --infer-on-http-thread-max-ms 0\.000001$/,
    );
  }, 60_000);
});

describe('the running estimate', () => {
  it('follows what lone requests take, per row', async () => {
    const loaded = await InlineModel.load({
      backend: testBackend(),
      device: 'cpu',
      modelDir: fx.mlpGraph,
      format: await detectFormat(fx.mlpGraph),
      signatureName: 'serving_default',
      maxComputeMs: 1,
    });
    const model = loaded.model!;
    try {
      // Fast lone requests: 0.1 ms a row.
      for (let i = 0; i < 40; i++) model.observe(0.0001, 1);
      expect(model.computeMsPerRow).toBeCloseTo(0.1, 2);
      expect(model.fits(1)).toBe(true);
      expect(model.fits(9)).toBe(true);
      expect(model.fits(11)).toBe(false);
      // The machine slows down: 5 ms a row moves the estimate past the limit within a few requests.
      let n = 0;
      while (model.fits(1)) {
        model.observe(0.005, 1);
        n++;
      }
      expect(n).toBeLessThanOrEqual(2);
      // A big batch computed elsewhere at 0.02 ms a row brings it back down.
      for (let i = 0; i < 40; i++) model.observe(0.02, 1000);
      expect(model.fits(1)).toBe(true);
    } finally {
      model.dispose();
    }
  }, 60_000);
});
