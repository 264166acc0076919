import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { matMul } from '../ops/matmul.js';
import { checkFloat, checkNonNegative, checkPositive, checkRank, checkSameShape } from './common.js';

/** Options of {@link barlowTwinsLoss}. */
export interface BarlowTwinsLossOptions {
  /**
   * Weight of the off-diagonal (redundancy reduction) term. Default `5e-3`
   * (the paper's lambda; the released script uses 0.0051).
   */
  lambda?: number;
  /** Epsilon of the batch normalisation. Default `1e-5` (`nn.BatchNorm1d`'s). */
  eps?: number;
}

/**
 * Barlow Twins' loss (Zbontar et al. 2021, "Barlow Twins: Self-Supervised
 * Learning via Redundancy Reduction"): each embedding dimension is
 * batch-normalised over the batch (biased variance, no affine, as
 * `nn.BatchNorm1d(affine=False)` in training), the cross-correlation
 * `C = z1n^T z2n / N` `[D, D]` is pushed towards the identity:
 * `sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2`.
 *
 * Shapes: `z1`, `z2: [N, D]` (N >= 2). Returns a scalar.
 */
export function barlowTwinsLoss(z1: tf.Tensor, z2: tf.Tensor, options: BarlowTwinsLossOptions = {}): tf.Scalar {
  ensureGradients();
  const fn = 'barlowTwinsLoss';
  checkRank(fn, 'z1', z1, 2, '[N, D] embeddings of view 1');
  checkFloat(fn, 'z1', z1);
  checkRank(fn, 'z2', z2, 2, '[N, D] embeddings of view 2');
  checkSameShape(fn, 'z1', z1, 'z2', z2);
  checkFloat(fn, 'z2', z2);
  const n = z1.shape[0]!;
  if (n < 2) {
    throw new Error(`${fn}: z1 must have at least 2 rows to batch-normalise, got shape [${z1.shape.join(', ')}]`);
  }
  const lambda = checkNonNegative(fn, 'options.lambda', options.lambda ?? 5e-3);
  const eps = checkPositive(fn, 'options.eps', options.eps ?? 1e-5);
  const d = z1.shape[1]!;
  return tf.tidy(() => {
    const bn = (z: tf.Tensor) => {
      const { mean, variance } = tf.moments(z, 0, true);
      return tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, eps)));
    };
    const c = tf.div(matMul(bn(z1), bn(z2), true, false), n);
    const eye = tf.eye(d);
    const diag = tf.sum(tf.mul(c, eye), -1);
    const onDiag = tf.sum(tf.square(tf.sub(diag, 1)));
    const offDiag = tf.sum(tf.square(tf.mul(c, tf.sub(1, eye))));
    return tf.add(onDiag, tf.mul(offDiag, lambda)) as tf.Scalar;
  });
}
