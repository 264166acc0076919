import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { checkFloat, checkMinRank, fmtShape } from './common.js';
import { hostValues } from '../utils/host_values.js';

/** Options of {@link maskedCrossEntropy}. */
export interface MaskedCrossEntropyOptions {
  /**
   * Label value whose rows take no part in the loss (nor in the mean's
   * count). Default `-100`, PyTorch `CrossEntropyLoss`'s `ignore_index`, so
   * a `[B, L]` label map can mark the unmasked patches with it.
   */
  ignoreIndex?: number;
  /**
   * Check, before any tensor work, that every label is `ignoreIndex` or in
   * `[0, V)` and that at least one is not ignored. This READS the labels
   * back (`dataSync`, one int32 per row): negligible on CPU/WASM, a
   * synchronisation on WebGL/WebGPU. Default `true`. With `false` a label
   * past the vocabulary contributes 0 to the loss and all-ignored labels
   * give NaN.
   */
  validate?: boolean;
}

/**
 * BEiT's masked image modeling loss (Bao et al. 2022, "BEiT: BERT
 * Pre-Training of Image Transformers", `engine_for_pretraining.py`): the mean
 * cross-entropy `-log_softmax(logits)[label]` over the rows whose label is
 * not `ignoreIndex` (PyTorch `CrossEntropyLoss(ignore_index)` semantics).
 * BEiT applies it to the logits of the masked patches only (`[M, V]` and
 * `[M]`); a full `[B, L, V]` / `[B, L]` pair with `ignoreIndex` on the visible
 * patches gives the same value. Numerically stable (`logSoftmax`); the label
 * is picked by a one-hot product (no gather). If every label is ignored the
 * result is NaN, as in PyTorch. Labels outside `[0, V)` other than
 * `ignoreIndex` contribute nothing (they are not checked, to avoid a device
 * read).
 *
 * Shapes: `logits: [..., V]` float32; `labels: [...]` int32. Returns a scalar.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { maskedCrossEntropy } from 'mimkit';
 *
 * const logits = tf.zeros([3, 4]); // uniform over 4 classes
 * const labels = tf.tensor1d([2, -100, 0], 'int32'); // -100 = not a prediction target
 * maskedCrossEntropy(logits, labels).print(); // log(4) = 1.386, over the 2 labelled rows
 * ```
 */
export function maskedCrossEntropy(
  logits: tf.Tensor,
  labels: tf.Tensor,
  options: MaskedCrossEntropyOptions = {},
): tf.Scalar {
  ensureGradients();
  const fn = 'maskedCrossEntropy';
  checkMinRank(fn, 'logits', logits, 1, '[..., V] class scores');
  checkFloat(fn, 'logits', logits);
  if (!(labels instanceof tf.Tensor)) {
    throw new Error(`${fn}: labels must be an int32 tf.Tensor, got ${typeof labels}`);
  }
  const lead = logits.shape.slice(0, -1);
  if (!tf.util.arraysEqual(labels.shape, lead)) {
    throw new Error(
      `${fn}: labels must have shape [${lead.join(', ')}] (logits' shape without the class axis), got ${fmtShape(labels)}`,
    );
  }
  if (labels.dtype !== 'int32') {
    throw new Error(`${fn}: labels must be an int32 tensor of class ids, got dtype ${labels.dtype}`);
  }
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) {
    throw new Error(`${fn}: options.ignoreIndex must be an integer, got ${String(ignoreIndex)}`);
  }
  const v = logits.shape[logits.rank - 1]!;
  const rows = labels.size;
  if (rows === 0) {
    throw new Error(`${fn}: no rows (labels shape ${fmtShape(labels)}); the mean over zero rows is undefined`);
  }
  if (v === 0) throw new Error(`${fn}: logits have 0 classes (shape ${fmtShape(logits)})`);
  const validate = options.validate ?? true;
  if (typeof validate !== 'boolean') throw new Error(`${fn}: options.validate must be a boolean, got ${String(validate)}`);
  if (validate) {
    // One read of the labels: a label past the vocabulary would otherwise
    // give an all-zero one-hot row and a silently wrong (zero) loss.
    const ids = hostValues(labels);
    let counted = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === ignoreIndex) continue;
      if (id < 0 || id >= v) {
        throw new Error(`${fn}: label ${id} at flat position ${i} is outside [0, ${v}) (the class axis of logits) and is not ignoreIndex ${ignoreIndex}`);
      }
      counted++;
    }
    if (counted === 0) {
      throw new Error(`${fn}: every one of the ${rows} labels is ignoreIndex ${ignoreIndex}; the mean over zero rows is undefined`);
    }
  }
  return tf.tidy(() => {
    const flatLogits = tf.reshape(logits, [-1, v]);
    const flatLabels = tf.reshape(labels, [-1]);
    const valid = tf.cast(tf.notEqual(flatLabels, ignoreIndex), 'float32');
    // oneHot gives an all-zero row for ids outside [0, V) (e.g. -100); it is
    // made int32 and cast, as the WASM kernel ignores a float32 dtype.
    const target = tf.mul(tf.cast(tf.oneHot(flatLabels, v), 'float32'), tf.expandDims(valid, 1));
    const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(flatLogits, -1), target)));
    return tf.div(nll, tf.sum(valid)) as tf.Scalar;
  });
}
