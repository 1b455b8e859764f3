// The native `tensorflow` backend in tests. `npm run setup:native` installs
// @tensorflow/tfjs-node (not a package.json dependency) and writes
// .tensorfleet/native/manifest.json; the runtime's protocol suites then run a
// second time on it (the `tensorflow` vitest project, which sets
// TENSORFLEET_TEST_BACKEND).
//
// Where the step has not run, the native tests are skipped and say why,
// unless the native backend is required: in CI (`CI` set, as .ci/run runs)
// or with TENSORFLEET_REQUIRE_NATIVE=1, where its absence fails the run.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../../src/runtime/backends/select.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MANIFEST_PATH = `${REPO_ROOT}.tensorfleet/native/manifest.json`;

export interface NativeManifest {
  schema: 1;
  tensorflow: string;
  tfjsNode: string;
  libtensorflow: string;
  addon: string;
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
  let version: string;
  try {
    const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-node/package.json');
    version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return { available: false, reason: '@tensorflow/tfjs-node is not installed' };
  }
  if (!existsSync(MANIFEST_PATH)) {
    return { available: false, reason: `${MANIFEST_PATH} is missing` };
  }
  const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as NativeManifest;
  if (
    manifest.tensorflow !== NATIVE_VERSIONS.tensorflow ||
    manifest.tfjsNode !== NATIVE_VERSIONS.tfjsNode ||
    version !== NATIVE_VERSIONS.tfjsNode
  ) {
    return {
      available: false,
      reason: `installed tfjs-node ${version} on TensorFlow ${manifest.tensorflow}, tools/native/versions.json wants ${NATIVE_VERSIONS.tfjsNode} on ${NATIVE_VERSIONS.tensorflow}`,
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
 * project, tensorflow in the `tensorflow` project (vitest.config.ts).
 */
export function testBackend(): BackendName {
  const v = process.env['TENSORFLEET_TEST_BACKEND'] ?? 'wasm';
  if (!(BACKENDS as readonly string[]).includes(v)) {
    throw new Error(`TENSORFLEET_TEST_BACKEND=${v} is not one of ${BACKENDS.join(', ')}`);
  }
  return v as BackendName;
}

/** tfjs's own name for a backend (what `tf.getBackend()` says). */
export function tfjsBackendName(backend: BackendName): string {
  return backend === 'tensorflow-gpu' ? 'tensorflow' : backend;
}
