/**
 * The evaluations that show what pretraining is worth (MAE, He et al. 2021,
 * sections 4-5): end-to-end fine-tuning of an encoder with a linear head on a
 * small labelled subset, and a linear probe on frozen features. Not part of
 * the library: examples only.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  BatchNorm1d,
  cosineSchedule,
  Linear,
  namedTrainableVariables,
  paramGroupsLrd,
  Rng,
  trainStep,
  type VisionTransformer,
} from '../../src/index.js';
import { Progress } from './runtime.js';

/** Images (flat NHWC) with their labels. */
export type LabelledImages = { images: Float32Array; labels: Int32Array; shape: readonly [number, number, number] };

/** Options of {@link fineTune}. */
export type FineTuneOptions = {
  /** Optimisation steps. */
  steps: number;
  /** Images per step. */
  batch: number;
  /** Peak learning rate (linear warm-up over 10% of the steps, then cosine). */
  lr: number;
  /** Layer-wise learning-rate decay (MAE fine-tuning: 0.75). */
  layerDecay: number;
  /** Seed of the head and the data order. */
  seed: number;
  /** Progress label. */
  label: string;
  /** A progress line every N steps when not on a terminal. */
  logEvery: number;
};

function rows(data: LabelledImages, idx: ArrayLike<number>): tf.Tensor4D {
  const [h, w, c] = data.shape;
  const per = h * w * c;
  const buf = new Float32Array(idx.length * per);
  for (let i = 0; i < idx.length; i++) buf.set(data.images.subarray(idx[i]! * per, (idx[i]! + 1) * per), i * per);
  return tf.tensor4d(buf, [idx.length, h, w, c]);
}

/**
 * Copies of every weight of `module` now; calling the result writes them
 * back (each fine-tuning run starts from the same weights). `dispose()`
 * frees the copies.
 */
export function snapshotWeights(module: { namedWeights(): Map<string, { read(): tf.Tensor; write(t: tf.Tensor): void }> }): {
  restore(): void;
  dispose(): void;
} {
  const copies = new Map([...module.namedWeights()].map(([k, w]) => [k, tf.clone(w.read())] as const));
  return {
    restore: () => {
      for (const [k, w] of module.namedWeights()) w.write(copies.get(k)!);
    },
    dispose: () => tf.dispose([...copies.values()]),
  };
}

/** Mean of the patch tokens (MAE's `global_pool`), `[B, D]`. */
function pooled(encoder: VisionTransformer, x: tf.Tensor4D, training: boolean): tf.Tensor2D {
  const tokens = encoder.forwardFeatures(x, { training }).tokens;
  const [b, t, d] = tokens.shape;
  const P = encoder.numPrefixTokens;
  return tf.mean(tf.slice(tokens, [0, P, 0], [b, t - P, d]), 1) as tf.Tensor2D;
}

/**
 * Fine-tunes `encoder` (in place) with a new linear head on the mean patch
 * token (standardised by a BatchNorm without affine, as MAE's linear probe
 * does), AdamW with MAE's layer-wise decay, cross-entropy; returns the
 * held-out accuracy on `test`.
 */
export function fineTune(encoder: VisionTransformer, train: LabelledImages, test: LabelledImages, numClasses: number, o: FineTuneOptions): number {
  const D = encoder.config.embedDim;
  // MAE's linear probe standardises the features with a BatchNorm without
  // affine before the head: a pretrained encoder's pooled features vary
  // little between images next to their common offset, and a plain linear
  // head on them barely moves in a short run.
  const bn = new BatchNorm1d({ numFeatures: D, affine: false });
  const head = new Linear({ inFeatures: D, outFeatures: numClasses, seed: o.seed });
  const classify = (x: tf.Tensor4D, training: boolean): tf.Tensor => head.forward(bn.forward(pooled(encoder, x, training), { training }));
  const vars = new Map([...namedTrainableVariables(encoder), ...[...namedTrainableVariables(head)].map(([k, v]) => [`head.${k}`, v] as const)]);
  const optimizer = new AdamW(paramGroupsLrd(vars, { numLayers: encoder.config.depth, layerDecay: o.layerDecay, weightDecay: 0.05 }), {
    lr: o.lr,
    betas: [0.9, 0.999],
  });
  const schedule = cosineSchedule({ baseLr: o.lr, warmupSteps: Math.round(0.1 * o.steps), totalSteps: o.steps + 1 });
  const rng = new Rng(o.seed);
  const n = train.labels.length;
  let order: number[] = [];
  const progress = new Progress(o.steps, { label: o.label, every: o.logEvery });
  let avg = 0;
  for (let step = 0; step < o.steps; step++) {
    if (order.length < o.batch) order = order.concat(rng.shuffle(Array.from({ length: n }, (_, i) => i)));
    const idx = order.splice(0, o.batch);
    const x = rows(train, idx);
    const y = tf.oneHot(tf.tensor1d(idx.map((i) => train.labels[i]!), 'int32'), numClasses);
    const yf = tf.cast(y, 'float32');
    const { loss } = trainStep(
      () => tf.losses.softmaxCrossEntropy(yf, classify(x, true)) as tf.Scalar,
      vars,
      optimizer,
      { lr: schedule(step + 1) },
    );
    tf.dispose([x, y, yf]);
    avg = step === 0 ? loss : 0.9 * avg + 0.1 * loss;
    progress.update(step + 1, { loss: loss.toFixed(4), avg: avg.toFixed(4) });
  }
  progress.finish();
  // Precise BatchNorm statistics (Wu & Johnson, "Rethinking 'Batch' in
  // BatchNorm", 2021): the running statistics were averaged with momentum
  // while the encoder moved, and a pretrained encoder's pooled features vary
  // so little next to their offset that the lag alone cost 10-18 points of
  // held-out accuracy here. Re-estimate them over the labelled images with
  // the final weights (a cumulative average, no gradient) before evaluating.
  const precise = new BatchNorm1d({ numFeatures: D, affine: false, momentum: null });
  for (let s = 0; s < n; s += 250) {
    const idx = Array.from({ length: Math.min(250, n - s) }, (_, i) => s + i);
    tf.tidy(() => precise.forward(pooled(encoder, rows(train, idx), false), { training: true }));
  }
  const acc = accuracy(test, (x) => head.forward(precise.forward(pooled(encoder, x, false), { training: false })), numClasses);
  optimizer.dispose();
  head.dispose();
  bn.dispose();
  precise.dispose();
  return acc;
}

/** Accuracy of `logits` over `data`, in batches of 250. */
function accuracy(data: LabelledImages, logits: (x: tf.Tensor4D) => tf.Tensor, numClasses: number): number {
  let correct = 0;
  const n = data.labels.length;
  for (let s = 0; s < n; s += 250) {
    const idx = Array.from({ length: Math.min(250, n - s) }, (_, i) => s + i);
    const pred = tf.tidy(() => tf.argMax(tf.reshape(logits(rows(data, idx)), [idx.length, numClasses]), 1));
    const p = pred.dataSync();
    pred.dispose();
    idx.forEach((i, j) => {
      if (p[j] === data.labels[i]) correct++;
    });
  }
  return correct / n;
}

/**
 * A linear probe in closed form: a ridge-regression classifier (one-vs-all
 * least squares on one-hot targets, features standardised with the training
 * mean and std, a bias column, penalty `lambda * n`), solved by Cholesky in
 * float64. Deterministic, no learning rate to tune; the prediction is the
 * arg-max score. Returns the accuracy on the test features.
 */
export function ridgeProbeAccuracy(
  trainFeats: Float32Array,
  trainLabels: Int32Array,
  testFeats: Float32Array,
  testLabels: Int32Array,
  numClasses: number,
  lambda = 1e-2,
): number {
  const n = trainLabels.length;
  const d = trainFeats.length / n;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += trainFeats[i * d + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) std[j]! += (trainFeats[i * d + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]!) + 1e-6;
  const m = d + 1;
  const row = (f: Float32Array, i: number): Float64Array => {
    const r = new Float64Array(m);
    for (let j = 0; j < d; j++) r[j] = (f[i * d + j]! - mean[j]!) / std[j]!;
    r[d] = 1;
    return r;
  };
  const A = new Float64Array(m * m);
  const B = new Float64Array(m * numClasses);
  for (let i = 0; i < n; i++) {
    const r = row(trainFeats, i);
    for (let a = 0; a < m; a++) {
      const ra = r[a]!;
      if (ra === 0) continue;
      for (let b = a; b < m; b++) A[a * m + b]! += ra * r[b]!;
      B[a * numClasses + trainLabels[i]!]! += ra;
    }
  }
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < a; b++) A[a * m + b] = A[b * m + a]!;
    if (a < d) A[a * m + a]! += lambda * n;
  }
  // Cholesky A = L L^T (in place, lower triangle), then two triangular solves per class.
  for (let j = 0; j < m; j++) {
    let s = A[j * m + j]!;
    for (let k = 0; k < j; k++) s -= A[j * m + k]! ** 2;
    const ljj = Math.sqrt(Math.max(s, 1e-12));
    A[j * m + j] = ljj;
    for (let i = j + 1; i < m; i++) {
      let t = A[i * m + j]!;
      for (let k = 0; k < j; k++) t -= A[i * m + k]! * A[j * m + k]!;
      A[i * m + j] = t / ljj;
    }
  }
  const W = new Float64Array(m * numClasses);
  for (let c = 0; c < numClasses; c++) {
    const z = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let t = B[i * numClasses + c]!;
      for (let k = 0; k < i; k++) t -= A[i * m + k]! * z[k]!;
      z[i] = t / A[i * m + i]!;
    }
    for (let i = m - 1; i >= 0; i--) {
      let t = z[i]!;
      for (let k = i + 1; k < m; k++) t -= A[k * m + i]! * W[k * numClasses + c]!;
      W[i * numClasses + c] = t / A[i * m + i]!;
    }
  }
  let correct = 0;
  const nt = testLabels.length;
  for (let i = 0; i < nt; i++) {
    const r = row(testFeats, i);
    let best = -Infinity;
    let arg = 0;
    for (let c = 0; c < numClasses; c++) {
      let s = 0;
      for (let a = 0; a < m; a++) s += r[a]! * W[a * numClasses + c]!;
      if (s > best) {
        best = s;
        arg = c;
      }
    }
    if (arg === testLabels[i]) correct++;
  }
  return correct / nt;
}
