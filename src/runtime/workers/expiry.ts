// Deadlines inside a worker: a batch may wait in the worker behind the one it
// is computing, and requests can expire there. The worker leaves them out of
// the batch and reports them, and the batcher answers them DEADLINE_EXCEEDED.

import type { Allocate, TensorMap } from '../tensors.js';
import { concatMaps } from '../tensors.js';
import { perRequest } from './shared-batch.js';
import type { BatchPart } from '../batching/batcher.js';

/**
 * The batch to compute at `now` (epoch ms), assembled here in the worker from
 * its requests' inputs (`inputs[i]` belongs to `parts[i]`): a batch that
 * waited in this worker behind another may hold requests already past their
 * deadline, and their inputs are left out. `inputs` is undefined when none is
 * left. `alloc` says where the batch is written (a fresh array by default).
 */
export function live(
  inputs: readonly TensorMap[],
  parts: readonly BatchPart[] | undefined,
  now: number,
  alloc?: Allocate,
): { inputs: TensorMap | undefined; expired: number[] } {
  if (parts === undefined) return { inputs: concatMaps(inputs, alloc), expired: [] };
  if (parts.length !== inputs.length) {
    throw new Error(`a batch of ${parts.length} requests came with ${inputs.length} inputs`);
  }
  const expired: number[] = [];
  const kept: TensorMap[] = [];
  parts.forEach((p, i) => {
    if (p.deadline <= now) expired.push(i);
    else kept.push(inputs[i] as TensorMap);
  });
  if (kept.length === 0) return { inputs: undefined, expired };
  return { inputs: concatMaps(kept, alloc), expired };
}

/**
 * live() for a batch already assembled (in shared memory): the whole batch
 * when no request has expired (no copy), else the live requests' rows.
 */
export function liveBatch(
  batch: TensorMap,
  rows: readonly number[],
  parts: readonly BatchPart[] | undefined,
  now: number,
  alloc?: Allocate,
): { inputs: TensorMap | undefined; expired: number[] } {
  if (parts === undefined || parts.every((p) => p.deadline > now)) {
    return { inputs: batch, expired: [] };
  }
  return live(perRequest(batch, rows), parts, now, alloc);
}
