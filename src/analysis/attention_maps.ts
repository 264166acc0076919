import * as tf from '@tensorflow/tfjs-core';
import { describeValue, requireTensor } from '../utils/config.js';

/**
 * Anything with a ViT-style `forwardFeatures` that can return per-layer
 * attention, such as `VisionTransformer`.
 */
export interface AttentionSource {
  /** Runs the encoder; with `returnAttention` it must return one `[B, heads, T, T]` map per block. */
  forwardFeatures(
    imgs: tf.Tensor,
    options: { returnAttention?: boolean },
  ): { tokens: tf.Tensor; attentions?: tf.Tensor[] };
}

/**
 * The attention probabilities of every block of a model on some images, in
 * evaluation mode (what ViT's and "Dark secrets of MIM"'s attention figures
 * show).
 *
 * @param imgs `[B, H, W, C]` (NHWC).
 * @returns one `[B, heads, T, T]` tensor per block (the caller disposes them).
 */
export function attentionMaps(model: AttentionSource, imgs: tf.Tensor): tf.Tensor4D[] {
  if (model === null || typeof model !== 'object' || typeof (model as { forwardFeatures?: unknown }).forwardFeatures !== 'function') {
    throw new Error(`attentionMaps: model must have forwardFeatures (a VisionTransformer), got ${describeValue(model)}`);
  }
  requireTensor('attentionMaps', 'imgs', imgs);
  const r = model.forwardFeatures(imgs, { returnAttention: true });
  r.tokens.dispose();
  if (!r.attentions) throw new Error('attentionMaps: the model returned no attentions for returnAttention: true');
  return r.attentions as tf.Tensor4D[];
}
