import { defineConfig } from 'tsup';

// tfjs is a peer dependency: one copy of the engine, chosen by the user.
const external = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'];

export default defineConfig([
  {
    // ESM: one file per source module (dist/index.js re-exports them), so a
    // bundler drops every module an app does not import (package.json says
    // "sideEffects": false): the serialisation registrations
    // (`serialization.registerClass`) of unused classes go with their
    // modules. A single-file bundle kept all of them, and all of
    // tfjs-layers, for an app that imports only `Rng`.
    entry: ['src/**/*.ts'],
    bundle: false,
    format: ['esm'],
    dts: { entry: 'src/index.ts' },
    sourcemap: true,
    clean: true,
    target: 'es2020',
    external,
  },
  {
    // CJS (Node's require): one file, as before.
    entry: ['src/index.ts'],
    format: ['cjs'],
    dts: { entry: 'src/index.ts' },
    sourcemap: true,
    target: 'es2020',
    external,
  },
]);
