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
    // Vitest's default on a 2-core machine is one worker (cores − 1), which ran the suite
    // file after file in 29 min of CI; most files compute on one thread (wasm), so two
    // workers use both cores. Helpers that install into .cache/ are safe to race.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
