// What was predicted for one request, kept until its feedback arrives: per
// row, the predicted class (classification) or the row's values
// (regression). Always a copy: a request's outputs may view a batch's
// buffer, which the next batch reuses. Plain arrays, not typed ones: a
// typed array is three heap objects (~200 bytes) however short, and a
// record lives long enough for the garbage collector to copy it.

import type { HostTensor } from '../tensors.js';
import type { QualityTarget } from './target.js';

export interface Prediction {
  /** The model version that predicted (the `version` label of the metrics). */
  version: string;
  kind: QualityTarget['kind'];
  rows: number;
  /**
   * Classification: the number of classes the output had. Regression: the
   * numbers in one row.
   */
  width: number;
  /** Classification: one class index per row (-1: no class, every score NaN). Regression: rows x width values. */
  values: number[];
}

/** The index of the largest of `width` values from `start`; NaN is never the largest. */
export function argmax(data: ArrayLike<number>, start: number, width: number): number {
  let best = -1;
  let max = -Infinity;
  for (let i = 0; i < width; i++) {
    const v = data[start + i] as number;
    if (v > max || (best === -1 && v === -Infinity)) {
      max = v;
      best = i;
    }
  }
  return best;
}

/** The rows of a tensor: its first dimension (a scalar is one row). */
export function rowsOf(shape: readonly number[]): number {
  return shape.length === 0 ? 1 : (shape[0] as number);
}

/** The prediction `tensor` (the target output of one request) makes. */
export function predictionOf(target: QualityTarget, version: string, t: HostTensor): Prediction {
  const data = t.data as Float32Array | Int32Array | Uint8Array;
  const rows = rowsOf(t.shape);
  const width = rows === 0 ? 0 : data.length / rows;
  if (target.kind === 'regression') {
    return { version, kind: 'regression', rows, width, values: Array.from(data) };
  }
  const values: number[] = [];
  for (let r = 0; r < rows; r++) values.push(argmax(data, r * width, width));
  return { version, kind: 'classification', rows, width, values };
}

/** How many numbers a prediction keeps (what the log's value budget counts). */
export function sizeOf(p: Prediction): number {
  return p.values.length;
}
