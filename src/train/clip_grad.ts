import * as tf from '@tensorflow/tfjs-core';

/** Result of {@link clipGradNorm}. */
export interface ClippedGrads<T extends tf.NamedTensorMap | tf.Tensor[]> {
  /** The scaled gradients: new tensors, same keys or order; the caller disposes them. */
  grads: T;
  /** Global L2 norm of the gradients before clipping. */
  totalNorm: number;
}

/**
 * sqrt(sum_i ||g_i||^2): the 2-norm of the stacked per-tensor 2-norms. The
 * squares are summed pairwise, not with `tf.addN`: tfjs-webgpu's AddN binds
 * every input as a storage buffer and silently computes garbage beyond the
 * device's limit (8-10 buffers), which made clipping wrong on WebGPU.
 * @internal
 */
export function normTensor(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (grads.length === 0) return tf.scalar(0);
    let terms = grads.map((g) => tf.sum(tf.square(tf.cast(g, 'float32'))));
    while (terms.length > 1) {
      const next: tf.Tensor[] = [];
      for (let i = 0; i < terms.length; i += 2) next.push(i + 1 < terms.length ? tf.add(terms[i]!, terms[i + 1]!) : terms[i]!);
      terms = next;
    }
    return tf.sqrt(terms[0]!) as tf.Scalar;
  });
}

/**
 * Global L2 norm of a set of gradients, `sqrt(sum_i ||g_i||^2)` (the
 * `total_norm` of PyTorch's `clip_grad_norm_`, which recipes log); 0 for an
 * empty set.
 */
export function globalGradNorm(grads: tf.NamedTensorMap | tf.Tensor[]): number {
  if (grads === null || typeof grads !== 'object') throw new Error(`globalGradNorm: grads must be an array or a name-to-tensor map of tf.Tensors, got ${grads === null ? 'null' : typeof grads}`);
  const list = Array.isArray(grads) ? grads : Object.values(grads);
  if (list.length === 0) return 0;
  const t = normTensor(list);
  const n = t.dataSync()[0]!;
  t.dispose();
  return n;
}

/**
 * {@link globalGradNorm} read back asynchronously (`data()`, never
 * `dataSync()`): for WebGL and WebGPU in a browser, where a synchronous read
 * stalls the page and, on WebGPU, can lose the device.
 */
export async function globalGradNormAsync(grads: tf.NamedTensorMap | tf.Tensor[]): Promise<number> {
  const list = Array.isArray(grads) ? grads : Object.values(grads);
  if (list.length === 0) return 0;
  const t = normTensor(list);
  try {
    return (await t.data())[0]!;
  } finally {
    t.dispose();
  }
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
  const { grads: scaled, totalNorm } = clipGradNormTensor('clipGradNorm', grads, maxNorm);
  const n = totalNorm.dataSync()[0]!;
  totalNorm.dispose();
  return { grads: scaled, totalNorm: n };
}

/**
 * {@link clipGradNorm} whose norm is read back asynchronously (`data()`,
 * never `dataSync()`), for WebGL and WebGPU in a browser. The scaled
 * gradients are computed (queued) before the read, so the backend keeps
 * working while the norm travels back.
 */
export async function clipGradNormAsync<T extends tf.NamedTensorMap | tf.Tensor[]>(
  grads: T,
  maxNorm: number,
): Promise<ClippedGrads<T>> {
  const { grads: scaled, totalNorm } = clipGradNormTensor('clipGradNormAsync', grads, maxNorm);
  try {
    return { grads: scaled, totalNorm: (await totalNorm.data())[0]! };
  } catch (e) {
    tf.dispose(scaled as tf.Tensor[] | tf.NamedTensorMap);
    throw e;
  } finally {
    totalNorm.dispose();
  }
}

/**
 * The work of {@link clipGradNorm} without any read back: the scaled
 * gradients and the total norm as a scalar tensor (both the caller's).
 * @internal
 */
export function clipGradNormTensor<T extends tf.NamedTensorMap | tf.Tensor[]>(
  fn: string,
  grads: T,
  maxNorm: number,
): { grads: T; totalNorm: tf.Scalar } {
  if (!Number.isFinite(maxNorm) || maxNorm <= 0) {
    throw new Error(`${fn}: maxNorm must be a finite number > 0, got ${maxNorm}`);
  }
  const isList = Array.isArray(grads);
  const entries: [string, tf.Tensor][] = isList
    ? (grads as tf.Tensor[]).map((g, i) => [String(i), g])
    : Object.entries(grads as tf.NamedTensorMap);
  if (entries.length === 0) {
    return { grads: (isList ? [] : {}) as T, totalNorm: tf.scalar(0) };
  }
  const [scaled, total] = tf.tidy(() => {
    const totalNorm = normTensor(entries.map(([, g]) => g));
    const coef = tf.minimum(tf.div(maxNorm, tf.add(totalNorm, 1e-6)), 1);
    const out = entries.map(([, g]) => tf.mul(tf.cast(g, 'float32'), coef));
    return [out, totalNorm] as [tf.Tensor[], tf.Tensor];
  });
  if (isList) return { grads: scaled as T, totalNorm: total as tf.Scalar };
  const named: tf.NamedTensorMap = {};
  entries.forEach(([k], i) => {
    named[k] = scaled[i]!;
  });
  return { grads: named as T, totalNorm: total as tf.Scalar };
}
