import * as tf from '@tensorflow/tfjs-core';
import { CONFIG_LIMITS } from '../utils/config.js';
import { Rng } from '../utils/random.js';

/**
 * Weight initialisers of the reference implementations, drawn from the
 * library's own seeded generator (not tfjs's), so a seed gives bit-identical
 * weights on every backend.
 */
export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  /** PyTorch `trunc_normal_(std)`, truncated at +-2 std as timm does. */
  | { kind: 'truncNormal'; std: number }
  | { kind: 'normal'; std: number }
  /**
   * `xavier_uniform_` with fan computed on the PyTorch layout: `fanIn`/`fanOut`
   * given explicitly, because a conv kernel stored as a matrix has other fans.
   */
  | { kind: 'xavierUniform'; fanIn: number; fanOut: number }
  | { kind: 'uniform'; low: number; high: number }
  /** Explicit values (e.g. a fixed sine-cosine table). */
  | { kind: 'values'; values: Float32Array };

/** Materialises an initialiser as a new float32 tensor of `shape`. */
export function initTensor(init: Init, shape: number[], seed: number): tf.Tensor {
  if (init === null || typeof init !== 'object') throw new Error(`initTensor: init must be an object with a kind, got ${String(init)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`initTensor: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > CONFIG_LIMITS.maxParams) {
    throw new Error(`initTensor: shape [${shape}] has ${n} elements, above CONFIG_LIMITS.maxParams ${CONFIG_LIMITS.maxParams}`);
  }
  const out = new Float32Array(n);
  const rng = new Rng(seed);
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'constant':
      out.fill(init.value);
      break;
    case 'truncNormal':
      for (let i = 0; i < n; i++) {
        let v = rng.normal();
        while (v < -2 || v > 2) v = rng.normal();
        out[i] = v * init.std;
      }
      break;
    case 'normal':
      for (let i = 0; i < n; i++) out[i] = rng.normal() * init.std;
      break;
    case 'xavierUniform': {
      const a = Math.sqrt(6 / (init.fanIn + init.fanOut));
      for (let i = 0; i < n; i++) out[i] = rng.uniformRange(-a, a);
      break;
    }
    case 'uniform':
      for (let i = 0; i < n; i++) out[i] = rng.uniformRange(init.low, init.high);
      break;
    case 'values':
      if (init.values.length !== n) {
        throw new Error(`initTensor: ${init.values.length} values given for shape [${shape}] (${n} elements)`);
      }
      out.set(init.values);
      break;
    default:
      // A misspelt kind would otherwise leave the weight at zeros.
      throw new Error(`initTensor: unknown init kind ${JSON.stringify((init as { kind?: unknown }).kind)} (known: zeros, ones, constant, truncNormal, normal, xavierUniform, uniform, values)`);
  }
  return tf.tensor(out, shape, 'float32');
}
