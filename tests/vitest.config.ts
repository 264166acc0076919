import { defineConfig } from 'vitest/config';

const common = {
  include: ['tests/**/*.test.ts'],
  setupFiles: ['tests/setup.ts'],
  testTimeout: 120_000,
  hookTimeout: 120_000,
};

/** The backend matrix: every test file runs once on `cpu` and once on `wasm`. */
export default defineConfig({
  test: {
    projects: [
      { test: { ...common, name: 'cpu', env: { MIMKIT_BACKEND: 'cpu' } } },
      { test: { ...common, name: 'wasm', env: { MIMKIT_BACKEND: 'wasm' } } },
    ],
  },
});
