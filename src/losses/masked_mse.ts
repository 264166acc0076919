import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { checkFloat, checkMinRank, checkSameShape, fmtShape } from './common.js';
import { normalizedPixelTargets } from './normalized_pixels.js';

/** Options of {@link maskedMseLoss}. */
export interface MaskedMseLossOptions {
  /**
   * Replace `target` by {@link normalizedPixelTargets} first (MAE's
   * `norm_pix_loss`). Default `false`: the targets are used as given, so a
   * caller that already normalised them is not normalised twice.
   */
  normPixLoss?: boolean;
  /** `eps` of the normalisation when `normPixLoss` is set. Default `1e-6` (MAE). */
  normEps?: number;
}

/**
 * MAE's reconstruction loss (He et al. 2021, "Masked Autoencoders Are
 * Scalable Vision Learners", `models_mae.py` `forward_loss`): the mean squared
 * error of each patch, averaged over the removed patches only:
 * `sum_l(mask_l * mean_k (pred - target)^2) / sum_l(mask_l)`.
 *
 * Shapes: `pred`, `target: [B, L, K]` (any leading axes `[..., K]`);
 * `mask: [B, L]` (the leading axes), 1 = removed (the loss is computed
 * there), 0 = kept; float weights or bool. An all-zero mask gives NaN, as in
 * the reference. Returns a scalar.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { maskedMseLoss } from 'mimkit';
 *
 * const pred = tf.zeros([1, 2, 3]);
 * const target = tf.tensor3d([[[1, 1, 1], [2, 2, 2]]]);
 * const mask = tf.tensor2d([[0, 1]]); // only patch 1 was removed
 * maskedMseLoss(pred, target, mask).print(); // 4: the mean over removed patches only
 * ```
 */
export function maskedMseLoss(
  pred: tf.Tensor,
  target: tf.Tensor,
  mask: tf.Tensor,
  options: MaskedMseLossOptions = {},
): tf.Scalar {
  ensureGradients();
  const fn = 'maskedMseLoss';
  checkMinRank(fn, 'pred', pred, 2, '[B, L, K] predicted patches');
  checkFloat(fn, 'pred', pred);
  checkMinRank(fn, 'target', target, 2, '[B, L, K] target patches');
  checkSameShape(fn, 'pred', pred, 'target', target);
  checkFloat(fn, 'target', target);
  checkMinRank(fn, 'mask', mask, 1, '[B, L] 1 = removed');
  const lead = pred.shape.slice(0, -1);
  if (!tf.util.arraysEqual(mask.shape, lead)) {
    throw new Error(`${fn}: mask must have shape [${lead.join(', ')}] (pred's shape without its last axis), got ${fmtShape(mask)}`);
  }
  if (mask.dtype !== 'float32' && mask.dtype !== 'bool' && mask.dtype !== 'int32') {
    throw new Error(`${fn}: mask must be float32, int32 or bool, got dtype ${mask.dtype}`);
  }
  if (pred.size === 0) {
    // tfjs-wasm's sum of an empty tensor reads stale memory: refuse instead.
    throw new Error(`${fn}: pred is empty (shape ${fmtShape(pred)}); the mean over an empty batch is undefined`);
  }
  const t =
    options.normPixLoss === true ? normalizedPixelTargets(target, { eps: options.normEps ?? 1e-6 }) : target;
  try {
    return tf.tidy(() => {
      const m = mask.dtype === 'float32' ? mask : tf.cast(mask, 'float32');
      const perPatch = tf.mean(tf.squaredDifference(pred, t), -1);
      return tf.div(tf.sum(tf.mul(perPatch, m)), tf.sum(m)) as tf.Scalar;
    });
  } finally {
    if (t !== target) t.dispose();
  }
}
