import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { matMul } from '../ops/matmul.js';
import { checkFloat, checkPositive, checkRank, checkSameShape, diagonalCrossEntropy, l2Normalize } from './common.js';
import { stopGradient } from './stop_gradient.js';

/** Options of {@link infoNCELoss}. */
export interface InfoNCELossOptions {
  /**
   * Softmax temperature `T` (logits are similarities / T). Default `0.1`:
   * the 0.1-0.2 range of SimCLR and MoCo v2 (MoCo v1 used 0.07).
   */
  temperature?: number;
  /**
   * Explicit negatives `[K, D]` (MoCo v1/v2's queue of past keys). When set,
   * each query's logits are `[q.k_i, q.n_1, ..., q.n_K]` with the positive in
   * column 0; when unset, the other rows of `keys` are the negatives and the
   * positives lie on the diagonal of `q k^T` (in-batch negatives). Default
   * unset. The queue is a buffer: no gradient reaches it.
   */
  negatives?: tf.Tensor;
  /**
   * L2-normalise queries, keys and negatives first (cosine similarity), as
   * SimCLR and MoCo do. Default `true`.
   */
  normalize?: boolean;
  /**
   * Stop the gradient at `keys`, as MoCo does (its keys come from the momentum
   * encoder under `no_grad`). Default `false` (SimCLR: both views learn).
   */
  stopGradientKeys?: boolean;
}

/**
 * InfoNCE (van den Oord et al. 2018, "Representation Learning with
 * Contrastive Predictive Coding"; the loss of SimCLR, Chen et al. 2020, and
 * MoCo v1/v2, He et al. 2020): the mean over queries of the cross-entropy of
 * the positive among the negatives, with logits = similarity / temperature.
 * Computed with `logSoftmax` (stable for small temperatures).
 *
 * Shapes: `query`, `keys: [N, D]` (row `i` of `keys` is the positive of query
 * `i`); `options.negatives: [K, D]`. Returns a scalar.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { infoNCELoss } from 'mimkit';
 *
 * const q = tf.randomNormal([8, 32]);
 * const k = tf.randomNormal([8, 32]); // row i of k is the positive of row i of q
 * infoNCELoss(q, k, { temperature: 0.1 }).print();
 * ```
 */
export function infoNCELoss(query: tf.Tensor, keys: tf.Tensor, options: InfoNCELossOptions = {}): tf.Scalar {
  ensureGradients();
  const fn = 'infoNCELoss';
  checkRank(fn, 'query', query, 2, '[N, D] query embeddings');
  checkFloat(fn, 'query', query);
  checkRank(fn, 'keys', keys, 2, '[N, D] positive key embeddings');
  checkSameShape(fn, 'query', query, 'keys', keys);
  checkFloat(fn, 'keys', keys);
  const t = checkPositive(fn, 'options.temperature', options.temperature ?? 0.1);
  const neg = options.negatives;
  if (neg !== undefined) {
    checkRank(fn, 'options.negatives', neg, 2, '[K, D] negative keys (a queue)');
    checkFloat(fn, 'options.negatives', neg);
    if (neg.shape[1] !== query.shape[1]) {
      throw new Error(`${fn}: options.negatives must be [K, D=${query.shape[1]}], got [${neg.shape.join(', ')}]`);
    }
  }
  const normalize = options.normalize ?? true;
  return tf.tidy(() => {
    const k0 = options.stopGradientKeys === true ? stopGradient(keys) : keys;
    const q = normalize ? l2Normalize(query) : query;
    const k = normalize ? l2Normalize(k0) : k0;
    if (neg === undefined) return diagonalCrossEntropy(tf.div(matMul(q, k, false, true), t));
    const n = normalize ? l2Normalize(stopGradient(neg)) : stopGradient(neg);
    const pos = tf.sum(tf.mul(q, k), -1, true);
    const logits = tf.div(tf.concat([pos, matMul(q, n, false, true)], 1), t);
    const logp = tf.logSoftmax(logits, -1);
    return tf.neg(tf.mean(tf.slice(logp, [0, 0], [-1, 1]))) as tf.Scalar;
  });
}
