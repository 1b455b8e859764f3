// Batches through shared memory: the HTTP thread packs requests' inputs into
// a SharedArrayBuffer, the worker views them as one batch or per request.

import { describe, expect, it } from 'vitest';
import type { TensorMap } from '../../src/runtime/tensors.js';
import { liveBatch } from '../../src/runtime/workers/expiry.js';
import { packShared, perRequest, sharedInputs } from '../../src/runtime/workers/shared-batch.js';

/** One request: `rows` rows of x = [v, v] (float32) and k = [v] (int32), and a bool b. */
const request = (...values: number[]): TensorMap => ({
  x: {
    dtype: 'float32',
    shape: [values.length, 2],
    data: Float32Array.from(values.flatMap((v) => [v + 0.5, v + 0.5])),
  },
  b: { dtype: 'bool', shape: [values.length], data: Uint8Array.from(values.map((v) => v % 2)) },
  k: { dtype: 'int32', shape: [values.length, 1], data: Int32Array.from(values) },
});

describe('shared batches', () => {
  it('packs requests row after row and the worker reads them back as one batch', () => {
    const packed = packShared([request(1), request(2, 3)], 1, undefined);
    expect(packed?.grown).toBe(true);
    expect(packed?.layout.index).toBe(1);
    expect(packed?.layout.rows).toEqual([1, 2]);
    const batch = sharedInputs(packed!.buffer, packed!.layout);
    expect(batch['x']?.shape).toEqual([3, 2]);
    expect(Array.from(batch['x']?.data as Float32Array)).toEqual([1.5, 1.5, 2.5, 2.5, 3.5, 3.5]);
    expect(Array.from(batch['b']?.data as Uint8Array)).toEqual([1, 0, 1]);
    expect(batch['k']?.shape).toEqual([3, 1]);
    expect(Array.from(batch['k']?.data as Int32Array)).toEqual([1, 2, 3]);
    // Every view is aligned for its type, after a bool input of odd length too.
    for (const t of Object.values(batch)) {
      const d = t.data as Float32Array | Int32Array | Uint8Array;
      expect(d.byteOffset % 8).toBe(0);
      expect(d.buffer).toBe(packed!.buffer);
    }
  });

  it('reuses a buffer that is large enough and grows one that is not', () => {
    const first = packShared([request(1, 2, 3, 4)], 0, undefined)!;
    const again = packShared([request(5)], 0, first.buffer)!;
    expect(again.grown).toBe(false);
    expect(again.buffer).toBe(first.buffer);
    const many = Array.from({ length: 10_000 }, (_, i) => request(i));
    const larger = packShared(many, 0, first.buffer)!;
    expect(larger.grown).toBe(true);
    expect(larger.buffer.byteLength).toBeGreaterThan(first.buffer.byteLength);
    const batch = sharedInputs(larger.buffer, larger.layout);
    expect((batch['k']?.data as Int32Array)[9999]).toBe(9999);
  });

  it('declines batches shared memory cannot carry', () => {
    const strings: TensorMap = {
      s: { dtype: 'string', shape: [1], data: [Uint8Array.of(1)] },
    };
    expect(packShared([strings], 0, undefined)).toBeUndefined();
    const wide: TensorMap = {
      ...request(1),
      x: { dtype: 'float32', shape: [1, 3], data: new Float32Array(3) },
    };
    expect(packShared([request(1), wide], 0, undefined)).toBeUndefined();
    const { k: _k, ...fewer } = request(2);
    expect(packShared([request(1), fewer], 0, undefined)).toBeUndefined();
    expect(packShared([], 0, undefined)).toBeUndefined();
  });

  it('cuts the batch back per request, and leaves out expired ones only when there are some', () => {
    const packed = packShared([request(1), request(2, 3), request(4)], 0, undefined)!;
    const batch = sharedInputs(packed.buffer, packed.layout);
    const each = perRequest(batch, packed.layout.rows);
    expect(each.map((m) => Array.from(m['k']?.data as Int32Array))).toEqual([[1], [2, 3], [4]]);
    expect(each[1]?.['x']?.shape).toEqual([2, 2]);
    const parts = [
      { rows: 1, deadline: 200 },
      { rows: 2, deadline: 50 },
      { rows: 1, deadline: 300 },
    ];
    // Nothing expired: the shared batch itself, no copy.
    expect(liveBatch(batch, packed.layout.rows, parts, 10).inputs).toBe(batch);
    const { inputs, expired } = liveBatch(batch, packed.layout.rows, parts, 100);
    expect(expired).toEqual([1]);
    expect(Array.from(inputs?.['k']?.data as Int32Array)).toEqual([1, 4]);
    expect(liveBatch(batch, packed.layout.rows, parts, 1000).inputs).toBeUndefined();
  });
});
