import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../matmul.js';
import { attr, one, reduceTo, type GradConfig } from './common.js';

/**
 * BatchMatMul (what `tf.matMul` runs; the library's own products go through
 * `matMul`, which has its own gradient). The gradient products also go
 * through `matMul`, so on WASM they use explicit transposes. `tf.matMul`
 * broadcasts batch dimensions: operands are broadcast to the common batch
 * shape first and each gradient is summed back to its operand's shape.
 */
export const batchMatMulGrad: GradConfig = {
  kernelName: 'BatchMatMul',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a0, b0] = saved as [tf.Tensor, tf.Tensor];
    const ta = attr<boolean>(attrs, 'transposeA') ?? false;
    const tb = attr<boolean>(attrs, 'transposeB') ?? false;
    const g = one(dy);
    const batch = g.shape.slice(0, -2);
    const full = (t: tf.Tensor): tf.Tensor => {
      const shape = [...batch, ...t.shape.slice(-2)];
      return t.rank === shape.length && t.shape.every((d, i) => d === shape[i]) ? t : tf.broadcastTo(t, shape);
    };
    const a = full(a0);
    const b = full(b0);
    let da: () => tf.Tensor;
    let db: () => tf.Tensor;
    if (!ta && !tb) {
      da = () => matMul(g, b, false, true);
      db = () => matMul(a, g, true, false);
    } else if (!ta && tb) {
      da = () => matMul(g, b, false, false);
      db = () => matMul(g, a, true, false);
    } else if (ta && !tb) {
      da = () => matMul(b, g, false, true);
      db = () => matMul(a, g, false, false);
    } else {
      da = () => matMul(b, g, true, true);
      db = () => matMul(g, a, true, true);
    }
    return { a: () => reduceTo(da(), a0.shape), b: () => reduceTo(db(), b0.shape) };
  },
};
