import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { MAE, type MAEConfig } from '../../src/index.js';

/** A micro MAE config (8x8 one-channel images, 4 patches): builds in milliseconds. */
export const MICRO_MAE: MAEConfig = {
  imgSize: 8,
  patchSize: 4,
  inChans: 1,
  embedDim: 8,
  depth: 1,
  numHeads: 2,
  decoderEmbedDim: 8,
  decoderDepth: 1,
  decoderNumHeads: 2,
};

export function microMae(extra: MAEConfig = {}): MAE {
  return new MAE({ ...MICRO_MAE, ...extra });
}

/**
 * `fn` throws an `Error` matching `pattern`, and the live tensor count is the
 * same after the throw as before the call (nothing leaked on the error path).
 */
export function expectCleanThrow(fn: () => unknown, pattern: RegExp): Error {
  const before = tf.memory().numTensors;
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a throw matching ${pattern}`).toBeInstanceOf(Error);
  expect((caught as Error).message).toMatch(pattern);
  expect(tf.memory().numTensors, `tensors leaked by a throw matching ${pattern}`).toBe(before);
  return caught as Error;
}

/** A snapshot of every weight's values, by key. */
export function snapshot(weights: Map<string, { read(): tf.Tensor }>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, w] of weights) out.set(k, (w.read().dataSync() as Float32Array).slice());
  return out;
}

export function expectSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, v] of a) expect(Array.from(b.get(k)!), k).toEqual(Array.from(v));
}
