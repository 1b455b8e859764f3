// A batch that waited inside a worker: the rows of requests past their
// deadline are left out before the model runs.

import { describe, expect, it } from 'vitest';
import { live } from '../../src/runtime/workers/expiry.js';
import type { TensorMap } from '../../src/runtime/tensors.js';

const batch = (): TensorMap => ({
  x: { dtype: 'float32', shape: [4, 2], data: Float32Array.from([1, 1, 2, 2, 3, 3, 4, 4]) },
  s: { dtype: 'string', shape: [4], data: [1, 2, 3, 4].map((v) => Uint8Array.of(v)) },
});

describe('live', () => {
  it('keeps everything when no deadline has passed, or when the batch carries none', () => {
    const inputs = batch();
    expect(live(inputs, undefined, 100)).toEqual({ inputs, expired: [] });
    const parts = [
      { rows: 1, deadline: 200 },
      { rows: 3, deadline: 300 },
    ];
    expect(live(inputs, parts, 100).inputs).toBe(inputs);
  });

  it('leaves out the rows of expired requests, in order, for every input', () => {
    const parts = [
      { rows: 1, deadline: 200 },
      { rows: 2, deadline: 50 },
      { rows: 1, deadline: 300 },
    ];
    const { inputs, expired } = live(batch(), parts, 100);
    expect(expired).toEqual([1]);
    expect(inputs?.['x']?.shape).toEqual([2, 2]);
    expect(Array.from(inputs?.['x']?.data as Float32Array)).toEqual([1, 1, 4, 4]);
    expect((inputs?.['s']?.data as Uint8Array[]).map((b) => b[0])).toEqual([1, 4]);
  });

  it('computes nothing when every request has expired', () => {
    const parts = [
      { rows: 2, deadline: 10 },
      { rows: 2, deadline: 100 },
    ];
    expect(live(batch(), parts, 100)).toEqual({ inputs: undefined, expired: [0, 1] });
  });
});
