// Limits as on REST, seen by a gRPC client (grpc-js, from the same vendored
// .proto files): the call's deadline becomes the request's deadline in the
// batcher, a full queue is RESOURCE_EXHAUSTED with the runtime's code and
// Retry-After in the trailers (and serving recovers), health watches see
// draining, and a stopped runtime answers UNAVAILABLE.

import type { Client, ServiceError } from '@grpc/grpc-js';
import { Metadata, credentials, loadPackageDefinition, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serveConfigDefaults } from '../../src/runtime/config.js';
import { GrpcServer } from '../../src/runtime/grpc/server.js';
import { packageDefinition } from '../../src/runtime/grpc/protos.js';
import { RuntimeMetrics } from '../../src/runtime/metrics.js';
import { ModelService } from '../../src/runtime/service.js';
import { RequestBodies } from '../../src/runtime/request-bodies.js';
import type { Fixtures } from './helpers.js';
import { makeFixtures, metricValue } from './helpers.js';
import type { GrpcRuntime } from './grpc/harness.js';
import { startGrpcRuntime } from './grpc/harness.js';

type Callback = (err: ServiceError | null, value?: unknown) => void;
type UnaryMethod = (
  request: unknown,
  metadata: Metadata,
  options: { deadline?: Date },
  callback: Callback,
) => void;
type ClientConstructor = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => Client & Record<string, UnaryMethod>;

interface WatchStream {
  on(event: 'data', listener: (message: { status: string }) => void): void;
  on(event: 'error', listener: (err: ServiceError) => void): void;
  cancel(): void;
}

/** The services' client constructors (untyped, as proto-loader leaves them). */
const root = loadPackageDefinition(packageDefinition()) as unknown as {
  inference: { GRPCInferenceService: ClientConstructor };
  grpc: {
    health: {
      v1: {
        Health: new (
          address: string,
          creds: ReturnType<typeof credentials.createInsecure>,
        ) => Client & { Watch(request: { service: string }): WatchStream };
      };
    };
  };
};

function inferenceClient(addr: string): Client & Record<string, UnaryMethod> {
  return new root.inference.GRPCInferenceService(addr, credentials.createInsecure());
}

interface Outcome {
  code: status;
  details: string;
  trailers: Record<string, unknown>;
}

function call(
  client: Record<string, UnaryMethod>,
  name: string,
  request: unknown,
  deadline?: Date,
): Promise<Outcome> {
  return new Promise((resolve) => {
    client[name]?.(request, new Metadata(), deadline === undefined ? {} : { deadline }, (err) => {
      resolve(
        err === null
          ? { code: status.OK, details: '', trailers: {} }
          : { code: err.code, details: err.details, trailers: err.metadata.getMap() },
      );
    });
  });
}

/** One MNIST-sized image for the fixture CNN (28x28x1), as raw FP32. */
const image = {
  model_name: 'cnn',
  inputs: [{ name: 'image', datatype: 'FP32', shape: ['1', '28', '28', '1'] }],
  raw_input_contents: [Buffer.alloc(28 * 28 * 4)],
};

let fx: Fixtures;
let server: GrpcRuntime;
let client: Client & Record<string, UnaryMethod>;

beforeAll(async () => {
  fx = await makeFixtures();
  // One row at a time, one request queued, nothing computed on the calling thread: a burst overflows.
  server = await startGrpcRuntime(fx.cnn, {
    modelName: 'cnn',
    maxBatchSize: 1,
    maxQueueSize: 1,
    batchTimeoutMicros: 0,
    inferOnHttpThreadMaxMs: 0,
  });
  client = inferenceClient(server.addr);
}, 120_000);

afterAll(async () => {
  client?.close();
  await server?.close();
  await fx?.cleanup();
});

describe('gRPC limits', () => {
  it("passes the call's deadline to the batcher", async () => {
    const infer = vi.spyOn(server.rt.service, 'infer');
    try {
      const got = await call(client, 'ModelInfer', image, new Date(Date.now() + 4000));
      expect(got.code).toBe(status.OK);
      const timeoutMs = infer.mock.calls[0]?.[2];
      expect(timeoutMs).toBeGreaterThan(3000);
      expect(timeoutMs).toBeLessThanOrEqual(4000);
      await call(client, 'ModelInfer', image);
      expect(infer.mock.calls[1]?.[2]).toBeUndefined();
    } finally {
      infer.mockRestore();
    }
  });

  it('answers a burst beyond the queue RESOURCE_EXHAUSTED with the code and Retry-After, then recovers', async () => {
    const burst = await Promise.all(
      Array.from({ length: 24 }, () => call(client, 'ModelInfer', image)),
    );
    const refused = burst.filter((o) => o.code !== status.OK);
    expect(refused.length).toBeGreaterThan(0);
    expect(burst.length - refused.length).toBeGreaterThan(0);
    for (const o of refused) {
      expect(o).toEqual({
        code: status.RESOURCE_EXHAUSTED,
        details: 'the batching queue is full (1 requests waiting); retry later',
        trailers: expect.objectContaining({
          'tensorfleet-error-code': 'QUEUE_FULL',
          'retry-after': '1',
        }) as Record<string, unknown>,
      });
    }
    expect((await call(client, 'ModelInfer', image)).code).toBe(status.OK);
  });

  it('answers DEADLINE_EXCEEDED, counted as 504, for a call still queued past its timeout', async () => {
    // 1024 images hold the one worker while the hurried call waits in the queue. How
    // long they hold it depends on the machine: measured first, alone, and the hurried
    // call given a third of that, sent a tenth of the way in.
    const rows = 1024;
    const batch = {
      ...image,
      inputs: [{ name: 'image', datatype: 'FP32', shape: [String(rows), '28', '28', '1'] }],
      raw_input_contents: [Buffer.alloc(rows * 28 * 28 * 4)],
    };
    const t0 = performance.now();
    expect((await call(client, 'ModelInfer', batch)).code).toBe(status.OK);
    const computeMs = performance.now() - t0;
    const busy = call(client, 'ModelInfer', batch);
    await new Promise((resolve) => setTimeout(resolve, computeMs / 10));
    const expired = (): Promise<number | undefined> =>
      metricValue(server.rt.metrics, 'tensorfleet_runtime_requests_total', {
        protocol: 'grpc',
        code: '504',
      });
    const before = (await expired()) ?? 0;
    const hurried = await call(client, 'ModelInfer', {
      ...image,
      parameters: { timeout: { int64_param: String(Math.max(1, Math.round(computeMs / 3))) } },
    });
    expect(hurried.code).toBe(status.DEADLINE_EXCEEDED);
    expect(hurried.details).toMatch(/^the request waited \d+ ms in the queue, past its deadline$/);
    expect(hurried.trailers['tensorfleet-error-code']).toBe('DEADLINE_EXCEEDED');
    expect(await expired()).toBe(before + 1);
    expect((await busy).code).toBe(status.OK);
  });

  it('Health/Watch says SERVING, then NOT_SERVING once the runtime drains', async () => {
    const health = new root.grpc.health.v1.Health(server.addr, credentials.createInsecure());
    const stream = health.Watch({ service: '' });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('data', ({ status }) => {
        seen.push(status);
        if (seen.length === 1) server.rt.service.startDraining();
        else resolve();
      });
    });
    stream.cancel();
    health.close();
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    // Draining still serves the calls that come.
    expect((await call(client, 'ModelInfer', image)).code).toBe(status.OK);
  });

  it('answers UNAVAILABLE once the runtime has stopped', async () => {
    await server.rt.service.close();
    const got = await call(client, 'ModelInfer', image);
    expect(got.code).toBe(status.UNAVAILABLE);
    expect(got.details).toBe('the runtime is shutting down and accepts no new requests');
    expect(got.trailers['tensorfleet-error-code']).toBe('DRAINING');
    expect((await call(client, 'ServerReady', {})).code).toBe(status.OK);
  });
});

describe('a runtime still loading its model', () => {
  it('answers UNAVAILABLE with Retry-After, and NOT_SERVING to health checks', async () => {
    const config = serveConfigDefaults({
      modelName: 'slow',
      modelUri: '/nowhere',
      logLevel: 'silent',
    });
    const metrics = new RuntimeMetrics('slow', '1', { processMetrics: false });
    // Never started: the service stays in its loading state.
    const service = new ModelService({
      config,
      metrics,
      bodies: new RequestBodies(),
      resolveModelDir: () => new Promise(() => {}),
    });
    const grpc = await GrpcServer.start({ service, metrics, config, host: '127.0.0.1', port: 0 });
    const addr = `127.0.0.1:${grpc.port}`;
    const loading = inferenceClient(addr);
    const health = new root.grpc.health.v1.Health(addr, credentials.createInsecure());
    try {
      const got = await call(loading, 'ModelInfer', { ...image, model_name: 'slow' });
      expect(got).toMatchObject({
        code: status.UNAVAILABLE,
        details: 'the model is still loading',
        trailers: { 'tensorfleet-error-code': 'MODEL_NOT_READY', 'retry-after': '1' },
      });
      const ready = await new Promise<unknown>((resolve) =>
        (loading['ServerReady'] as UnaryMethod)({}, new Metadata(), {}, (_err, value) =>
          resolve(value),
        ),
      );
      expect(ready).toEqual({ ready: false });
      const watch = health.Watch({ service: '' });
      // Cancelling below ends the stream with CANCELLED, as expected.
      watch.on('error', () => {});
      const first = await new Promise<string>((resolve) =>
        watch.on('data', ({ status: s }) => resolve(s)),
      );
      watch.cancel();
      expect(first).toBe('NOT_SERVING');
    } finally {
      loading.close();
      health.close();
      expect(await grpc.close(5000)).toBe(true);
    }
  });
});
