// The batcher on its own, with an executor that records each batch: merging,
// splitting rows back, the bounded queue, deadlines and unbatchable models.

import { describe, expect, it } from 'vitest';
import type { BatchExecutor } from '../../src/runtime/batching/batcher.js';
import { Batcher } from '../../src/runtime/batching/batcher.js';
import { RuntimeError } from '../../src/runtime/errors.js';
import type { TensorMap } from '../../src/runtime/tensors.js';
import { concatMaps } from '../../src/runtime/tensors.js';

/** Doubles input "x" into output "y" after `delayMs`; records the rows of each batch. */
function recordingExecutor(
  concurrency: number,
  delayMs: number,
): BatchExecutor & { batches: number[] } {
  const batches: number[] = [];
  let running = 0;
  return {
    batches,
    capacity: () => concurrency - running,
    async run(list: readonly TensorMap[]) {
      const x = concatMaps(list)['x'];
      if (x === undefined) throw new Error('no x');
      batches.push(x.shape[0] ?? 0);
      running++;
      await new Promise((r) => setTimeout(r, delayMs));
      running--;
      const y = Float32Array.from(x.data as Float32Array, (v) => v * 2);
      return {
        outputs: { y: { dtype: 'float32', shape: x.shape.slice(), data: y } },
        computeSeconds: delayMs / 1000,
      };
    },
  };
}

const rows = (...values: number[][]): TensorMap => ({
  x: { dtype: 'float32', shape: [values.length, 2], data: Float32Array.from(values.flat()) },
});

describe('Batcher', () => {
  it('refuses a request whose inputs do not all have the rows it claims, before it can share a batch', async () => {
    const exec = recordingExecutor(1, 0);
    const b = new Batcher(
      { maxBatchSize: 8, batchTimeoutMicros: 0, maxQueueSize: 100, batchable: true },
      exec,
    );
    const inputs: TensorMap = {
      ...rows([1, 2], [3, 4]),
      z: { dtype: 'float32', shape: [3, 1], data: Float32Array.from([1, 2, 3]) },
    };
    const refused = await b.submit(inputs, 2, 10_000).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RuntimeError);
    expect((refused as RuntimeError).code).toBe('INVALID_INPUT');
    expect((refused as RuntimeError).message).toMatch(
      /input "z" has 3 rows where the request has 2/,
    );
    expect(exec.batches).toEqual([]);
  });

  it('merges requests that arrive while the worker is busy and gives each its own rows', async () => {
    const exec = recordingExecutor(1, 20);
    const b = new Batcher(
      { maxBatchSize: 8, batchTimeoutMicros: 0, maxQueueSize: 100, batchable: true },
      exec,
    );
    const results = await Promise.all(
      Array.from({ length: 7 }, (_, i) => b.submit(rows([i, i + 0.5], [-i, 1]), 2, 10_000)),
    );
    // The first request runs alone; the next six (12 rows) wait and go as 8 + 4 rows.
    expect(exec.batches).toEqual([2, 8, 4]);
    results.forEach((r, i) => {
      expect(r.outputs['y']?.shape).toEqual([2, 2]);
      expect(Array.from(r.outputs['y']?.data as Float32Array)).toEqual([
        2 * i,
        2 * i + 1,
        -2 * i,
        2,
      ]);
    });
    expect(results[3]?.batchSize).toBe(8);
    expect(results[3]?.queueSeconds).toBeGreaterThan(0.01);
  });

  it('waits up to batchTimeoutMicros for company while another batch runs', async () => {
    const exec = recordingExecutor(2, 50);
    const b = new Batcher(
      { maxBatchSize: 32, batchTimeoutMicros: 20_000, maxQueueSize: 100, batchable: true },
      exec,
    );
    const first = b.submit(rows([1, 1]), 1, 10_000);
    await new Promise((r) => setTimeout(r, 2));
    const later = [b.submit(rows([2, 2]), 1, 10_000)];
    await new Promise((r) => setTimeout(r, 5));
    later.push(b.submit(rows([3, 3]), 1, 10_000));
    await Promise.all([first, ...later]);
    // A second worker was free, but the two later requests were held for the timeout and merged.
    expect(exec.batches).toEqual([1, 2]);
  });

  it('answers QUEUE_FULL (429, Retry-After) beyond maxQueueSize and recovers', async () => {
    const exec = recordingExecutor(1, 30);
    const b = new Batcher(
      { maxBatchSize: 1, batchTimeoutMicros: 0, maxQueueSize: 2, batchable: true },
      exec,
    );
    const settled = await Promise.allSettled(
      Array.from({ length: 6 }, () => b.submit(rows([1, 2]), 1, 10_000)),
    );
    const rejected = settled
      .filter((s) => s.status === 'rejected')
      .map((s) => s.reason as RuntimeError);
    // One runs, two wait, three are refused.
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(3);
    expect(rejected).toHaveLength(3);
    for (const err of rejected) {
      expect(err.code).toBe('QUEUE_FULL');
      expect(err.status).toBe(429);
      expect(err.retryAfterSeconds).toBe(1);
    }
    expect(b.depth).toBe(0);
    await expect(b.submit(rows([1, 2]), 1, 10_000)).resolves.toMatchObject({ batchSize: 1 });
  });

  it('rejects requests whose deadline passes in the queue with DEADLINE_EXCEEDED', async () => {
    const exec = recordingExecutor(1, 60);
    const b = new Batcher(
      { maxBatchSize: 4, batchTimeoutMicros: 0, maxQueueSize: 10, batchable: true },
      exec,
    );
    const slow = b.submit(rows([1, 1]), 1, 10_000);
    const doomed = b.submit(rows([2, 2]), 1, 10);
    await expect(doomed).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', status: 504 });
    await slow;
    expect(exec.batches).toEqual([1]);
  });

  it('runs requests one by one when the model cannot be batched', async () => {
    const exec = recordingExecutor(1, 5);
    const b = new Batcher(
      { maxBatchSize: 8, batchTimeoutMicros: 0, maxQueueSize: 10, batchable: false },
      exec,
    );
    await Promise.all([1, 2, 3].map((v) => b.submit(rows([v, v]), 1, 10_000)));
    expect(exec.batches).toEqual([1, 1, 1]);
  });

  it('fails every request of a batch when the model fails, then keeps going', async () => {
    let fail = true;
    const b = new Batcher(
      { maxBatchSize: 8, batchTimeoutMicros: 0, maxQueueSize: 10, batchable: true },
      {
        capacity: () => 1,
        run: async (list) => {
          await new Promise((r) => setTimeout(r, 5));
          if (fail) throw new RuntimeError('INFERENCE_FAILED', 'boom');
          return { outputs: { y: concatMaps(list)['x'] as TensorMap[string] }, computeSeconds: 0 };
        },
      },
    );
    const results = await Promise.allSettled(
      [1, 2, 3].map((v) => b.submit(rows([v, v]), 1, 10_000)),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    fail = false;
    await expect(b.submit(rows([9, 9]), 1, 10_000)).resolves.toMatchObject({ batchSize: 1 });
    // Nothing left waiting or running (what the queue-depth and in-flight gauges read).
    await new Promise((r) => setImmediate(r));
    expect([b.depth, b.inflight]).toEqual([0, 0]);
  });

  it('queues a full batch behind a running one, whatever the compute time', async () => {
    /** One worker that can hold its next batch; each batch takes `ms` of (reported) compute. */
    const pipelined = (ms: number): BatchExecutor & { batches: number[]; overlapped: number } => {
      let held = 0;
      const exec = {
        batches: [] as number[],
        overlapped: 0,
        capacity: () => (held === 0 ? 1 : 0),
        spare: () => (held === 1 ? 1 : 0),
        async run(list: readonly TensorMap[]) {
          const x = concatMaps(list)['x'] as TensorMap[string];
          exec.batches.push(x.shape[0] ?? 0);
          if (held > 0) exec.overlapped++;
          held++;
          await new Promise((r) => setTimeout(r, 10));
          held--;
          return { outputs: { y: x }, computeSeconds: ms / 1000 };
        },
      };
      return exec;
    };
    const burst = async (b: Batcher): Promise<void> => {
      await Promise.all(Array.from({ length: 9 }, (_, i) => b.submit(rows([i, i]), 1, 10_000)));
    };
    const opts = { maxBatchSize: 4, batchTimeoutMicros: 2000, maxQueueSize: 100, batchable: true };
    for (const ms of [1, 50]) {
      const exec = pipelined(ms);
      const b = new Batcher(opts, exec);
      await b.submit(rows([0, 0]), 1, 10_000);
      await burst(b);
      // 4 rows start at once; the next full 4 wait inside the busy worker; the last row waits here.
      expect(exec.batches).toEqual([1, 4, 4, 1]);
      expect(exec.overlapped).toBe(1);
    }
  });

  it('answers DEADLINE_EXCEEDED for the requests the executor left out, and the others their own rows', async () => {
    const seen: { rows: number; late: boolean }[][] = [];
    let open = false;
    const exec: BatchExecutor = {
      capacity: () => (open ? 1 : 0),
      // Leaves out the parts with the shortest deadline, as a worker does with expired ones.
      run: async (list, parts) => {
        const inputs = concatMaps(list);
        await Promise.resolve();
        const cut = Math.min(...parts.map((p) => p.deadline)) + 1;
        const keep = parts.map((p) => p.deadline > cut);
        seen.push(parts.map((p, i) => ({ rows: p.rows, late: !keep[i] })));
        const x = inputs['x'] as TensorMap[string];
        const data = (x.data as Float32Array).filter((_, i) => keep[Math.floor(i / 2)] === true);
        return {
          outputs: { y: { dtype: 'float32', shape: [data.length / 2, 2], data } },
          computeSeconds: 0.001,
          expired: keep.flatMap((k, i) => (k ? [] : [i])),
        };
      },
    };
    const b = new Batcher(
      { maxBatchSize: 3, batchTimeoutMicros: 0, maxQueueSize: 10, batchable: true },
      exec,
    );
    // No worker is free until all three are queued: they then go as one batch.
    const a = b.submit(rows([1, 1]), 1, 10_000);
    const late = b.submit(rows([2, 2]), 1, 500);
    const c = b.submit(rows([3, 3]), 1, 10_000);
    open = true;
    b.pump();
    await expect(late).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', status: 504 });
    expect(Array.from((await a).outputs['y']?.data as Float32Array)).toEqual([1, 1]);
    expect(Array.from((await c).outputs['y']?.data as Float32Array)).toEqual([3, 3]);
    expect(seen).toEqual([
      [
        { rows: 1, late: false },
        { rows: 1, late: true },
        { rows: 1, late: false },
      ],
    ]);
  });
});
