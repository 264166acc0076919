import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../ops/matmul.js';

/**
 * Shared checks and maths of the losses. Input checks run before any tensor
 * work and throw an Error naming the function, the parameter, the value and
 * what was expected.
 */

/** Formats a shape for an error message. */
export function fmtShape(t: tf.Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

/** Throws unless `t` is a tf.Tensor of rank `rank`. */
export function checkRank(fn: string, name: string, t: unknown, rank: number, what: string): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor)) {
    throw new Error(`${fn}: ${name} must be a tf.Tensor ${what}, got ${typeof t}`);
  }
  if (t.rank !== rank) {
    throw new Error(`${fn}: ${name} must have rank ${rank} (${what}), got shape ${fmtShape(t)}`);
  }
  checkNotEmpty(fn, name, t);
}

/** Throws unless `t` is a tf.Tensor of at least rank `minRank`. */
export function checkMinRank(fn: string, name: string, t: unknown, minRank: number, what: string): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor)) {
    throw new Error(`${fn}: ${name} must be a tf.Tensor ${what}, got ${typeof t}`);
  }
  if (t.rank < minRank) {
    throw new Error(`${fn}: ${name} must have rank >= ${minRank} (${what}), got shape ${fmtShape(t)}`);
  }
  checkNotEmpty(fn, name, t);
}

/** Throws unless `b` has exactly the shape of `a`. */
/**
 * Refuses a disposed or empty tensor: every loss here is a mean over a batch,
 * undefined when it is empty (and tfjs-wasm's `sum` of an empty tensor
 * returns stale memory, a plausible finite loss).
 */
export function checkNotEmpty(fn: string, name: string, t: tf.Tensor): void {
  if (t.isDisposed) throw new Error(`${fn}: ${name} is a disposed tensor`);
  if (t.size === 0) throw new Error(`${fn}: ${name} is empty (shape ${fmtShape(t)}); the loss over an empty batch is undefined`);
}

export function checkSameShape(fn: string, nameA: string, a: tf.Tensor, nameB: string, b: tf.Tensor): void {
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new Error(
      `${fn}: ${nameB} must have the shape of ${nameA} ${fmtShape(a)}, got ${fmtShape(b)}`,
    );
  }
}

/** Throws unless `t` is a floating-point tensor. */
export function checkFloat(fn: string, name: string, t: tf.Tensor): void {
  if (t.dtype !== 'float32') {
    throw new Error(`${fn}: ${name} must be a float32 tensor, got dtype ${t.dtype}`);
  }
}

/** Throws unless `v` is a finite number > 0. */
export function checkPositive(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new Error(`${fn}: ${name} must be a finite number > 0, got ${String(v)}`);
  }
  return v;
}

/** Throws unless `v` is a finite number >= 0. */
export function checkNonNegative(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new Error(`${fn}: ${name} must be a finite number >= 0, got ${String(v)}`);
  }
  return v;
}

/** Throws unless `v` is an integer >= `min`. */
export function checkInteger(fn: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${fn}: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

/**
 * Divides each row (last axis) by `max(|row|, eps)`, as PyTorch's
 * `F.normalize(x, dim=-1, eps)` does.
 */
export function l2Normalize(x: tf.Tensor, eps = 1e-12): tf.Tensor {
  return tf.tidy(() => {
    // sqrt(max(|x|^2, eps^2)) = max(|x|, eps), but a zero row gets a zero
    // gradient (as in PyTorch) instead of sqrt's infinite slope at 0 times 0 = NaN.
    const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), eps * eps));
    return tf.div(x, norm);
  });
}

/**
 * Mean cross-entropy of `logits: [N, N]` with targets `0 .. N-1` (the
 * positives on the diagonal), through `logSoftmax` so that large logits are
 * stable. The diagonal is picked by a product with the identity (no gather,
 * whose gradient some backends lack).
 */
export function diagonalCrossEntropy(logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const n = logits.shape[0]!;
    const logp = tf.logSoftmax(logits, -1);
    return tf.neg(tf.div(tf.sum(tf.mul(logp, tf.eye(n))), n)) as tf.Scalar;
  });
}

/** `a @ b^T` for rank-2 operands, through the library's single matMul. */
export function similarity(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return matMul(a, b, false, true);
}
