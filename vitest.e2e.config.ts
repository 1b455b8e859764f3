import { defineConfig } from 'vitest/config';

// The end-to-end tier (`npm run test:e2e`): one control plane with a real node
// (test/e2e/global-setup.ts). It needs root on Linux (containerd, a kubelet);
// elsewhere it says why it does not run, except in CI, where it must.
const why =
  process.platform !== 'linux'
    ? 'a real node needs Linux'
    : process.getuid?.() !== 0
      ? 'a real node needs root (containerd and a kubelet run here)'
      : undefined;
const skipped = why !== undefined && process.env.CI !== 'true';
if (skipped) process.stderr.write(`end-to-end tests not run: ${why}\n`);

export default defineConfig({
  test: {
    name: 'e2e',
    include: skipped ? [] : ['test/e2e/**/*.test.ts'],
    passWithNoTests: skipped,
    globalSetup: skipped ? [] : ['test/e2e/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // One real node: files take turns, so each one's load and timings are its own.
    fileParallelism: false,
    env: { TF_CPP_MIN_LOG_LEVEL: '1' },
  },
});
