import * as tf from '@tensorflow/tfjs-core';
import { gradientConfigs } from './gradients/index.js';

/**
 * Why this exists: `@tensorflow/tfjs-core` registers no gradient functions
 * (the `@tensorflow/tfjs` union package does, from files that plain Node ESM
 * cannot load), and tfjs's GatherV2 gradient needs UnsortedSegmentSum, which
 * the WASM backend lacks. So the library carries its own gradients, written
 * with public tfjs-core ops, for every kernel its maths can reach.
 */

let registered = false;

/**
 * Registers the library's gradient for every kernel that has none yet, and
 * returns the names it registered. A gradient that is already registered
 * (for example by `@tensorflow/tfjs`) is kept.
 */
export function registerMissingGradients(): string[] {
  const added: string[] = [];
  for (const config of gradientConfigs) {
    if (tf.getGradient(config.kernelName) === undefined) {
      tf.registerGradient(config);
      added.push(config.kernelName);
    }
  }
  return added;
}

/**
 * Makes sure every kernel the library uses is differentiable on every
 * backend: registers a gradient function (with `tf.registerGradient`) for
 * each such kernel that has none, keeping any existing registration. Call it
 * before running the forward pass you will differentiate; the library calls
 * it in every module constructor and loss. Idempotent; after the first call
 * it returns at once.
 */
export function ensureGradients(): void {
  if (registered) return;
  registerMissingGradients();
  registered = true;
}
