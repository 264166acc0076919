/**
 * Frozen-feature evaluation for the examples: encoder features of a set of
 * images, and a weighted k-NN classifier on them (the k-NN monitor of
 * InstDisc, DINO and MAE-style reports: cosine similarity, the k nearest
 * training features vote with weight `exp(sim / T)`). No training, no
 * hyperparameter search, so pretrained and random encoders are compared on
 * equal terms.
 */
import * as tf from '@tensorflow/tfjs-core';
import { matMul, type VisionTransformer } from '../../src/index.js';

/** Which token summary of the encoder output is the image's feature. */
export type FeatureKind = 'mean' | 'cls';

/**
 * Encoder features of `count` images stored NHWC in `images`
 * (`[count, H, W, C]`, row-major), in batches, with NO masking (all patches
 * seen): the mean of the patch tokens (`mean`, after the final norm) or the
 * class token (`cls`).
 *
 * @returns `[count, D]`, row-major.
 */
export function encoderFeatures(
  encoder: VisionTransformer,
  images: Float32Array,
  shape: readonly [number, number, number, number],
  kind: FeatureKind,
  batchSize: number,
  onProgress?: (done: number, total: number) => void,
): Float32Array {
  const [count, h, w, c] = shape;
  const D = encoder.config.embedDim;
  const P = encoder.numPrefixTokens;
  if (kind === 'cls' && P === 0) throw new Error("encoderFeatures: kind 'cls' needs an encoder with a class token");
  const out = new Float32Array(count * D);
  const per = h * w * c;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const feats = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(start * per, (start + n) * per), [n, h, w, c]);
      const tokens = encoder.forward(x);
      const T = tokens.shape[1];
      return kind === 'cls'
        ? tf.reshape(tf.slice(tokens, [0, 0, 0], [n, 1, D]), [n, D])
        : tf.mean(tf.slice(tokens, [0, P, 0], [n, T - P, D]), 1);
    });
    out.set(feats.dataSync() as Float32Array, start * D);
    feats.dispose();
    onProgress?.(start + n, count);
  }
  return out;
}

/** Options of {@link knnAccuracy}. */
export interface KnnOptions {
  /** Neighbours that vote. Default 20 (DINO's k-NN monitor). */
  k?: number;
  /** Temperature of the vote weights `exp(sim / T)`. Default 0.07 (InstDisc, DINO). */
  temperature?: number;
  /** Number of classes. Default: 1 + the largest label. */
  numClasses?: number;
}

/**
 * Top-1 accuracy of a weighted k-NN classifier with cosine similarity: each
 * test feature's `k` most similar training features vote for their label with
 * weight `exp(sim / T)`.
 *
 * @param train `[nTrain, D]` features, `trainLabels` their labels.
 * @param test `[nTest, D]` features, `testLabels` their labels.
 * @returns accuracy in [0, 1].
 */
export function knnAccuracy(
  train: Float32Array,
  trainLabels: Int32Array,
  test: Float32Array,
  testLabels: Int32Array,
  options: KnnOptions = {},
): number {
  const nTrain = trainLabels.length;
  const nTest = testLabels.length;
  const D = train.length / nTrain;
  if (!Number.isInteger(D) || test.length !== nTest * D) {
    throw new Error(`knnAccuracy: features [${nTrain}, ?] and [${nTest}, ?] do not match their label counts`);
  }
  const k = Math.min(options.k ?? 20, nTrain);
  const T = options.temperature ?? 0.07;
  let numClasses = options.numClasses ?? 0;
  if (options.numClasses === undefined) for (const l of trainLabels) numClasses = Math.max(numClasses, l + 1);
  const top = tf.tidy(() => {
    const a = tf.tensor2d(test, [nTest, D]);
    const b = tf.tensor2d(train, [nTrain, D]);
    const an = tf.div(a, tf.add(tf.norm(a, 'euclidean', 1, true), 1e-12));
    const bn = tf.div(b, tf.add(tf.norm(b, 'euclidean', 1, true), 1e-12));
    const sims = matMul(an, bn, false, true);
    const t = tf.topk(sims, k);
    return [t.values, t.indices];
  });
  const values = top[0].dataSync() as Float32Array;
  const indices = top[1].dataSync() as Int32Array;
  tf.dispose(top);
  let correct = 0;
  const votes = new Float64Array(numClasses);
  for (let i = 0; i < nTest; i++) {
    votes.fill(0);
    for (let j = 0; j < k; j++) {
      votes[trainLabels[indices[i * k + j]!]!]! += Math.exp(values[i * k + j]! / T);
    }
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (votes[c]! > votes[best]!) best = c;
    if (best === testLabels[i]) correct++;
  }
  return correct / nTest;
}
