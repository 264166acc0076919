import * as tf from '@tensorflow/tfjs-core';
import { requireTensor } from '../utils/config.js';

/** Result of {@link clipGradNorm}. */
export interface ClippedGrads<T extends tf.NamedTensorMap | tf.Tensor[]> {
  /** The scaled gradients: new tensors, same keys or order; the caller disposes them. */
  grads: T;
  /** Global L2 norm of the gradients before clipping. */
  totalNorm: number;
}

/** sqrt(sum_i ||g_i||^2): the 2-norm of the stacked per-tensor 2-norms. */
function normTensor(grads: tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(tf.cast(g, 'float32')))))));
}

/**
 * Global L2 norm of a set of gradients, `sqrt(sum_i ||g_i||^2)` (the
 * `total_norm` of PyTorch's `clip_grad_norm_`, which recipes log); 0 for an
 * empty set.
 */
export function globalGradNorm(grads: tf.NamedTensorMap | tf.Tensor[]): number {
  checkGrads('globalGradNorm', grads);
  const list = Array.isArray(grads) ? grads : Object.values(grads);
  if (list.length === 0) return 0;
  const t = normTensor(list);
  const n = t.dataSync()[0]!;
  t.dispose();
  return n;
}

/**
 * Clips gradients by their global L2 norm, as PyTorch's
 * `torch.nn.utils.clip_grad_norm_` (used by MAE fine-tuning, BEiT, DINO,
 * CLIP): `total = sqrt(sum_i ||g_i||^2)`, every gradient is multiplied by
 * `min(1, maxNorm / (total + 1e-6))`. A non-finite total propagates into the
 * gradients, as PyTorch does by default (`error_if_nonfinite=False`).
 *
 * Gradient clipping for deep networks: Pascanu et al., "On the difficulty of
 * training recurrent neural networks", ICML 2013.
 *
 * @param grads gradients by name (as `tf.variableGrads` returns) or as a
 *   list; not disposed.
 * @param maxNorm largest allowed global norm, > 0.
 */
export function clipGradNorm<T extends tf.NamedTensorMap | tf.Tensor[]>(grads: T, maxNorm: number): ClippedGrads<T> {
  checkGrads('clipGradNorm', grads);
  if (!Number.isFinite(maxNorm) || maxNorm <= 0) {
    throw new Error(`clipGradNorm: maxNorm must be a finite number > 0, got ${maxNorm}`);
  }
  const isList = Array.isArray(grads);
  const entries: [string, tf.Tensor][] = isList
    ? (grads as tf.Tensor[]).map((g, i) => [String(i), g])
    : Object.entries(grads as tf.NamedTensorMap);
  if (entries.length === 0) {
    return { grads: (isList ? [] : {}) as T, totalNorm: 0 };
  }
  const [scaled, total] = tf.tidy(() => {
    const totalNorm = normTensor(entries.map(([, g]) => g));
    const coef = tf.minimum(tf.div(maxNorm, tf.add(totalNorm, 1e-6)), 1);
    const out = entries.map(([, g]) => tf.mul(tf.cast(g, 'float32'), coef));
    return [out, totalNorm] as [tf.Tensor[], tf.Tensor];
  });
  const totalNorm = total.dataSync()[0]!;
  total.dispose();
  if (isList) return { grads: scaled as T, totalNorm };
  const named: tf.NamedTensorMap = {};
  entries.forEach(([k], i) => {
    named[k] = scaled[i]!;
  });
  return { grads: named as T, totalNorm };
}

/** `grads` must be a list or name map of live tensors. */
function checkGrads(fn: string, grads: unknown): void {
  if (grads === null || typeof grads !== 'object') {
    throw new Error(`${fn}: grads must be a tf.NamedTensorMap or a tf.Tensor[], got ${grads === null ? 'null' : typeof grads}`);
  }
  for (const [k, g] of Object.entries(grads as Record<string, unknown>)) requireTensor(fn, `grads['${k}']`, g);
}
