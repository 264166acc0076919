import * as tf from '@tensorflow/tfjs-core';

/**
 * Host copies of the small tensors that the library reads on the CPU to
 * validate or index with (token ids, masks, labels, kept-patch indices),
 * one per tensor object.
 *
 * Why: a training loop often passes the same ids or mask tensor at every
 * step. The first read costs nothing on a GPU backend (a tensor made from an
 * array keeps its values on the CPU until a kernel uploads it), but once a
 * kernel has used it, every further `dataSync` is a synchronous GPU read
 * back: slow on WebGL, and on WebGPU it can lose the device. A tfjs tensor
 * is immutable (a `tf.Variable` is not, and is never cached), so its values
 * read once stay right for its whole life; the cache holds the tensor weakly
 * and adds no state a caller could observe.
 */
const cache = new WeakMap<tf.Tensor, tf.TypedArray>();

/** The values of `t` on the host, read once per tensor object (see above). Do not modify the result. */
export function hostValues(t: tf.Tensor): tf.TypedArray {
  if (t instanceof tf.Variable) return t.dataSync();
  let v = cache.get(t);
  if (v === undefined) {
    v = t.dataSync();
    cache.set(t, v);
  }
  return v;
}
