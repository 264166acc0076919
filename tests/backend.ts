/**
 * Picks the tfjs backend for a test run from MIMKIT_BACKEND (`cpu` or `wasm`;
 * default `cpu`). Imported by the vitest setup file and by scripts.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { silenceNodeBanner } from '../examples/lib/runtime.js';

export type BackendName = 'cpu' | 'wasm';

export function backendFromEnv(): BackendName {
  const b = (process.env.MIMKIT_BACKEND ?? 'cpu').toLowerCase();
  if (b !== 'cpu' && b !== 'wasm') {
    throw new Error(`MIMKIT_BACKEND must be 'cpu' or 'wasm', got '${b}'`);
  }
  return b;
}

export async function useBackend(name: BackendName = backendFromEnv()): Promise<void> {
  silenceNodeBanner();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`could not initialise tfjs backend '${name}'`);
  await tf.ready();
}
