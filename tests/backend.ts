/**
 * Picks the tfjs backend for a test run from MIMKIT_BACKEND (`cpu` or `wasm`;
 * default `cpu`). Imported by the vitest setup file and by scripts.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export type BackendName = 'cpu' | 'wasm';

export function backendFromEnv(): BackendName {
  const b = (process.env.MIMKIT_BACKEND ?? 'cpu').toLowerCase();
  if (b !== 'cpu' && b !== 'wasm') {
    throw new Error(`MIMKIT_BACKEND must be 'cpu' or 'wasm', got '${b}'`);
  }
  return b;
}

/**
 * tfjs-backend-cpu prints "Hi, looks like you are running TensorFlow.js in
 * Node.js..." on the first tensor it stores under Node (once per process,
 * whichever backend the run then uses). Stores one throw-away value with
 * tfjs's logging off (`PROD`, which in tfjs 4.22 only gates `console.warn`/
 * `console.log` of tfjs itself), then restores the flag, so that banner never
 * shows and every other tfjs warning still does.
 */
export function silenceNodeBanner(): void {
  const cpu = tf.findBackend('cpu');
  if (!cpu) return;
  const env = tf.env();
  const prod = env.getBool('PROD');
  env.set('PROD', true);
  try {
    cpu.disposeData(cpu.write(new Float32Array(1), [1], 'float32'));
  } finally {
    env.set('PROD', prod);
  }
}

export async function useBackend(name: BackendName = backendFromEnv()): Promise<void> {
  silenceNodeBanner();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`could not initialise tfjs backend '${name}'`);
  await tf.ready();
}
