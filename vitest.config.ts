import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The example imports the public API by name; in tests that is the source, as tsx's
  // tsconfig `paths` make it for `npm run example` (no build needed).
  resolve: { alias: { fastvision: fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    // tfjs backends are process-global: one file at a time per worker, no shared state.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
