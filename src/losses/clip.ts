import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { ensureGradients } from '../ops/gradients.js';
import { checkFloat, checkRank, diagonalCrossEntropy, l2Normalize, similarity } from './common.js';

/**
 * CLIP's upper bound of the log logit scale, `ln(100)`: CLIP clips the
 * learned temperature so that logits are scaled by at most 100 (Radford et
 * al. 2021, section 2.5); open_clip clamps its `logit_scale` to
 * `[0, ln 100]` after every optimiser step.
 */
export const CLIP_MAX_LOG_LOGIT_SCALE = Math.log(100);

/**
 * The largest log logit scale {@link clipLoss} accepts, `ln(1000)` (10 times
 * CLIP's cap): a larger value is almost surely the scale itself passed
 * instead of its log (`exp(ln(1/0.07)) = 14.3` would scale the logits by
 * `e^14.3 = 1.6e6`). Opt out with `clipLoss(..., { checkLogitScale: false })`.
 */
export const CLIP_SANE_MAX_LOG_LOGIT_SCALE = Math.log(1000);

/** CLIP's initial log logit scale, `ln(1 / 0.07)` (temperature 0.07). */
export const CLIP_INIT_LOG_LOGIT_SCALE = Math.log(1 / 0.07);

/** Options of {@link clipLoss}. */
export interface ClipLossOptions {
  /**
   * L2-normalise both feature sets first. Default `false`: open_clip's
   * `ClipLoss` receives features that `CLIP.encode_*(normalize=True)` has
   * already normalised and uses them as given.
   */
  normalize?: boolean;
  /**
   * If set, `min(logitScale, maxLogLogitScale)` is used in the forward pass
   * (a functional clamp; no gradient above the bound). Default unset: the
   * reference clamps the parameter in place after the step instead, see
   * {@link clampLogitScale}. {@link CLIP_MAX_LOG_LOGIT_SCALE} is CLIP's bound.
   */
  maxLogLogitScale?: number;
  /**
   * Refuse (before any tensor work) a `logitScale` that is not finite or is
   * above {@link CLIP_SANE_MAX_LOG_LOGIT_SCALE} (`ln 1000`): the sign of the
   * scale passed instead of its log. Reads the one value (`dataSync`).
   * Default `true`.
   */
  checkLogitScale?: boolean;
}

/** What {@link clipLoss} returns (the caller disposes all three). */
export type ClipLossOutput = {
  /** Mean of the image-to-text and text-to-image cross-entropies. */
  loss: tf.Scalar;
  /** `exp(logitScale) * I T^T`, `[B, B]`; row `i` scores image `i` against every text. */
  logitsPerImage: tf.Tensor2D;
  /** `exp(logitScale) * T I^T`, `[B, B]` (the transpose). */
  logitsPerText: tf.Tensor2D;
};

/**
 * CLIP's symmetric contrastive loss (Radford et al. 2021, "Learning
 * Transferable Visual Models From Natural Language Supervision"), exactly as
 * open_clip's `ClipLoss` (single process): logits `s I T^T` with
 * `s = exp(logitScale)`, targets `0 .. B-1` for both directions, loss =
 * mean of the two cross-entropies. Also FLIP's loss (Li et al. 2023).
 *
 * Shapes: `imageFeatures`, `textFeatures: [B, E]` (pair `i` matches);
 * `logitScale`: the **logarithm** of the scale (open_clip's parameter), a
 * scalar tensor or `tf.Variable` (shape `[]` or `[1]`); gradients flow to
 * it and to both feature sets.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { clipLoss } from 'mimkit';
 *
 * const img = tf.randomNormal([4, 16]);
 * const txt = tf.randomNormal([4, 16]);
 * const logScale = tf.scalar(Math.log(1 / 0.07)); // the parameter, not exp() of it
 * const { loss, logitsPerImage } = clipLoss(img, txt, logScale); // features are L2-normalised inside
 * ```
 */
export function clipLoss(
  imageFeatures: tf.Tensor,
  textFeatures: tf.Tensor,
  logitScale: tf.Tensor,
  options: ClipLossOptions = {},
): ClipLossOutput {
  ensureGradients();
  const fn = 'clipLoss';
  checkRank(fn, 'imageFeatures', imageFeatures, 2, '[B, E] image embeddings');
  checkFloat(fn, 'imageFeatures', imageFeatures);
  checkRank(fn, 'textFeatures', textFeatures, 2, '[B, E] text embeddings');
  checkFloat(fn, 'textFeatures', textFeatures);
  if (!tf.util.arraysEqual(imageFeatures.shape, textFeatures.shape)) {
    throw new Error(
      `${fn}: textFeatures must have the shape of imageFeatures [${imageFeatures.shape.join(', ')}] (one text per image), got [${textFeatures.shape.join(', ')}]`,
    );
  }
  if (!(logitScale instanceof tf.Tensor) || logitScale.size !== 1) {
    throw new Error(
      `${fn}: logitScale must be a one-element tensor (the log of the scale), got ${logitScale instanceof tf.Tensor ? `shape [${logitScale.shape.join(', ')}]` : typeof logitScale}`,
    );
  }
  checkFloat(fn, 'logitScale', logitScale);
  const max = options.maxLogLogitScale;
  if (max !== undefined && !Number.isFinite(max)) {
    throw new Error(`${fn}: options.maxLogLogitScale must be a finite number, got ${String(max)}`);
  }
  if (options.checkLogitScale !== false) {
    const v = logitScale.dataSync()[0]!;
    if (!(Number.isFinite(v) && v <= CLIP_SANE_MAX_LOG_LOGIT_SCALE)) {
      throw new Error(
        `${fn}: logitScale must be the LOG of the logit scale (open_clip's logit_scale parameter, at most ` +
          `ln 1000 = ${CLIP_SANE_MAX_LOG_LOGIT_SCALE.toFixed(3)}; CLIP starts at ln(1/0.07) = 2.659 and clamps at ln 100 = 4.605), ` +
          `got ${v}: was exp(logit_scale) passed instead? (checkLogitScale: false skips this check)`,
      );
    }
  }
  return tf.tidy(() => {
    const img = options.normalize === true ? l2Normalize(imageFeatures) : imageFeatures;
    const txt = options.normalize === true ? l2Normalize(textFeatures) : textFeatures;
    let ls = tf.reshape(logitScale, []);
    if (max !== undefined) ls = tf.minimum(ls, max);
    const logitsPerImage = tf.mul(tf.exp(ls), similarity(img, txt)) as tf.Tensor2D;
    const logitsPerText = tf.transpose(logitsPerImage) as tf.Tensor2D;
    const loss = tf.div(
      tf.add(diagonalCrossEntropy(logitsPerImage), diagonalCrossEntropy(logitsPerText)),
      2,
    ) as tf.Scalar;
    return { loss, logitsPerImage, logitsPerText };
  });
}

/**
 * Clamps a log logit scale parameter in place to `[min, max]`, as open_clip's
 * training loop does after each optimiser step
 * (`logit_scale.clamp_(0, math.log(100))`). Accepts a `tf.Variable` or a
 * tfjs-layers `LayerVariable` (a module weight).
 */
export function clampLogitScale(
  logitScale: tf.Variable | LayerVariable,
  max: number = CLIP_MAX_LOG_LOGIT_SCALE,
  min = 0,
): void {
  if (!(Number.isFinite(max) && Number.isFinite(min) && min <= max)) {
    throw new Error(`clampLogitScale: need finite min <= max, got min=${min}, max=${max}`);
  }
  if (logitScale instanceof tf.Variable) {
    tf.tidy(() => logitScale.assign(tf.clipByValue(logitScale, min, max)));
    return;
  }
  if (logitScale && typeof (logitScale as LayerVariable).write === 'function') {
    const lv = logitScale as LayerVariable;
    tf.tidy(() => {
      lv.write(tf.clipByValue(lv.read(), min, max));
    });
    return;
  }
  throw new Error(`clampLogitScale: logitScale must be a tf.Variable or a LayerVariable, got ${typeof logitScale}`);
}
