import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { checkFloat, checkPositive, checkRank, checkSameShape, diagonalCrossEntropy, l2Normalize, similarity } from './common.js';
import { stopGradient } from './stop_gradient.js';

/** Options of {@link mocoV3Loss}. */
export interface MocoV3LossOptions {
  /** Softmax temperature `T`. Default `0.2` (MoCo v3's ViT setting, `--moco-t`). */
  temperature?: number;
  /**
   * Stop the gradient at the keys. Default `true`: MoCo v3 computes them with
   * the momentum encoder under `torch.no_grad()`, which is updated by EMA only.
   */
  stopGradientKeys?: boolean;
}

/** What {@link mocoV3Loss} returns (the caller disposes all three). */
export type MocoV3LossOutput = {
  /** `lossQ1K2 + lossQ2K1`. */
  loss: tf.Scalar;
  /** `ctr(q1, k2)`. */
  lossQ1K2: tf.Scalar;
  /** `ctr(q2, k1)`. */
  lossQ2K1: tf.Scalar;
}

/**
 * MoCo v3's symmetrised contrastive loss (Chen, Xie, He 2021, "An Empirical
 * Study of Training Self-Supervised Vision Transformers", `moco/builder.py`,
 * single process): `ctr(q, k)` l2-normalises rows with `max(|row|, 1e-12)`,
 * takes logits `q k^T / T` with the positives on the diagonal, and returns the
 * mean cross-entropy times `2T`; the loss is `ctr(q1, k2) + ctr(q2, k1)`.
 *
 * Shapes: `q1`, `q2` (predictor outputs of the base encoder), `k1`, `k2`
 * (momentum encoder outputs): `[N, D]`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { mocoV3Loss } from 'mimkit';
 *
 * const [q1, q2, k1, k2] = [0, 1, 2, 3].map(() => tf.randomNormal([8, 32]));
 * const { loss } = mocoV3Loss(q1!, q2!, k1!, k2!, { temperature: 0.2 }); // ctr(q1, k2) + ctr(q2, k1), each x 2T
 * ```
 */
export function mocoV3Loss(
  q1: tf.Tensor,
  q2: tf.Tensor,
  k1: tf.Tensor,
  k2: tf.Tensor,
  options: MocoV3LossOptions = {},
): MocoV3LossOutput {
  ensureGradients();
  const fn = 'mocoV3Loss';
  checkRank(fn, 'q1', q1, 2, '[N, D] queries of view 1');
  checkFloat(fn, 'q1', q1);
  const named: [string, tf.Tensor][] = [
    ['q2', q2],
    ['k1', k1],
    ['k2', k2],
  ];
  for (const [name, t] of named) {
    checkRank(fn, name, t, 2, '[N, D]');
    checkSameShape(fn, 'q1', q1, name, t);
    checkFloat(fn, name, t);
  }
  const temp = checkPositive(fn, 'options.temperature', options.temperature ?? 0.2);
  const sg = options.stopGradientKeys ?? true;
  return tf.tidy(() => {
    const ctr = (q: tf.Tensor, k: tf.Tensor): tf.Scalar => {
      const kk = l2Normalize(sg ? stopGradient(k) : k);
      const logits = tf.div(similarity(l2Normalize(q), kk), temp);
      return tf.mul(diagonalCrossEntropy(logits), 2 * temp) as tf.Scalar;
    };
    const lossQ1K2 = ctr(q1, k2);
    const lossQ2K1 = ctr(q2, k1);
    return { loss: tf.add(lossQ1K2, lossQ2K1) as tf.Scalar, lossQ1K2, lossQ2K1 };
  });
}
