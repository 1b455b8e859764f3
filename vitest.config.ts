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
    ],
  },
});
