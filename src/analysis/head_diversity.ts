import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../ops/matmul.js';
import { requireTensor } from '../utils/config.js';

/** Options of {@link attentionHeadDiversity}. */
export interface HeadDiversityOptions {
  /**
   * Probabilities are clamped below at this value before the logarithm, so a
   * zero probability (underflowed softmax) gives a finite divergence.
   * Default 1e-12.
   */
  eps?: number;
}

/**
 * Diversity of the heads of one attention layer, as "Revealing the Dark
 * Secrets of Masked Image Modeling" (Xie et al., 2022) measures it: the KL
 * divergence `KL(P_i || P_j) = sum_k P_i[k] (ln P_i[k] - ln P_j[k])` between
 * the attention distributions of heads `i != j` for the same query token,
 * averaged over all ordered head pairs and query tokens. Zero when all heads
 * attend alike; larger when heads differ.
 *
 * @param attn `[B, heads, T, T]` attention probabilities (rows sum to 1), at least 2 heads.
 * @returns `[B]`, in nats.
 */
export function attentionHeadDiversity(attn: tf.Tensor, options: HeadDiversityOptions = {}): tf.Tensor1D {
  requireTensor('attentionHeadDiversity', 'attn', attn);
  if (attn.rank !== 4 || attn.shape[2] !== attn.shape[3]) {
    throw new Error(`attentionHeadDiversity: attn must be [B, heads, T, T], got shape [${attn.shape}]`);
  }
  const [b, h, t] = attn.shape as [number, number, number, number];
  if (h < 2) throw new Error(`attentionHeadDiversity: attn must have at least 2 heads, got ${h} (shape [${attn.shape}])`);
  const eps = options.eps ?? 1e-12;
  if (!(eps > 0)) throw new Error(`attentionHeadDiversity: eps must be a positive number, got ${eps}`);
  return tf.tidy(() => {
    // Per query token: heads x keys.
    const p = tf.reshape(tf.transpose(attn, [0, 2, 1, 3]), [b * t, h, t]);
    const logP = tf.log(tf.maximum(p, eps));
    const negEntropy = tf.sum(tf.mul(p, logP), -1, true); // [bt, h, 1]: sum_k P_i ln P_i
    const cross = matMul(p, logP, false, true); // [bt, h, h]: sum_k P_i ln P_j
    const kl = tf.sub(negEntropy, cross);
    const offDiag = tf.sub(tf.ones([h, h]), tf.eye(h));
    const perToken = tf.div(tf.sum(tf.mul(kl, offDiag), [1, 2]), h * (h - 1));
    return tf.mean(tf.reshape(perToken, [b, t]), 1) as tf.Tensor1D;
  });
}
