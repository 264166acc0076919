import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { checkFloat, checkMinRank, checkPositive } from './common.js';

/** Options of {@link normalizedPixelTargets}. */
export interface NormalizedPixelTargetsOptions {
  /**
   * Added to the variance before the square root. Default `1e-6`, MAE's
   * `forward_loss` constant (it keeps flat patches finite).
   */
  eps?: number;
}

/**
 * MAE's per-patch normalised pixel targets (`norm_pix_loss`, He et al. 2021,
 * "Masked Autoencoders Are Scalable Vision Learners", +0.5 top-1 in the
 * paper): each patch vector `v` (the last axis) becomes
 * `(v - mean(v)) / sqrt(var(v) + eps)`, where `var` is the **unbiased**
 * variance (divide by `K - 1`), exactly as `torch.Tensor.var` in
 * `models_mae.py`.
 *
 * Shapes: `patches: [..., K]` (usually `[B, L, p*p*C]`, `K >= 2`) -> same.
 */
export function normalizedPixelTargets(patches: tf.Tensor, options: NormalizedPixelTargetsOptions = {}): tf.Tensor {
  ensureGradients();
  const fn = 'normalizedPixelTargets';
  checkMinRank(fn, 'patches', patches, 1, '[..., K] patch vectors');
  checkFloat(fn, 'patches', patches);
  const k = patches.shape[patches.rank - 1]!;
  if (k < 2) {
    throw new Error(`${fn}: patches must have at least 2 values per patch (last axis) for an unbiased variance, got shape [${patches.shape}]`);
  }
  const eps = checkPositive(fn, 'options.eps', options.eps ?? 1e-6);
  return tf.tidy(() => {
    const mean = tf.mean(patches, -1, true);
    const centered = tf.sub(patches, mean);
    const variance = tf.div(tf.sum(tf.square(centered), -1, true), k - 1);
    return tf.div(centered, tf.sqrt(tf.add(variance, eps)));
  });
}
