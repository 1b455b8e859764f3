import { defineConfig } from 'vitest/config';

// Two tiers: `unit` needs nothing running; `integration` boots one real control
// plane per run (see test/integration/global-setup.ts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Starts the shared control plane (building it first on a fresh machine).
          globalSetup: ['test/integration/global-setup.ts'],
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
