// Deadlines inside a worker: a batch may wait in the worker behind the one it
// is computing, and requests can expire there. The worker leaves them out of
// the batch and reports them, and the batcher answers them DEADLINE_EXCEEDED.

import type { TensorMap } from '../tensors.js';
import { keepRows0 } from '../tensors.js';
import type { InferPart } from './messages.js';

/**
 * The rows of a batch still worth computing at `now` (epoch ms): a batch that
 * waited in this worker behind another may hold requests already past their
 * deadline. `inputs` is undefined when none is left.
 */
export function live(
  inputs: TensorMap,
  parts: readonly InferPart[] | undefined,
  now: number,
): { inputs: TensorMap | undefined; expired: number[] } {
  if (parts === undefined) return { inputs, expired: [] };
  const expired: number[] = [];
  parts.forEach((p, i) => {
    if (p.deadline <= now) expired.push(i);
  });
  if (expired.length === 0) return { inputs, expired };
  if (expired.length === parts.length) return { inputs: undefined, expired };
  const keep = parts.map((p) => p.deadline > now);
  const rows = parts.map((p) => p.rows);
  const kept: TensorMap = {};
  for (const [name, t] of Object.entries(inputs)) kept[name] = keepRows0(t, rows, keep);
  return { inputs: kept, expired };
}
