// Backend selection: `auto` takes the best backend that loads and says why it
// skipped the others; an explicit backend that cannot load fails clearly.
// (The native tensorflow backends cannot be installed on this project's CI
// machines; where they are installed, `auto` picks them first.)

import { describe, expect, it } from 'vitest';
import { AUTO_ORDER, loadBackend } from '../../src/runtime/backends/select.js';

describe('backend selection', () => {
  it('prefers tensorflow-gpu, tensorflow, wasm, cpu in that order', () => {
    expect(AUTO_ORDER).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it('auto falls back past the missing native packages and reports why', async () => {
    const be = await loadBackend('auto');
    expect(be.name).toBe('wasm');
    expect(be.tfjsBackend).toBe('wasm');
    expect(be.skipped.map((s) => s.backend)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(be.skipped[0]?.reason).toMatch(
      /@tensorflow\/tfjs-node-gpu is not installed or failed to load/,
    );
    // The backend computes.
    expect(Array.from(be.tf.add(be.tf.tensor1d([1, 2]), 1).dataSync())).toEqual([2, 3]);
  }, 30_000);

  it('an explicit backend that cannot load fails with BACKEND_UNAVAILABLE', async () => {
    await expect(loadBackend('tensorflow')).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringMatching(
        /^no usable backend for "tensorflow" \(tensorflow: @tensorflow\/tfjs-node is not installed/,
      ) as unknown,
    });
  });
});
