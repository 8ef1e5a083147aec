/**
 * Tests that disturb shared services (PostgreSQL restarted under load). They run alone, after
 * the main suite (`npm test` runs `vitest run` and then this config), so the restart cannot break
 * other suites' connections. Files are `test/outage/*.outage.ts`, outside the main `*.test.ts` glob.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/outage/**/*.outage.ts'],
    testTimeout: 120_000,
    hookTimeout: 90_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
