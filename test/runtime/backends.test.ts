// Backend selection: `auto` takes the best backend that loads and says why it
// skipped the others; an explicit backend that cannot load fails clearly.
// Where @tensorflow/tfjs-node is installed (`npm run setup:native`, which CI
// runs; the CPU image), `auto` must pick it, and the expectations follow;
// native.test.ts fails in CI when it is missing.

import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { AUTO_ORDER, loadBackend } from '../../src/runtime/backends/select.js';

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

const nativeCpu = installed('@tensorflow/tfjs-node');

describe('backend selection', () => {
  it('prefers tensorflow-gpu, tensorflow, wasm, cpu in that order', () => {
    expect(AUTO_ORDER).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it('auto takes the best backend that loads and reports why it skipped the others', async () => {
    const be = await loadBackend('auto');
    expect(be.name).toBe(nativeCpu ? 'tensorflow' : 'wasm');
    expect(be.skipped.map((s) => s.backend)).toEqual(
      nativeCpu ? ['tensorflow-gpu'] : ['tensorflow-gpu', 'tensorflow'],
    );
    expect(be.skipped[0]?.reason).toMatch(
      /@tensorflow\/tfjs-node-gpu (is not installed or failed to load|loaded but TensorFlow sees no GPU)/,
    );
    // The backend computes.
    expect(Array.from(be.tf.add(be.tf.tensor1d([1, 2]), 1).dataSync())).toEqual([2, 3]);
  }, 30_000);

  it('an explicit backend that cannot load fails with BACKEND_UNAVAILABLE', async () => {
    const missing = nativeCpu ? 'tensorflow-gpu' : 'tensorflow';
    const pkg = nativeCpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
    const err = await loadBackend(missing).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect((err as Error).message).toContain(
      `no usable backend for "${missing}" (${missing}: ${pkg}`,
    );
  });
});
