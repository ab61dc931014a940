import { defineConfig } from 'tsup';

const common = {
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  splitting: false,
  // esbuild builds the browser module only when fastvision runs from its own source
  // (src/deploy/pageFiles.ts); an installed copy uses dist/browser.js and never loads it.
  external: ['esbuild'] as string[],
  // Keep `import()` as is in the CommonJS build too: vega is ESM-only, and optional
  // backends are loaded on demand.
  esbuildOptions(options: { supported?: Record<string, boolean> }) {
    options.supported = { ...options.supported, 'dynamic-import': true };
  },
} as const;

export default defineConfig([
  {
    ...common,
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    // The CJS build gets a working import.meta.url (used to resolve optional backends).
    shims: true,
  },
  { ...common, entry: { cli: 'src/cli.ts' }, format: ['esm'] },
  // The web page's module: everything inlined (the page has no bundler), no tfjs (the
  // page passes its own `tf`), no Node built-ins.
  {
    entry: { browser: 'src/browser/index.ts' },
    format: ['esm'],
    platform: 'browser',
    target: 'es2020',
    sourcemap: true,
    minify: true,
    splitting: false,
    noExternal: [/.*/],
    dts: true,
  },
]);
