// The native backends in tests. `npm run setup:native` installs
// @tensorflow/tfjs-node and @tensorflow/tfjs-node-gpu (not package.json
// dependencies) and writes .tensorfleet/native/manifest.json; the runtime's
// protocol suites then run again on each (the `tensorflow` and
// `tensorflow-gpu` vitest projects, which set TENSORFLEET_TEST_BACKEND; with
// no GPU here, tensorflow-gpu is the GPU build of libtensorflow on the CPU).
//
// Where the step has not run, the native tests are skipped and say why,
// unless the native backend is required: in CI (`CI` set, as .ci/run runs)
// or with TENSORFLEET_REQUIRE_NATIVE=1, where its absence fails the run.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../../src/runtime/backends/select.js';
import { NVIDIA_CONTROL_DEVICE } from '../../src/runtime/backends/select.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MANIFEST_PATH = `${REPO_ROOT}.tensorfleet/native/manifest.json`;

export interface NativeManifest {
  schema: 2;
  tensorflow: string;
  tfjsNode: string;
  libtensorflow: string;
  addon: string;
  /** The GPU build (tfjs-node-gpu's). */
  gpu: { libtensorflow: string; addon: string };
  /** Directory with half_plus_two/, dense/ (SavedModels) and expected.json. */
  savedModels: string;
  python: string;
}

/** The versions tools/native/setup.sh installs. */
export const NATIVE_VERSIONS = JSON.parse(
  readFileSync(`${REPO_ROOT}tools/native/versions.json`, 'utf8'),
) as { tensorflow: string; tfjsNode: string };

const truthy = (v: string | undefined): boolean =>
  v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

/** CI, or TENSORFLEET_REQUIRE_NATIVE=1: a missing native backend is a failure, not a skip. */
export const NATIVE_REQUIRED =
  truthy(process.env['CI']) || truthy(process.env['TENSORFLEET_REQUIRE_NATIVE']);

export type NativeStatus =
  { available: true; manifest: NativeManifest } | { available: false; reason: string };

/** Whether setup:native has run for this clone (installed, current, with its manifest). */
export function nativeStatus(): NativeStatus {
  const versions: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
    try {
      const file = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
      versions.push((JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version);
    } catch {
      return { available: false, reason: `${pkg} is not installed` };
    }
  }
  if (!existsSync(MANIFEST_PATH)) {
    return { available: false, reason: `${MANIFEST_PATH} is missing` };
  }
  const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as NativeManifest;
  if (
    manifest.schema !== 2 ||
    manifest.tensorflow !== NATIVE_VERSIONS.tensorflow ||
    manifest.tfjsNode !== NATIVE_VERSIONS.tfjsNode ||
    versions.some((v) => v !== NATIVE_VERSIONS.tfjsNode)
  ) {
    return {
      available: false,
      reason: `installed tfjs-node(-gpu) ${versions.join('/')} on TensorFlow ${manifest.tensorflow} (manifest schema ${manifest.schema}), tools/native/versions.json wants ${NATIVE_VERSIONS.tfjsNode} on ${NATIVE_VERSIONS.tensorflow}`,
    };
  }
  return { available: true, manifest };
}

/** Why native tests are skipped here (undefined: they run). */
export function nativeSkipReason(status: NativeStatus = nativeStatus()): string | undefined {
  if (status.available || NATIVE_REQUIRED) return undefined;
  return `native backend not set up (${status.reason}); run npm run setup:native`;
}

const BACKENDS: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/**
 * The backend the runtime's protocol suites run on: wasm in the `unit`
 * project, tensorflow and tensorflow-gpu in the projects of those names
 * (vitest.config.ts).
 */
export function testBackend(): BackendName {
  const v = process.env['TENSORFLEET_TEST_BACKEND'] ?? 'wasm';
  if (!(BACKENDS as readonly string[]).includes(v)) {
    throw new Error(`TENSORFLEET_TEST_BACKEND=${v} is not one of ${BACKENDS.join(', ')}`);
  }
  return v as BackendName;
}

/** The device the test backend computes on: a GPU only for tensorflow-gpu where one is visible. */
export function testDevice(): 'gpu' | 'cpu' {
  return testBackend() === 'tensorflow-gpu' && existsSync(NVIDIA_CONTROL_DEVICE) ? 'gpu' : 'cpu';
}

/** tfjs's own name for a backend (what `tf.getBackend()` says). */
export function tfjsBackendName(backend: BackendName): string {
  return backend === 'tensorflow-gpu' ? 'tensorflow' : backend;
}
