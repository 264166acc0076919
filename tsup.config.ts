import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2020',
  // tfjs is a peer dependency: one copy of the engine, chosen by the user.
  external: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'],
});
