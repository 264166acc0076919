import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { checkFloat, checkPositive, checkRank, checkSameShape, l2Normalize } from './common.js';
import { stopGradient } from './stop_gradient.js';

/** Options of {@link simsiamLoss}. */
export interface SimsiamLossOptions {
  /**
   * Lower bound of each vector norm in the cosine (PyTorch
   * `CosineSimilarity(eps=1e-8)`; it only matters for zero vectors). Default `1e-8`.
   */
  eps?: number;
}

/** Per-row cosine similarity `[N, D] x [N, D] -> [N]`, each norm bounded below by eps. */
export function rowCosine(a: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => tf.sum(tf.mul(l2Normalize(a, eps), l2Normalize(b, eps)), -1));
}

/** Shared input checks of the four-tensor Siamese losses. */
export function checkSiamese(fn: string, p1: tf.Tensor, p2: tf.Tensor, z1: tf.Tensor, z2: tf.Tensor): void {
  checkRank(fn, 'p1', p1, 2, '[N, D] predictor output of view 1');
  checkFloat(fn, 'p1', p1);
  const named: [string, tf.Tensor][] = [
    ['p2', p2],
    ['z1', z1],
    ['z2', z2],
  ];
  for (const [name, t] of named) {
    checkRank(fn, name, t, 2, '[N, D]');
    checkSameShape(fn, 'p1', p1, name, t);
    checkFloat(fn, name, t);
  }
}

/**
 * SimSiam's loss (Chen & He 2021, "Exploring Simple Siamese Representation
 * Learning", `main_simsiam.py`): negative cosine similarity, symmetrised,
 * with a stop-gradient on the projections `z`:
 * `-(mean cos(p1, sg(z2)) + mean cos(p2, sg(z1))) / 2`. No gradient reaches
 * `z1` or `z2`. Minimum -1.
 *
 * Shapes: `p1`, `p2` (predictor outputs), `z1`, `z2` (projector outputs):
 * `[N, D]`. Returns a scalar.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { simsiamLoss } from 'mimkit';
 *
 * const [p1, p2, z1, z2] = [0, 1, 2, 3].map(() => tf.randomNormal([8, 32]));
 * simsiamLoss(p1!, p2!, z1!, z2!).print(); // in [-1, 1]; no gradient reaches z1, z2
 * ```
 */
export function simsiamLoss(
  p1: tf.Tensor,
  p2: tf.Tensor,
  z1: tf.Tensor,
  z2: tf.Tensor,
  options: SimsiamLossOptions = {},
): tf.Scalar {
  ensureGradients();
  const fn = 'simsiamLoss';
  checkSiamese(fn, p1, p2, z1, z2);
  const eps = checkPositive(fn, 'options.eps', options.eps ?? 1e-8);
  return tf.tidy(() => {
    const a = tf.mean(rowCosine(p1, stopGradient(z2), eps));
    const b = tf.mean(rowCosine(p2, stopGradient(z1), eps));
    return tf.neg(tf.div(tf.add(a, b), 2)) as tf.Scalar;
  });
}
