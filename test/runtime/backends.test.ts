// Backend selection: `auto` takes the best backend that loads and says why it
// passed over the others; an explicit backend that cannot load fails clearly.
// Where @tensorflow/tfjs-node is installed (`npm run setup:native`, which CI
// runs; the CPU image), `auto` must pick it, and the expectations follow;
// native.test.ts fails in CI when it is missing. The GPU build loads in a
// process of its own (gpu-backend.test.ts): the two libtensorflow builds share
// sonames.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BackendHost } from '../../src/runtime/backends/select.js';
import {
  AUTO_ORDER,
  autoCandidates,
  loadBackend,
  NVIDIA_CONTROL_DEVICE,
  PROCESS_HOST,
} from '../../src/runtime/backends/select.js';

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

  it('auto passes over the GPU build only without a GPU and with the CPU build at hand', () => {
    for (const gpuVisible of [true, false]) {
      for (const cpuBuildInstalled of [true, false]) {
        const { order, passed } = autoCandidates({ gpuVisible, cpuBuildInstalled });
        const passesOver = !gpuVisible && cpuBuildInstalled;
        expect(order).toEqual(
          passesOver
            ? ['tensorflow', 'wasm', 'cpu']
            : ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'],
        );
        expect(passed.map((p) => p.backend)).toEqual(passesOver ? ['tensorflow-gpu'] : []);
        if (passesOver) {
          expect(passed[0]?.reason).toBe(
            'no NVIDIA GPU is visible (/dev/nvidiactl is absent) and @tensorflow/tfjs-node is installed',
          );
        }
      }
    }
  });

  it('auto takes the best backend that loads and reports why it skipped the others', async (ctx) => {
    ctx.skip(
      existsSync(NVIDIA_CONTROL_DEVICE),
      'a GPU is visible here: auto would load the GPU build (gpu-backend.test.ts covers it)',
    );
    const be = await loadBackend('auto');
    expect(be.name).toBe(nativeCpu ? 'tensorflow' : 'wasm');
    expect(be.device).toBe('cpu');
    expect(be.skipped.map((s) => s.backend)).toEqual(
      nativeCpu ? ['tensorflow-gpu'] : ['tensorflow-gpu', 'tensorflow'],
    );
    expect(be.skipped[0]?.reason).toMatch(
      /^(no NVIDIA GPU is visible|@tensorflow\/tfjs-node-gpu is not installed or failed to load)/,
    );
    // The backend computes.
    expect(Array.from(be.tf.add(be.tf.tensor1d([1, 2]), 1).dataSync())).toEqual([2, 3]);
  }, 30_000);

  it('an explicit backend that cannot load fails with BACKEND_UNAVAILABLE, naming the package and why', async () => {
    const absent: BackendHost = {
      ...PROCESS_HOST,
      importPackage: (specifier) =>
        Promise.reject(new Error(`Cannot find package '${specifier}' imported from select.js`)),
    };
    for (const [backend, pkg] of [
      ['tensorflow', '@tensorflow/tfjs-node'],
      ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
    ] as const) {
      const err = await loadBackend(backend, absent).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      expect((err as Error).message).toBe(
        `no usable backend for "${backend}" (${backend}: ${pkg} is not installed or failed to load: Cannot find package '${pkg}' imported from select.js)`,
      );
    }
  });

  it('auto without any native package falls through to wasm and says why', async () => {
    const none: BackendHost = {
      importPackage: (specifier) => Promise.reject(new Error(`no ${specifier} here`)),
      environment: () => ({ gpuVisible: false, cpuBuildInstalled: false }),
    };
    const be = await loadBackend('auto', none);
    expect(be.name).toBe('wasm');
    expect(be.skipped).toEqual([
      {
        backend: 'tensorflow-gpu',
        reason:
          '@tensorflow/tfjs-node-gpu is not installed or failed to load: no @tensorflow/tfjs-node-gpu here',
      },
      {
        backend: 'tensorflow',
        reason:
          '@tensorflow/tfjs-node is not installed or failed to load: no @tensorflow/tfjs-node here',
      },
    ]);
  }, 30_000);
});
