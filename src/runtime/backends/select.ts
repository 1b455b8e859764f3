// Backend selection. Runs inside each inference worker: tfjs state (backend,
// registered kernels, memory) is per thread.
//
// The native backends (@tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node) are
// optional: their npm install downloads libtensorflow, so they are never in
// package.json and are imported only when present. They re-export the whole
// tfjs API with their backend registered, so the namespace they return is the
// one to use (their bundled tfjs-core may be a different copy from ours).

import type * as TfNamespace from '@tensorflow/tfjs';
import type { BackendChoice } from '../config.js';
import { RuntimeError } from '../errors.js';

export type Tf = typeof TfNamespace;
export type BackendName = Exclude<BackendChoice, 'auto'>;

/** Preference order for `auto`: fastest first. */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface LoadedBackend {
  tf: Tf;
  name: BackendName;
  /** tfjs's own name for the active backend ("tensorflow", "wasm", "cpu"). */
  tfjsBackend: string;
  /** Why each preferred backend was skipped (for the startup log). */
  skipped: { backend: BackendName; reason: string }[];
}

// A specifier held in a variable keeps TypeScript from resolving the optional
// native packages at compile time.
async function importOptional(specifier: string): Promise<unknown> {
  return (await import(specifier)) as unknown;
}

async function tryLoad(name: BackendName): Promise<{ tf: Tf; tfjsBackend: string }> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      let mod: unknown;
      try {
        mod = await importOptional(pkg);
      } catch (err) {
        throw new Error(`${pkg} is not installed or failed to load: ${(err as Error).message}`);
      }
      // The package's namespace is the tfjs API (it `export *`s @tensorflow/tfjs).
      const tf = ((mod as { default?: unknown }).default ?? mod) as Tf;
      await tf.setBackend('tensorflow');
      await tf.ready();
      if (name === 'tensorflow-gpu') {
        const devices = gpuDevices(tf);
        if (devices === 0) throw new Error(`${pkg} loaded but TensorFlow sees no GPU`);
      }
      return { tf, tfjsBackend: tf.getBackend() };
    }
    case 'wasm': {
      const tf = await import('@tensorflow/tfjs');
      await import('@tensorflow/tfjs-backend-wasm');
      const ok = await tf.setBackend('wasm');
      if (!ok) throw new Error('the wasm backend failed to initialize');
      await tf.ready();
      return { tf, tfjsBackend: tf.getBackend() };
    }
    case 'cpu': {
      const tf = await import('@tensorflow/tfjs');
      const ok = await tf.setBackend('cpu');
      if (!ok) throw new Error('the cpu backend failed to initialize');
      await tf.ready();
      return { tf, tfjsBackend: tf.getBackend() };
    }
  }
}

/** Best-effort GPU count for tfjs-node-gpu; -1 when it cannot be told. */
function gpuDevices(tf: Tf): number {
  const backend = tf.backend() as unknown as { binding?: { isUsingGpuDevice?: () => boolean } };
  const fn = backend.binding?.isUsingGpuDevice;
  if (typeof fn !== 'function') return -1;
  return fn.call(backend.binding) ? 1 : 0;
}

export async function loadBackend(choice: BackendChoice): Promise<LoadedBackend> {
  const order = choice === 'auto' ? AUTO_ORDER : [choice];
  const skipped: LoadedBackend['skipped'] = [];
  for (const name of order) {
    try {
      const { tf, tfjsBackend } = await tryLoad(name);
      tf.enableProdMode();
      return { tf, name, tfjsBackend, skipped };
    } catch (err) {
      skipped.push({ backend: name, reason: (err as Error).message });
    }
  }
  const detail = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  throw new RuntimeError('BACKEND_UNAVAILABLE', `no usable backend for "${choice}" (${detail})`);
}
