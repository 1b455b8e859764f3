// Serving behaviour through HTTP: dynamic batching seen in the batch-size
// metric, 429 on a full queue, readiness through loading and draining,
// failure injection, the metrics page, and a model that fails to load.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/runtime/http/app.js';
import { serveConfigDefaults } from '../../src/runtime/config.js';
import { RuntimeMetrics } from '../../src/runtime/metrics.js';
import { RequestBodies } from '../../src/runtime/request-bodies.js';
import { ModelService } from '../../src/runtime/service.js';
import type { Fixtures } from './helpers.js';
import { makeFixtures, metricValue, startRuntime } from './helpers.js';
import { testBackend, testDevice, tfjsBackendName } from './native.js';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
}, 60_000);
afterAll(async () => {
  await fx?.cleanup();
});

const mlpInstance = (seed: number): number[] =>
  Array.from({ length: 784 }, (_, i) => ((i * 7 + seed * 13) % 101) / 101);

describe('dynamic batching over HTTP', () => {
  it('merges concurrent requests (batch size metric) and each gets exactly its own rows', async () => {
    const rt = await startRuntime(fx.halfPlusTwo, {
      modelName: 'hpt',
      batchTimeoutMicros: 5000,
      maxBatchSize: 64,
    });
    try {
      const n = 40;
      const responses = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          rt.app.inject({
            method: 'POST',
            url: '/v1/models/hpt:predict',
            payload: { instances: [i, i + 0.5, -i] },
          }),
        ),
      );
      responses.forEach((res, i) => {
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({
          predictions: [0.5 * i + 2, 0.5 * (i + 0.5) + 2, -0.5 * i + 2],
        });
      });
      const batches = await metricValue(rt.metrics, 'tensorfleet_runtime_batch_size_count');
      const rows = await metricValue(rt.metrics, 'tensorfleet_runtime_batch_size_sum');
      expect(rows).toBe(3 * n);
      // Fewer model calls than requests: at least some were merged.
      expect(batches).toBeLessThan(n);
      const single = await metricValue(rt.metrics, 'tensorfleet_runtime_batch_size_bucket', {
        le: '4',
      });
      expect(single).toBeLessThan(batches as number);
    } finally {
      await rt.close();
    }
  }, 60_000);

  it('answers 429 with Retry-After when the queue is full, then recovers', async () => {
    const rt = await startRuntime(fx.mlpGraph, {
      modelName: 'mlp',
      maxQueueSize: 2,
      maxBatchSize: 1,
      // Decode on the HTTP thread so all requests reach the batcher at once.
      decodeInWorkersMinBytes: 1e9,
    });
    try {
      const body = { instances: Array.from({ length: 64 }, (_, i) => mlpInstance(i)) };
      const responses = await Promise.all(
        Array.from({ length: 12 }, () =>
          rt.app.inject({ method: 'POST', url: '/v1/models/mlp:predict', payload: body }),
        ),
      );
      const codes = responses.map((r) => r.statusCode);
      expect(codes).toContain(200);
      expect(codes).toContain(429);
      const refused = responses.find((r) => r.statusCode === 429);
      expect(refused?.headers['retry-after']).toBe('1');
      expect(refused?.json<{ error: string }>().error).toMatch(
        /the batching queue is full \(2 requests waiting\)/,
      );
      expect(
        await metricValue(rt.metrics, 'tensorfleet_runtime_requests_total', { code: '429' }),
      ).toBe(codes.filter((c) => c === 429).length);
      const after = await rt.app.inject({
        method: 'POST',
        url: '/v1/models/mlp:predict',
        payload: { instances: [mlpInstance(1)] },
      });
      expect(after.statusCode).toBe(200);
      expect(await metricValue(rt.metrics, 'tensorfleet_runtime_queue_depth')).toBe(0);
    } finally {
      await rt.close();
    }
  }, 60_000);
});

describe('per-request deadline', () => {
  it('answers 504 when a request waits past its OIP "timeout" parameter', async () => {
    const rt = await startRuntime(fx.cnn, {
      modelName: 'cnn',
      maxBatchSize: 1,
      decodeInWorkersMinBytes: 1e9,
      // The big request holds the worker; none computed on the HTTP thread.
      inferOnHttpThreadMaxMs: 0,
    });
    try {
      const rows = 256;
      const busy = rt.app.inject({
        method: 'POST',
        url: '/v2/models/cnn/infer',
        payload: {
          inputs: [
            {
              name: 'image',
              shape: [rows, 28, 28, 1],
              datatype: 'FP32',
              data: new Array<number>(rows * 784).fill(0.5),
            },
          ],
        },
      });
      const small = {
        inputs: [
          {
            name: 'image',
            shape: [1, 28, 28, 1],
            datatype: 'FP32',
            data: new Array<number>(784).fill(0.5),
          },
        ],
      };
      const hurried = rt.app.inject({
        method: 'POST',
        url: '/v2/models/cnn/infer',
        payload: { ...small, parameters: { timeout: 2000 } },
      });
      const patient = rt.app.inject({
        method: 'POST',
        url: '/v2/models/cnn/infer',
        payload: small,
      });
      const [b, h, p] = await Promise.all([busy, hurried, patient]);
      expect(b.statusCode).toBe(200);
      expect(h.statusCode, h.body).toBe(504);
      expect(h.headers['tensorfleet-error-code']).toBe('DEADLINE_EXCEEDED');
      expect(h.json<{ error: string }>().error).toMatch(
        /the request waited \d+ ms in the queue, past its deadline/,
      );
      expect(p.statusCode).toBe(200);
    } finally {
      await rt.close();
    }
  }, 60_000);
});

/** An OIP v2 request for the CNN test model: `rows` images filled with `value`. */
function cnnImages(rows: number, value: number, timeoutMicros?: number): object {
  return {
    inputs: [
      {
        name: 'image',
        shape: [rows, 28, 28, 1],
        datatype: 'FP32',
        data: new Array<number>(rows * 784).fill(value),
      },
    ],
    ...(timeoutMicros === undefined ? {} : { parameters: { timeout: timeoutMicros } }),
  };
}

describe('batches held inside a busy worker', () => {
  it('answer 504 for a request that expires there, and compute the one beside it', async () => {
    const rt = await startRuntime(fx.cnn, {
      modelName: 'cnn',
      maxBatchSize: 2,
      // The pair waits for each other however late the second one is decoded.
      batchTimeoutMicros: 1_000_000,
      decodeInWorkersMinBytes: 1e9,
      // Batches held in a worker: none computed on the HTTP thread.
      inferOnHttpThreadMaxMs: 0,
    });
    const infer = (payload: object) =>
      rt.app.inject({ method: 'POST', url: '/v2/models/cnn/infer', payload });
    const metric = async (name: string): Promise<number> =>
      (await metricValue(rt.metrics, name)) ?? 0;
    const BUSY = 1024;
    try {
      // How long the big batch computes here, alone: the hurried request's
      // deadline is a third of that, so it passes while the pair is held in
      // the worker behind the big batch, on any backend and under any load,
      // and not before the pair is formed (its partner arrives right after it).
      expect((await infer(cnnImages(BUSY, 0.5))).statusCode).toBe(200);
      const computeMs = (await metric('tensorfleet_runtime_compute_duration_seconds_sum')) * 1000;
      const before = {
        count: await metric('tensorfleet_runtime_batch_size_count'),
        sum: await metric('tensorfleet_runtime_batch_size_sum'),
      };
      const busy = infer(cnnImages(BUSY, 0.5));
      // Both arrive while the big batch runs: a full batch of 2, which waits in the worker.
      const hurried = infer(cnnImages(1, 0.5, Math.max(1000, Math.round((computeMs * 1000) / 3))));
      const patient = infer(cnnImages(1, 0.25));
      const [b, h, p] = await Promise.all([busy, hurried, patient]);
      expect(b.statusCode).toBe(200);
      expect(h.statusCode, h.body).toBe(504);
      expect(h.json<{ error: string }>().error).toMatch(/past its deadline/);
      expect(p.statusCode, p.body).toBe(200);
      // The pair went to the worker as one batch (so the deadline was caught there, not here).
      expect((await metric('tensorfleet_runtime_batch_size_count')) - before.count).toBe(2);
      expect((await metric('tensorfleet_runtime_batch_size_sum')) - before.sum).toBe(BUSY + 2);
      // The patient request got its own rows: what it gets alone.
      const alone = await infer(cnnImages(1, 0.25));
      expect(p.json<{ outputs: unknown }>().outputs).toEqual(
        alone.json<{ outputs: unknown }>().outputs,
      );
    } finally {
      await rt.close();
    }
  }, 60_000);

  it('are all answered when the runtime drains', async () => {
    const rt = await startRuntime(fx.cnn, {
      modelName: 'cnn',
      maxBatchSize: 1,
      decodeInWorkersMinBytes: 1e9,
      // The big request holds the worker; none computed on the HTTP thread.
      inferOnHttpThreadMaxMs: 0,
    });
    try {
      const sent: Promise<{ statusCode: number }>[] = [
        rt.app.inject({
          method: 'POST',
          url: '/v2/models/cnn/infer',
          payload: cnnImages(512, 0.5),
        }),
      ];
      for (let i = 0; i < 4; i++) {
        sent.push(
          rt.app.inject({
            method: 'POST',
            url: '/v2/models/cnn/infer',
            payload: cnnImages(1, i / 4),
          }),
        );
      }
      // Wait until one batch runs and the next waits in the worker (both counted in flight).
      for (let i = 0; i < 200; i++) {
        if ((await metricValue(rt.metrics, 'tensorfleet_runtime_inflight_batches')) === 2) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(await metricValue(rt.metrics, 'tensorfleet_runtime_inflight_batches')).toBe(2);
      expect(await rt.service.drain(20_000)).toBe(true);
      const codes = (await Promise.all(sent)).map((r) => r.statusCode);
      expect(codes).toEqual([200, 200, 200, 200, 200]);
      expect(await metricValue(rt.metrics, 'tensorfleet_runtime_batch_size_count')).toBe(5);
    } finally {
      await rt.close();
    }
  }, 60_000);
});

describe('lifecycle', () => {
  it('is not ready while loading, ready after warmup, not ready while draining, refuses once stopped', async () => {
    const config = serveConfigDefaults({
      modelName: 'hpt',
      modelUri: fx.halfPlusTwo,
      backend: testBackend(),
      workers: 1,
      warmupIterations: 3,
    });
    const metrics = new RuntimeMetrics('hpt', '1', { processMetrics: false });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const bodies = new RequestBodies();
    const service = new ModelService({
      config,
      metrics,
      bodies,
      resolveModelDir: async (_uri, progress) => {
        progress('downloading: 1234 bytes so far, 0 of 2 files done');
        await gate;
        return fx.halfPlusTwo;
      },
    });
    const app = await buildApp({ service, metrics, bodies }, { logger: false });
    const started = service.start();
    try {
      expect((await app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(400);
      expect((await app.inject({ method: 'GET', url: '/v2/health/live' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/v2/models/hpt/ready' })).statusCode).toBe(
        400,
      );
      const status = await app.inject({ method: 'GET', url: '/v1/models/hpt' });
      // How far the download is, where TF Serving's clients look for a reason.
      expect(status.json()).toMatchObject({
        model_version_status: [
          {
            state: 'LOADING',
            status: { error_message: 'downloading: 1234 bytes so far, 0 of 2 files done' },
          },
        ],
      });
      const early = await app.inject({
        method: 'POST',
        url: '/v1/models/hpt:predict',
        payload: { instances: [1] },
      });
      expect(early.statusCode).toBe(503);
      expect(early.json<{ error: string }>().error).toBe(
        'the model is still loading (downloading: 1234 bytes so far, 0 of 2 files done)',
      );
      expect(await metricValue(metrics, 'tensorfleet_runtime_ready')).toBe(0);

      release();
      await started;
      expect((await app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(200);
      expect(await metricValue(metrics, 'tensorfleet_runtime_ready')).toBe(1);
      expect(await metricValue(metrics, 'tensorfleet_runtime_model_load_seconds')).toBeGreaterThan(
        0,
      );

      await service.drain(1000);
      expect((await app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(400);
      expect((await app.inject({ method: 'GET', url: '/v1/models/hpt' })).json()).toMatchObject({
        model_version_status: [{ state: 'UNLOADING' }],
      });
      // Draining still serves (which connections may send is the server's
      // call, see http/connections.ts); once stopped, nothing is served.
      const predict = () =>
        app.inject({ method: 'POST', url: '/v1/models/hpt:predict', payload: { instances: [1] } });
      expect((await predict()).json()).toEqual({ predictions: [2.5] });
      await service.close();
      const late = await predict();
      expect(late.statusCode).toBe(503);
      expect(late.headers['tensorfleet-error-code']).toBe('DRAINING');
    } finally {
      release();
      await app.close();
      await service.close();
    }
  }, 60_000);

  it('reports a model that fails to load, with the reason, and stays unready', async () => {
    const broken = join(fx.root, 'broken');
    await mkdir(broken, { recursive: true });
    await writeFile(
      join(broken, 'model.json'),
      JSON.stringify({
        format: 'graph-model',
        modelTopology: { node: [] },
        weightsManifest: [{ paths: ['missing.bin'], weights: [] }],
      }),
    );
    const config = serveConfigDefaults({
      modelName: 'b',
      modelUri: broken,
      backend: 'cpu',
      workers: 1,
    });
    const metrics = new RuntimeMetrics('b', '1', { processMetrics: false });
    const bodies = new RequestBodies();
    const service = new ModelService({
      config,
      metrics,
      bodies,
      resolveModelDir: () => Promise.resolve(broken),
    });
    const app = await buildApp({ service, metrics, bodies }, { logger: false });
    try {
      await expect(service.start()).rejects.toMatchObject({
        code: 'MODEL_LOAD_FAILED',
        message: expect.stringMatching(/weight shard missing\.bin .* cannot be read/) as unknown,
      });
      expect(service.state).toBe('failed');
      expect((await app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(400);
      const status = await app.inject({ method: 'GET', url: '/v1/models/b' });
      expect(status.json()).toMatchObject({
        model_version_status: [
          {
            state: 'END',
            status: {
              error_code: 'UNKNOWN',
              error_message: expect.stringMatching(/missing\.bin/) as unknown,
            },
          },
        ],
      });
      const res = await app.inject({
        method: 'POST',
        url: '/v1/models/b:predict',
        payload: { instances: [1] },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json<{ error: string }>().error).toMatch(
        /the model failed to load: weight shard missing\.bin/,
      );
    } finally {
      await app.close();
      await service.close();
    }
  }, 60_000);

  it('says which backend a TF SavedModel needs when loaded on wasm', async () => {
    const saved = join(fx.root, 'saved');
    await mkdir(saved, { recursive: true });
    await writeFile(join(saved, 'saved_model.pb'), Buffer.alloc(8));
    const config = serveConfigDefaults({
      modelName: 's',
      modelUri: saved,
      backend: 'wasm',
      workers: 1,
    });
    const service = new ModelService({
      config,
      metrics: new RuntimeMetrics('s', '1', { processMetrics: false }),
      bodies: new RequestBodies(),
      resolveModelDir: () => Promise.resolve(saved),
    });
    try {
      await expect(service.start()).rejects.toMatchObject({
        code: 'FORMAT_REQUIRES_BACKEND',
        message: expect.stringMatching(
          /a TF SavedModel needs the tensorflow or tensorflow-gpu backend .* this runtime is using wasm/,
        ) as unknown,
      });
    } finally {
      await service.close();
    }
  }, 60_000);
});

describe('failure injection (for tests of canary analysis)', () => {
  it('adds the configured latency to every inference', async () => {
    const rt = await startRuntime(fx.halfPlusTwo, { modelName: 'hpt', injectLatencyMs: 120 });
    try {
      const started = performance.now();
      const res = await rt.app.inject({
        method: 'POST',
        url: '/v1/models/hpt:predict',
        payload: { instances: [1.0] },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ predictions: [2.5] });
      expect(performance.now() - started).toBeGreaterThanOrEqual(115);
    } finally {
      await rt.close();
    }
  });

  it('fails the configured fraction of inferences with 500 INJECTED_FAILURE', async () => {
    const rt = await startRuntime(fx.halfPlusTwo, { modelName: 'hpt', injectErrorRate: 0.5 });
    try {
      const codes = [];
      for (let i = 0; i < 60; i++) {
        const res = await rt.app.inject({
          method: 'POST',
          url: '/v2/models/hpt/infer',
          payload: { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [i] }] },
        });
        codes.push(res.statusCode);
        if (res.statusCode === 500)
          expect(res.json<{ error: string }>().error).toMatch(
            /injected failure \(--inject-error-rate 0.5, for tests only\)/,
          );
      }
      const failures = codes.filter((c) => c === 500).length;
      expect(failures).toBeGreaterThan(10);
      expect(failures).toBeLessThan(50);
      expect(codes.filter((c) => c !== 500).every((c) => c === 200)).toBe(true);
      expect(
        await metricValue(rt.metrics, 'tensorfleet_runtime_requests_total', {
          protocol: 'oip',
          code: '500',
          model: 'hpt',
          version: '1',
        }),
      ).toBe(failures);
    } finally {
      await rt.close();
    }
  }, 60_000);
});

describe('metrics page', () => {
  it('exposes every documented metric with model and version labels', async () => {
    const rt = await startRuntime(fx.halfPlusTwo, { modelName: 'hpt', modelVersion: '7' });
    try {
      await rt.app.inject({
        method: 'POST',
        url: '/v1/models/hpt:predict',
        payload: { instances: [1] },
      });
      const res = await rt.app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = res.body;
      for (const line of [
        'tensorfleet_runtime_requests_total{model="hpt",version="7",protocol="tfserving",code="200"} 1',
        'tensorfleet_runtime_inflight_requests{model="hpt",version="7"} 0',
        'tensorfleet_runtime_queue_depth{model="hpt",version="7"} 0',
        'tensorfleet_runtime_ready{model="hpt",version="7"} 1',
        `tensorfleet_runtime_backend_info{model="hpt",version="7",backend="${testBackend()}",tfjs_backend="${tfjsBackendName(testBackend())}",device="${testDevice()}",format="tfjs-graph"} 1`,
        'tensorfleet_runtime_request_duration_seconds_count{model="hpt",version="7",protocol="tfserving"} 1',
        'tensorfleet_runtime_queue_duration_seconds_count{model="hpt",version="7"} 1',
        'tensorfleet_runtime_compute_duration_seconds_count{model="hpt",version="7"} 1',
        'tensorfleet_runtime_batch_size_count{model="hpt",version="7"} 1',
      ]) {
        expect(text).toContain(line);
      }
      expect(text).toMatch(/tensorfleet_runtime_model_load_seconds\{model="hpt",version="7"\} \d/);
      expect(text).toMatch(
        /tensorfleet_runtime_tfjs_memory_bytes\{model="hpt",version="7"\} [1-9]/,
      );
      expect(text).toMatch(/tensorfleet_runtime_tfjs_tensors\{model="hpt",version="7"\} [1-9]/);
    } finally {
      await rt.close();
    }
  }, 60_000);
});
