import { defineConfig } from 'vitest/config';
import { nativeSkipReason } from './test/runtime/native.js';

// The runtime's protocol suites, run once per backend: on wasm in `unit`, and
// again on the native backends: @tensorflow/tfjs-node in `tensorflow`, and
// @tensorflow/tfjs-node-gpu (TensorFlow's CUDA build, on the CPU here) in
// `tensorflow-gpu`.
const PROTOCOL_SUITES = [
  'test/runtime/tfserving.test.ts',
  'test/runtime/oip.test.ts',
  'test/runtime/bad-input.test.ts',
  'test/runtime/multi-input.test.ts',
  'test/runtime/fuzz.test.ts',
  'test/runtime/serving.test.ts',
  'test/runtime/drain.test.ts',
  'test/runtime/worker-pool.test.ts',
  'test/runtime/graph-models.test.ts',
];

// Without `npm run setup:native` (and outside CI, which requires it) there are
// no native projects; test/runtime/native.test.ts shows the skip and why.
const nativeSkipped = nativeSkipReason();
if (nativeSkipped !== undefined) {
  process.stderr.write(`tensorflow backend tests skipped: ${nativeSkipped}\n`);
}

// Tiers: `unit` needs nothing running; `tensorflow`, `tensorflow-gpu` need the native backends;
// `integration` boots one real control plane per run (see
// test/integration/global-setup.ts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/e2e/**'],
          // TensorFlow's C++ INFO lines (oneDNN, CPU features) stay out of test output.
          // Google's credential chain never looks for the real metadata server
          // (169.254.169.254): tests that use one point GCE_METADATA_HOST at loopback.
          env: { TF_CPP_MIN_LOG_LEVEL: '1', METADATA_SERVER_DETECTION: 'none' },
        },
      },
      ...(nativeSkipped === undefined
        ? (['tensorflow', 'tensorflow-gpu'] as const).map((backend) => ({
            test: {
              name: backend,
              include: PROTOCOL_SUITES,
              // TensorFlow's INFO lines out of test output; for the GPU build also its
              // start-up CUDA messages, errors among them, that say no GPU is here.
              env: {
                TENSORFLEET_TEST_BACKEND: backend,
                TF_CPP_MIN_LOG_LEVEL: backend === 'tensorflow' ? '1' : '3',
              },
            },
          }))
        : []),
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Starts the shared control plane (building it first on a fresh machine).
          globalSetup: ['test/integration/global-setup.ts'],
          env: { METADATA_SERVER_DETECTION: 'none' },
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Files share one API server; two cores cannot feed many workers
          // usefully. Runs after the unit tier (groupOrder) so the two do not
          // compete for the CPU.
          pool: 'forks',
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
