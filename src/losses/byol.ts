import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { checkPositive } from './common.js';
import { checkSiamese, rowCosine } from './simsiam.js';
import { stopGradient } from './stop_gradient.js';

/** Options of {@link byolLoss}. */
export interface ByolLossOptions {
  /** Lower bound of each norm when normalising (`F.normalize`'s eps, as byol-pytorch). Default `1e-12`. */
  eps?: number;
}

/**
 * BYOL's loss (Grill et al. 2020, "Bootstrap Your Own Latent"): the squared
 * distance of l2-normalised vectors, `|p/|p| - z/|z||^2 = 2 - 2 cos(p, z)`,
 * with a stop-gradient on the target projections `z` (they come from the
 * momentum target network), symmetrised by summing both directions:
 * `mean(2 - 2 cos(p1, sg(z2))) + mean(2 - 2 cos(p2, sg(z1)))`. Range [0, 8].
 *
 * Shapes: `p1`, `p2` (online predictions), `z1`, `z2` (target projections):
 * `[N, D]`. Returns a scalar.
 */
export function byolLoss(
  p1: tf.Tensor,
  p2: tf.Tensor,
  z1: tf.Tensor,
  z2: tf.Tensor,
  options: ByolLossOptions = {},
): tf.Scalar {
  ensureGradients();
  const fn = 'byolLoss';
  checkSiamese(fn, p1, p2, z1, z2);
  const eps = checkPositive(fn, 'options.eps', options.eps ?? 1e-12);
  return tf.tidy(() => {
    const a = tf.mean(tf.sub(2, tf.mul(2, rowCosine(p1, stopGradient(z2), eps))));
    const b = tf.mean(tf.sub(2, tf.mul(2, rowCosine(p2, stopGradient(z1), eps))));
    return tf.add(a, b) as tf.Scalar;
  });
}
