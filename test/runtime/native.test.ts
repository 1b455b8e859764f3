// The native `tensorflow` backend (@tensorflow/tfjs-node on the libtensorflow
// that `npm run setup:native` assembles from the tensorflow-cpu wheel): it is
// installed where it must be, `auto` picks it, it runs on the pinned
// TensorFlow, and the ops whose behaviour moved between TensorFlow releases
// behave as the runtime needs. Skipped, with the reason, only where the step
// has not run and nothing requires it (see native.ts).

import { describe, expect, it } from 'vitest';
import type { Tf } from '../../src/runtime/backends/select.js';
import { loadBackend } from '../../src/runtime/backends/select.js';
import { NATIVE_REQUIRED, NATIVE_VERSIONS, nativeSkipReason, nativeStatus } from './native.js';

const status = nativeStatus();
const skip = nativeSkipReason(status);

/** The TensorFlow version the loaded libtensorflow reports. */
function tfVersion(tf: Tf): string | undefined {
  const backend = tf.backend() as unknown as { binding?: { TF_Version?: string } };
  return backend.binding?.TF_Version;
}

describe('native tensorflow backend', () => {
  it(`is set up here (npm run setup:native${NATIVE_REQUIRED ? '; required here' : ''})`, (ctx) => {
    ctx.skip(skip !== undefined, skip);
    if (!status.available) {
      throw new Error(
        `${status.reason}: run npm run setup:native (required: CI or TENSORFLEET_REQUIRE_NATIVE is set)`,
      );
    }
    expect(status.manifest.tensorflow).toBe(NATIVE_VERSIONS.tensorflow);
    expect(status.manifest.tfjsNode).toBe(NATIVE_VERSIONS.tfjsNode);
  });

  it('is what auto picks, and tfjs computes on it (no silent fallback to wasm)', async (ctx) => {
    ctx.skip(skip !== undefined, skip);
    const be = await loadBackend('auto');
    expect(be.name).toBe('tensorflow');
    expect(be.tfjsBackend).toBe('tensorflow');
    expect(be.tf.getBackend()).toBe('tensorflow');
    expect(tfVersion(be.tf)).toBe(NATIVE_VERSIONS.tensorflow);
    expect(be.skipped.map((s) => s.backend)).toEqual(['tensorflow-gpu']);
    const y = be.tf.matMul(be.tf.tensor2d([[1, 2]]), be.tf.tensor2d([[3], [4]]));
    expect(Array.from(y.dataSync())).toEqual([11]);
  }, 30_000);

  it('runs the ops whose results changed across TensorFlow releases as the runtime needs', async (ctx) => {
    ctx.skip(skip !== undefined, skip);
    const { tf } = await loadBackend('tensorflow');
    // Round on int32 returns zeros from TensorFlow 2.17 on (tensorflow#74789);
    // the pinned 2.16 must not.
    expect(Array.from(tf.round(tf.tensor1d([1, -2, 3], 'int32')).dataSync())).toEqual([1, -2, 3]);
    expect(Array.from(tf.round(tf.tensor1d([0.5, 1.5, -1.5, 2.4])).dataSync())).toEqual([
      0, 2, -2, 2,
    ]);
    // Batches are rows along dimension 0, for every dtype a model sees.
    const rows = tf.concat(
      [
        tf.tensor2d([[1, 2]]),
        tf.tensor2d([
          [3, 4],
          [5, 6],
        ]),
      ],
      0,
    );
    expect(rows.shape).toEqual([3, 2]);
    expect(Array.from(rows.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    const ints = tf.concat([tf.tensor1d([1], 'int32'), tf.tensor1d([2, 3], 'int32')], 0);
    expect(Array.from(ints.dataSync())).toEqual([1, 2, 3]);
    const bools = tf.concat([tf.tensor1d([true], 'bool'), tf.tensor1d([false], 'bool')], 0);
    expect(Array.from(bools.dataSync())).toEqual([1, 0]);
    const strings = tf.concat([tf.tensor1d(['a'], 'string'), tf.tensor1d(['bc'], 'string')], 0);
    expect(strings.arraySync()).toEqual(['a', 'bc']);
    const [first, rest] = tf.split(rows, [1, 2], 0);
    expect(first?.arraySync()).toEqual([[1, 2]]);
    expect(rest?.arraySync()).toEqual([
      [3, 4],
      [5, 6],
    ]);
    // Scalars stack; TensorFlow's ConcatV2 refuses rank-0 inputs (2.16 and
    // 2.21 alike), which the runtime never passes it.
    expect(Array.from(tf.stack([tf.scalar(1), tf.scalar(2)]).dataSync())).toEqual([1, 2]);
    expect(() => tf.concat([tf.scalar(1), tf.scalar(2)])).toThrow();
  }, 30_000);
});
