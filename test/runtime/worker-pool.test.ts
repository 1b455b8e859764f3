// The worker pool on its own: inference in worker threads, grouped decodes,
// and recovery when a worker dies mid-request.

import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestBodies } from '../../src/runtime/request-bodies.js';
import type { WorkerInit } from '../../src/runtime/workers/messages.js';
import { WorkerPool } from '../../src/runtime/workers/worker-pool.js';
import { startWorkerThread } from '../../src/runtime/workers/worker-threads.js';
import type { Fixtures } from './helpers.js';
import { makeFixtures } from './helpers.js';
import { testBackend } from './native.js';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
}, 60_000);
afterAll(async () => {
  await fx?.cleanup();
});

const x = (
  ...values: number[]
): { x: { dtype: 'float32'; shape: number[]; data: Float32Array } } => ({
  x: { dtype: 'float32', shape: [values.length], data: Float32Array.from(values) },
});

const halfPlusTwo = (): WorkerInit => ({
  modelDir: fx.halfPlusTwo,
  format: 'tfjs-graph',
  backend: testBackend(),
  signatureName: 'serving_default',
  warmupIterations: 0,
});

async function until(cond: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WorkerPool', () => {
  it('runs inference in workers through shared memory, and pools the request buffers', async () => {
    const bodies = new RequestBodies();
    const pool = new WorkerPool({
      workers: 2,
      init: { ...halfPlusTwo(), warmupIterations: 1 },
      bodies,
    });
    try {
      const ready = await pool.start();
      expect(ready.backend).toBe(testBackend());
      expect(ready.signature.inputs.map((i) => i.name)).toEqual(['x']);
      expect([pool.idleCount(), pool.busy()]).toEqual([2, false]);
      // A request body, as the body reader allocates one.
      const body = bodies.allocate(0, 12);
      const data = new Float32Array(body.buffer, body.byteOffset, 3);
      data.set([1, 2, 5]);
      const { outputs, computeSeconds } = await pool.infer({
        x: { dtype: 'float32', shape: [3], data },
      });
      expect(Array.from(outputs['y']?.data as Float32Array)).toEqual([2.5, 3, 4.5]);
      expect(computeSeconds).toBeGreaterThan(0);
      // Copied into the worker's shared buffer, not moved: the body's buffer went back
      // to the pool, and the next body of its size is read into it.
      expect(bodies.allocate(0, 12).buffer).toBe(body.buffer);
      // A batch of several requests comes back row for row.
      const rows = await pool.infer(
        [x(1), x(2, 3)],
        [
          { rows: 1, deadline: Date.now() + 60_000 },
          { rows: 2, deadline: Date.now() + 60_000 },
        ],
      );
      expect(Array.from(rows.outputs['y']?.data as Float32Array)).toEqual([2.5, 3, 3.5]);
      const decoded = await Promise.all(
        [1, 2, 3].map((v) =>
          pool.decode({
            protocol: 'tfserving',
            body: Buffer.from(JSON.stringify({ instances: [v] })),
          }),
        ),
      );
      expect(decoded.map((d) => Array.from(d.inputs['x']?.data as Float32Array))).toEqual([
        [1],
        [2],
        [3],
      ]);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('fails the request a dying worker held, replaces the worker, and serves again', async () => {
    const errors: string[] = [];
    // The threads the pool starts, reached through its seam for starting them.
    const threads: Worker[] = [];
    const pool = new WorkerPool({
      workers: 1,
      init: { ...halfPlusTwo(), modelDir: fx.cnn, format: 'tfjs-layers' },
      bodies: new RequestBodies(),
      logger: { info: () => {}, warn: () => {}, error: (_o, msg) => errors.push(msg) },
      startThread: (workerData) => {
        const worker = startWorkerThread(workerData);
        threads.push(worker);
        return worker;
      },
    });
    let idle = 0;
    pool.onIdle = () => idle++;
    try {
      await pool.start();
      idle = 0;
      const image = (): Record<
        string,
        { dtype: 'float32'; shape: number[]; data: Float32Array }
      > => ({
        image: { dtype: 'float32', shape: [64, 28, 28, 1], data: new Float32Array(64 * 28 * 28) },
      });
      const inflight = pool.infer(image());
      // The worker also holds its next task; the crash fails both.
      const next = pool.infer(image());
      // Stopped as a crash would stop it.
      await threads[0]?.terminate();
      await expect(next).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
      await expect(inflight).rejects.toMatchObject({
        code: 'INFERENCE_FAILED',
        message: expect.stringMatching(
          /the inference worker exited \(code 1\) during this request/,
        ) as unknown,
      });
      expect(errors).toContain('inference worker exited; starting a replacement');
      // A new thread takes the dead one's place, and the pool says it is free.
      await until(() => pool.idleCount() === 1);
      expect(threads).toHaveLength(2);
      expect(idle).toBeGreaterThan(0);
      const { outputs } = await pool.infer(image());
      expect(outputs['logits']?.shape).toEqual([64, 10]);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('lets a busy worker hold its next task, and answers tasks in order', async () => {
    const pool = new WorkerPool({ workers: 1, init: halfPlusTwo(), bodies: new RequestBodies() });
    try {
      await pool.start();
      expect([pool.idleCount(), pool.spareCount(), pool.busy()]).toEqual([1, 0, false]);
      const first = pool.infer(x(1));
      expect([pool.idleCount(), pool.spareCount(), pool.busy()]).toEqual([0, 1, false]);
      const second = pool.infer(x(2));
      expect([pool.idleCount(), pool.spareCount(), pool.busy()]).toEqual([0, 0, true]);
      const third = pool.decode({ protocol: 'tfserving', body: Buffer.from('{"instances": [3]}') });
      expect(pool.queued()).toBe(1);
      const [a, b, c] = await Promise.all([first, second, third]);
      expect(Array.from(a.outputs['y']?.data as Float32Array)).toEqual([2.5]);
      expect(Array.from(b.outputs['y']?.data as Float32Array)).toEqual([3]);
      expect(Array.from(c.inputs['x']?.data as Float32Array)).toEqual([3]);
      expect([pool.idleCount(), pool.queued()]).toEqual([1, 0]);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('decodes bodies in a decode worker while the inference worker is busy', async () => {
    const pool = new WorkerPool({
      workers: 1,
      decodeWorkers: 1,
      init: halfPlusTwo(),
      bodies: new RequestBodies(),
    });
    try {
      await pool.start();
      const first = pool.infer(x(1));
      const second = pool.infer(x(2));
      expect(pool.busy()).toBe(true);
      // Not queued behind the inferences (as with no decode worker, above): sent at once.
      const decoded = pool.decode({
        protocol: 'tfserving',
        body: Buffer.from('{"instances": [3, 4]}'),
      });
      const bad = expect(
        pool.decode({ protocol: 'tfserving', body: Buffer.from('{"instances": 5}') }),
      ).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        message: '"instances" must be a list of instances',
      });
      expect(pool.queued()).toBe(0);
      const [a, b, c] = await Promise.all([first, second, decoded]);
      expect(Array.from(a.outputs['y']?.data as Float32Array)).toEqual([2.5]);
      expect(Array.from(b.outputs['y']?.data as Float32Array)).toEqual([3]);
      expect(Array.from(c.inputs['x']?.data as Float32Array)).toEqual([3, 4]);
      await bad;
    } finally {
      await pool.close();
    }
  }, 60_000);
});
