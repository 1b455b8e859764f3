// Backend selection. Runs inside each inference worker: tfjs state (backend,
// registered kernels, memory) is per thread.
//
// The native backends (@tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node) are
// optional: their npm install downloads libtensorflow, so they are never in
// package.json and are imported only when present. They re-export the whole
// tfjs API with their backend registered, so the namespace they return is the
// one to use (their bundled tfjs-core may be a different copy from ours).
//
// tfjs-node-gpu's libtensorflow is TensorFlow's CUDA build: it loads CUDA
// with dlopen when it starts and, finding no driver or no device, runs every
// op on the CPU. So `tensorflow-gpu` always loads where the package does, and
// reports the device it computes on.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as TfNamespace from '@tensorflow/tfjs';
import type { BackendChoice } from '../../contract/runtime.js';
import { RuntimeError } from '../errors.js';

export type Tf = typeof TfNamespace;
export type BackendName = Exclude<BackendChoice, 'auto'>;

/** Preference order for `auto`: fastest first. */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Where a backend computes: only tensorflow-gpu with a GPU TensorFlow can use says gpu. */
export type Device = 'gpu' | 'cpu';

/** The device node of NVIDIA's driver, present where a GPU is given to the process (the container toolkit mounts it). */
export const NVIDIA_CONTROL_DEVICE = '/dev/nvidiactl';

/** What tensorflow-gpu says when TensorFlow found no GPU it can use. */
export const NO_GPU_NOTE =
  'TensorFlow found no GPU it can use (no NVIDIA driver or device visible to the process): computing on the CPU';

export interface LoadedBackend {
  tf: Tf;
  name: BackendName;
  /** tfjs's own name for the active backend ("tensorflow", "wasm", "cpu"). */
  tfjsBackend: string;
  device: Device;
  /** Why each preferred backend was skipped (for the startup log). */
  skipped: { backend: BackendName; reason: string }[];
}

export interface AutoEnvironment {
  /** An NVIDIA GPU is visible (NVIDIA_CONTROL_DEVICE exists). */
  gpuVisible: boolean;
  /** @tensorflow/tfjs-node is installed (resolvable, not loaded). */
  cpuBuildInstalled: boolean;
}

/**
 * The backends `auto` tries, in order, and those it passes over without
 * trying. Without a GPU, the GPU build is passed over where the CPU build is
 * installed (lighter: no CUDA; and a process can hold only one of the two
 * libtensorflow builds, they share sonames); where it is not (the GPU
 * image), the GPU build is still TensorFlow's CPU kernels, faster than wasm.
 */
export function autoCandidates(env: AutoEnvironment): {
  order: BackendName[];
  passed: LoadedBackend['skipped'];
} {
  if (env.gpuVisible || !env.cpuBuildInstalled) return { order: [...AUTO_ORDER], passed: [] };
  return {
    order: AUTO_ORDER.filter((b) => b !== 'tensorflow-gpu'),
    passed: [
      {
        backend: 'tensorflow-gpu',
        reason: `no NVIDIA GPU is visible (${NVIDIA_CONTROL_DEVICE} is absent) and @tensorflow/tfjs-node is installed`,
      },
    ],
  };
}

/** What backend loading reads from the process's surroundings; tests substitute it. */
export interface BackendHost {
  /** Imports an optional native package. */
  importPackage(specifier: string): Promise<unknown>;
  environment(): AutoEnvironment;
}

// A specifier held in a variable keeps TypeScript from resolving the optional
// native packages at compile time.
export const PROCESS_HOST: BackendHost = {
  importPackage: async (specifier) => (await import(specifier)) as unknown,
  environment: () => {
    let cpuBuildInstalled = true;
    try {
      createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    } catch {
      cpuBuildInstalled = false;
    }
    return { gpuVisible: existsSync(NVIDIA_CONTROL_DEVICE), cpuBuildInstalled };
  },
};

async function tryLoad(
  name: BackendName,
  host: BackendHost,
): Promise<{ tf: Tf; tfjsBackend: string; device: Device }> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      let mod: unknown;
      try {
        mod = await host.importPackage(pkg);
      } catch (err) {
        throw new Error(`${pkg} is not installed or failed to load: ${(err as Error).message}`);
      }
      // The package's namespace is the tfjs API (it `export *`s @tensorflow/tfjs).
      const tf = ((mod as { default?: unknown }).default ?? mod) as Tf;
      await tf.setBackend('tensorflow');
      await tf.ready();
      const device = name === 'tensorflow-gpu' && usesGpu(tf) ? 'gpu' : 'cpu';
      return { tf, tfjsBackend: tf.getBackend(), device };
    }
    case 'wasm': {
      const tf = await import('@tensorflow/tfjs');
      await import('@tensorflow/tfjs-backend-wasm');
      const ok = await tf.setBackend('wasm');
      if (!ok) throw new Error('the wasm backend failed to initialize');
      await tf.ready();
      return { tf, tfjsBackend: tf.getBackend(), device: 'cpu' };
    }
    case 'cpu': {
      const tf = await import('@tensorflow/tfjs');
      const ok = await tf.setBackend('cpu');
      if (!ok) throw new Error('the cpu backend failed to initialize');
      await tf.ready();
      return { tf, tfjsBackend: tf.getBackend(), device: 'cpu' };
    }
  }
}

/** Whether TensorFlow placed its default device on a GPU (the addon lists TensorFlow's devices at start). */
function usesGpu(tf: Tf): boolean {
  const backend = tf.backend() as unknown as { binding?: { isUsingGpuDevice?: () => boolean } };
  return backend.binding?.isUsingGpuDevice?.() === true;
}

export async function loadBackend(
  choice: BackendChoice,
  host: BackendHost = PROCESS_HOST,
): Promise<LoadedBackend> {
  const { order, passed } =
    choice === 'auto' ? autoCandidates(host.environment()) : { order: [choice], passed: [] };
  const skipped: LoadedBackend['skipped'] = [...passed];
  for (const name of order) {
    try {
      const { tf, tfjsBackend, device } = await tryLoad(name, host);
      tf.enableProdMode();
      return { tf, name, tfjsBackend, device, skipped };
    } catch (err) {
      skipped.push({ backend: name, reason: (err as Error).message });
    }
  }
  const detail = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  throw new RuntimeError('BACKEND_UNAVAILABLE', `no usable backend for "${choice}" (${detail})`);
}
