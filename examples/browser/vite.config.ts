/**
 * Vite config of the browser example (`npm run example:browser`, dev server;
 * `npm run example:browser:build`, static build in `examples/browser/dist`).
 * The page imports the library from `src/` and tfjs-backend-wasm's binaries
 * with `?url`; `examples/data/` is the public folder (the Fashion-MNIST files
 * are fetched at run time).
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
  // The Fashion-MNIST files, served as they are (and copied into the build).
  // Not `?url` imports: Vite's dev server takes a path without an extension
  // for a JavaScript module and would serve the IDX files transformed.
  publicDir: fileURLToPath(new URL('../data', import.meta.url)),
  server: {
    headers: crossOriginIsolation,
    // The page reaches up to ../../src, ../lib and node_modules.
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
  },
});
