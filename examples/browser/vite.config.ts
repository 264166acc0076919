/**
 * Vite config of the browser example (`npm run example:browser`, dev server;
 * `npm run example:browser:build`, static build in `examples/browser/dist`).
 * The page imports the library from `src/` and the Fashion-MNIST files and
 * tfjs-backend-wasm's binaries with `?url`, so the build carries only what the
 * page fetches.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Cross-origin isolation: without it a page has no SharedArrayBuffer, and
 * tfjs-backend-wasm falls back from its threaded build to one thread.
 */
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: here,
  // Relative asset URLs: the build works from any folder of any static server.
  base: './',
  // The data files come in through `?url` imports, not a copied public folder.
  publicDir: false,
  server: {
    headers: crossOriginIsolation,
    // The page reaches up to ../../src, ../data and node_modules.
    fs: { allow: [repoRoot] },
  },
  preview: { headers: crossOriginIsolation },
  build: {
    target: 'es2022',
    emptyOutDir: true,
    // tfjs with four backends is a few MB of JavaScript; that is expected here.
    chunkSizeWarningLimit: 4096,
    // tfjs-backend-wasm's threaded build gives its workers the source text of
    // its Emscripten factory (Function.toString), which they call by its
    // original name: a minified bundle renames what that text refers to, and
    // every worker fails with "e is not defined".
    minify: false,
    // The IDX files have no extension: name them `name-hash`, not `name-hash.`.
    rolldownOptions: { output: { assetFileNames: 'assets/[name]-[hash][extname]' } },
  },
});
