import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../matmul.js';

/**
 * Shared helpers of the gradient functions. Internal: not part of the public
 * API (the package exports only `ensureGradients`).
 */

/** A gradient registration, as `tf.registerGradient` takes it. */
export type GradConfig = tf.GradConfig;

/** Typed read of a kernel attribute (attributes arrive untyped). */
export function attr<T>(attrs: tf.NamedAttrMap, name: string): T {
  return attrs[name] as unknown as T;
}

/** The single upstream gradient of a one-output kernel. */
export function one(dy: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(dy) ? dy[0]! : dy;
}

/**
 * The upstream gradients of a multi-output kernel. The engine passes a bare
 * tensor when the kernel happened to produce a single output (e.g. unstack of
 * a size-1 axis), so normalise to an array.
 */
export function many(dy: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(dy) ? dy : [dy];
}

/** Float32 zeros: the engine requires every input gradient to be float32. */
export function zerosF(shape: number[]): tf.Tensor {
  return tf.zeros(shape, 'float32');
}

/** `x` as float32 (a no-op clone for float inputs). */
export function f32(x: tf.Tensor): tf.Tensor {
  return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

/**
 * Undoes broadcasting: sums `grad` (shaped like the broadcast output) over the
 * axes along which an input of shape `shape` was broadcast, then reshapes to
 * `shape`.
 */
export function reduceTo(grad: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, grad.shape);
  const summed = axes.length > 0 ? tf.sum(grad, axes) : grad;
  return tf.reshape(summed, shape);
}

/** Product of a list of dimensions (1 for an empty list). */
export function prod(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * `[n, depth]` float32 one-hot rows of the flat int `indices`; an index
 * outside `[0, depth)` gives a row of zeros. (tf.oneHot needs depth >= 2.)
 */
export function oneHotF(indices: tf.Tensor, depth: number): tf.Tensor {
  const flat = tf.reshape(indices.dtype === 'int32' ? indices : tf.cast(indices, 'int32'), [-1]);
  // int32 then cast: the WASM OneHot kernel writes int32 data whatever dtype
  // it is asked for, so a float32 request reads back as garbage there.
  if (depth >= 2) return tf.cast(tf.oneHot(flat as tf.Tensor1D, depth), 'float32');
  return tf.cast(tf.equal(tf.reshape(flat, [-1, 1]), tf.zeros([1, 1], 'int32')), 'float32');
}

/**
 * Above this many one-hot elements (`B * K * N`), {@link gatherParamsGrad}
 * scatters with the ScatterNd kernel instead, where the backend has it: the
 * one-hot product costs `K` times more arithmetic than a scatter-add, which
 * matters for large tables (a 50k-token vocabulary). Settable for tests.
 */
let oneHotLimit = 1 << 16;

/** Sets the one-hot size limit of {@link gatherParamsGrad}; returns the old one. */
export function setGatherOneHotLimit(limit: number): number {
  const old = oneHotLimit;
  oneHotLimit = limit;
  return old;
}

/**
 * Gradient of `tf.gather(params, indices, axis, batchDims)` with respect to
 * `params` (of shape `paramsShape`), given the output gradient `dy`.
 *
 * Why a one-hot product: tfjs's own gradient scatters with
 * UnsortedSegmentSum, which the WASM backend lacks. Writing the scatter as
 * `oneHot(indices)^T @ dy` (summing duplicate indices, as a scatter-add must)
 * needs only OneHot and a matrix product, which every backend has.
 *
 * With `B` the batch size (product of the first `batchDims` axes), `O` the
 * outer size (axes between the batch axes and `axis`), `N = paramsShape[axis]`,
 * `K` the number of indices per batch and `R` the inner size: `dy` is viewed as
 * `[B, O, K, R]` and the result `[B, O, N, R]` is `onehot[B, K, N]^T` times
 * `dy[B, K, O*R]`.
 */
export function gatherParamsGrad(
  paramsShape: number[],
  indices: tf.Tensor,
  dy: tf.Tensor,
  axis: number,
  batchDims: number,
): tf.Tensor {
  const rank = paramsShape.length;
  const a = axis < 0 ? axis + rank : axis;
  const bd = batchDims < 0 ? batchDims + indices.rank : batchDims;
  const B = prod(paramsShape.slice(0, bd));
  const O = prod(paramsShape.slice(bd, a));
  const N = paramsShape[a]!;
  const R = prod(paramsShape.slice(a + 1));
  const K = prod(indices.shape.slice(bd));
  if (B * K === 0 || N === 0 || O * R === 0) return zerosF(paramsShape);
  if (B * K * N > oneHotLimit && tf.getKernel('ScatterNd', tf.getBackend()) !== undefined) {
    return scatterParamsGrad(paramsShape, indices, dy, B, O, N, R, K);
  }
  const oh = oneHotF(indices, N); // [B*K, N]
  let d = tf.reshape(dy, [B, O, K, R]);
  if (O > 1) d = tf.transpose(d, [0, 2, 1, 3]); // [B, K, O, R]
  let g =
    B === 1
      ? matMul(oh, tf.reshape(d, [K, O * R]), true, false) // [N, O*R]
      : matMul(tf.reshape(oh, [B, K, N]), tf.reshape(d, [B, K, O * R]), true, false); // [B, N, O*R]
  g = tf.reshape(g, [B, N, O, R]);
  if (O > 1) g = tf.transpose(g, [0, 2, 1, 3]);
  return tf.reshape(g, paramsShape);
}

/**
 * The same scatter-add with the ScatterNd kernel (which sums repeated
 * indices on cpu, wasm, webgl and webgpu): row `(b*O + o)*N + indices[b, k]`
 * of the flat `[B*O*N, R]` gradient receives `dy[b, o, k, :]`.
 */
function scatterParamsGrad(
  paramsShape: number[],
  indices: tf.Tensor,
  dy: tf.Tensor,
  B: number,
  O: number,
  N: number,
  R: number,
  K: number,
): tf.Tensor {
  const ids = tf.reshape(indices.dtype === 'int32' ? indices : tf.cast(indices, 'int32'), [B, 1, K]);
  const base = tf.mul(tf.reshape(tf.range(0, B * O, 1, 'int32'), [B, O, 1]), tf.scalar(N, 'int32'));
  const rows = tf.reshape(tf.add(base, ids), [B * O * K, 1]);
  const g = tf.scatterND(rows, tf.reshape(dy, [B * O * K, R]), [B * O * N, R]);
  return tf.reshape(g, paramsShape);
}
