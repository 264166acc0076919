import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { LayerNorm } from '../../src/layers/index.js';
import { namedTrainableVariables } from '../../src/index.js';

/**
 * LayerNorm has its own gradient; checked against autodiff of the composed
 * formula `(x - mean) / sqrt(var + eps) * w + b` (the definition), on an
 * input with a large common offset (where a careless formula loses digits).
 */
function reference(x: tf.Tensor, w: tf.Tensor | null, b: tf.Tensor | null, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const c = tf.sub(x, mean);
  const y = tf.div(c, tf.sqrt(tf.add(tf.mean(tf.square(c), -1, true), eps)));
  return w && b ? tf.add(tf.mul(y, w), b) : y;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('LayerNorm', () => {
  for (const affine of [true, false]) {
    it(`affine=${affine}: values and gradients (x, weight, bias) equal autodiff of the formula`, () => {
      const D = 6;
      const ln = new LayerNorm({ dim: D, eps: 1e-6, affine });
      if (affine) {
        ln.weight!.write(tf.tensor1d([1.5, -0.5, 2, 0.25, 1, -1]));
        ln.bias!.write(tf.tensor1d([0.1, 0.2, -0.3, 0, 0.5, -0.5]));
      }
      const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([2, 3, D], 0, 1, 'float32', 7), 3), 40));
      const dyW = tf.randomNormal([2, 3, D], 0, 1, 'float32', 8);
      const objective = (t: tf.Tensor): tf.Scalar => tf.sum(tf.mul(ln.forward(t), dyW));
      // Nothing of the forward or its saved tensors outlives a gradient.
      const before = tf.memory().numTensors;
      tf.grad(objective)(x).dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.tidy(() => {
        const w0 = ln.weight?.read() ?? null;
        const b0 = ln.bias?.read() ?? null;
        expect(maxAbsDiff(ln.forward(x), reference(x, w0, b0, 1e-6))).toBeLessThan(1e-5);
        const gx = tf.grad(objective)(x);
        expect(tf.max(tf.abs(gx)).dataSync()[0]!).toBeGreaterThan(1e-2);
        if (affine) {
          const vars = [...namedTrainableVariables(ln).values()];
          const { grads } = tf.variableGrads(() => objective(x), vars);
          const ref = tf.grads((t: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(reference(t, w, b, 1e-6), dyW)))([x, w0!, b0!]);
          expect(maxAbsDiff(gx, ref[0]!)).toBeLessThan(1e-4);
          expect(maxAbsDiff(grads[vars[0]!.name]!, ref[1]!)).toBeLessThan(1e-4);
          expect(maxAbsDiff(grads[vars[1]!.name]!, ref[2]!)).toBeLessThan(1e-4);
        } else {
          expect(namedTrainableVariables(ln).size).toBe(0);
          const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(reference(t, null, null, 1e-6), dyW)))(x);
          expect(maxAbsDiff(gx, ref)).toBeLessThan(1e-4);
        }
      });
      tf.dispose([x, dyW]);
      ln.dispose();
    });
  }
});
