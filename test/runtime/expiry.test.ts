// A batch that waited inside a worker: the worker assembles it from its
// requests' inputs, leaving out those of requests past their deadline.

import { describe, expect, it } from 'vitest';
import { live } from '../../src/runtime/workers/expiry.js';
import type { TensorMap } from '../../src/runtime/tensors.js';

/** One request's inputs: `rows` rows of x = [v, v] and s = [v]. */
const request = (...values: number[]): TensorMap => ({
  x: {
    dtype: 'float32',
    shape: [values.length, 2],
    data: Float32Array.from(values.flatMap((v) => [v, v])),
  },
  s: { dtype: 'string', shape: [values.length], data: values.map((v) => Uint8Array.of(v)) },
});

describe('live', () => {
  it('keeps everything when no deadline has passed, or when the batch carries none', () => {
    const single = [request(1, 2, 3, 4)];
    expect(live(single, undefined, 100)).toEqual({ inputs: single[0], expired: [] });
    const parts = [
      { rows: 1, deadline: 200 },
      { rows: 3, deadline: 300 },
    ];
    const { inputs, expired } = live([request(1), request(2, 3, 4)], parts, 100);
    expect(expired).toEqual([]);
    expect(inputs?.['x']?.shape).toEqual([4, 2]);
    expect(Array.from(inputs?.['x']?.data as Float32Array)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
  });

  it('passes a lone request through without copying it', () => {
    const one = request(5, 6);
    expect(live([one], [{ rows: 2, deadline: 200 }], 100).inputs).toBe(one);
  });

  it('leaves out the rows of expired requests, in order, for every input', () => {
    const parts = [
      { rows: 1, deadline: 200 },
      { rows: 2, deadline: 50 },
      { rows: 1, deadline: 300 },
    ];
    const { inputs, expired } = live([request(1), request(2, 3), request(4)], parts, 100);
    expect(expired).toEqual([1]);
    expect(inputs?.['x']?.shape).toEqual([2, 2]);
    expect(Array.from(inputs?.['x']?.data as Float32Array)).toEqual([1, 1, 4, 4]);
    expect((inputs?.['s']?.data as Uint8Array[]).map((b) => b[0])).toEqual([1, 4]);
  });

  it('concatenates views that share nothing but their request (binary bodies)', () => {
    // Each request's tensor views part of its own body buffer, at an offset.
    const view = (v: number): TensorMap => {
      const body = new ArrayBuffer(24);
      const data = new Float32Array(body, 8, 2);
      data.set([v, v]);
      return { x: { dtype: 'float32', shape: [1, 2], data } };
    };
    const parts = [
      { rows: 1, deadline: 200 },
      { rows: 1, deadline: 200 },
    ];
    const { inputs } = live([view(7), view(8)], parts, 100);
    expect(Array.from(inputs?.['x']?.data as Float32Array)).toEqual([7, 7, 8, 8]);
  });

  it('computes nothing when every request has expired', () => {
    const parts = [
      { rows: 2, deadline: 10 },
      { rows: 2, deadline: 100 },
    ];
    expect(live([request(1, 2), request(3, 4)], parts, 100)).toEqual({
      inputs: undefined,
      expired: [0, 1],
    });
  });

  it('refuses a batch whose inputs do not match its parts', () => {
    expect(() =>
      live(
        [request(1)],
        [
          { rows: 1, deadline: 200 },
          { rows: 1, deadline: 200 },
        ],
        100,
      ),
    ).toThrow(/2 requests came with 1 inputs/);
  });
});
