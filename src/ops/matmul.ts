import * as tf from '@tensorflow/tfjs-core';
import { describeValue } from '../utils/config.js';

/**
 * Every matrix product of the library goes through this file, so that the
 * backend-specific fast paths live in one place.
 *
 * Why: on the WASM backend a rank-2 product without transpose flags runs
 * about 10x faster than a transposed or batched one, and tfjs's own matMul
 * gradient uses the transpose flags. So on WASM we transpose explicitly, and
 * the gradient (ours, via `customGrad`) is written with the same helper.
 */

let explicitTransposeOverride: boolean | undefined;
let batchedPathOverride: BatchedPath | undefined;

/**
 * How a batched product (rank >= 3, more than one matrix) is computed:
 * - `'matmul'`: tfjs's `BatchMatMul` kernel;
 * - `'depthwise'`: as a depthwise convolution (see {@link matMul}).
 */
export type BatchedPath = 'matmul' | 'depthwise';

/**
 * Forces (true) or forbids (false) explicit transposes instead of matMul's
 * transpose flags; `undefined` restores the default (explicit on `wasm`).
 * Meant for benchmarks and tests that compare the two paths.
 */
export function setExplicitTranspose(value: boolean | undefined): void {
  if (value !== undefined && typeof value !== 'boolean') throw new Error(`setExplicitTranspose: value must be a boolean or undefined, got ${describeValue(value)}`);
  explicitTransposeOverride = value;
}

/**
 * Forces how batched products are computed (`'matmul'` or `'depthwise'`, on
 * any backend); `undefined` restores the default (`'depthwise'` on `wasm`,
 * `'matmul'` elsewhere). Meant for benchmarks and tests that compare the two.
 */
export function setBatchedMatMulPath(value: BatchedPath | undefined): void {
  if (value !== undefined && value !== 'matmul' && value !== 'depthwise') {
    throw new Error(`setBatchedMatMulPath: value must be 'matmul', 'depthwise' or undefined, got ${describeValue(value)}`);
  }
  batchedPathOverride = value;
}

function useExplicitTranspose(): boolean {
  if (explicitTransposeOverride !== undefined) return explicitTransposeOverride;
  return tf.getBackend() === 'wasm';
}

function useDepthwise(): boolean {
  if (batchedPathOverride !== undefined) return batchedPathOverride === 'depthwise';
  return tf.getBackend() === 'wasm';
}

function swapLast(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = x.rank;
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/**
 * `op(a) @ op(b)` for `C` matrices at once (`a`, `b` of rank >= 3 with equal
 * leading dimensions, flattened to `C`), as one depthwise convolution.
 * With `A = op(a)` `[C, n, m]` and `B = op(b)` `[C, m, k]`: the input is `A`
 * laid out `[1, n, m, C]` (rows as height, the contracted axis as width, one
 * channel per matrix), the filter is `B` laid out `[1, m, C, k]` (a `1 x m`
 * window, channel multiplier `k`), and a `'valid'` convolution leaves width 1:
 * `out[0, i, 0, c k + j] = sum_t A[c, i, t] B[c, t, j]`. The transpose flags
 * are folded into the layout permutations. On tfjs-wasm this runs through
 * XNNPACK's grouped convolution, several times faster than its
 * `BatchMatMul`, which multiplies batched matrices in a scalar loop.
 */
function depthwiseBatchedMatMul(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor {
  return tf.tidy(() => {
    const lead = a.shape.slice(0, -2);
    const C = lead.reduce((p, q) => p * q, 1);
    const [a1, a2] = a.shape.slice(-2) as [number, number];
    const [b1, b2] = b.shape.slice(-2) as [number, number];
    const n = ta ? a2 : a1;
    const m = ta ? a1 : a2;
    const k = tb ? b1 : b2;
    const a3 = tf.reshape(a, [C, a1, a2]);
    const b3 = tf.reshape(b, [C, b1, b2]);
    // x[i, t, c] = A[c, i, t]; f[t, c, j] = B[c, t, j].
    const x = tf.reshape(tf.transpose(a3, ta ? [2, 1, 0] : [1, 2, 0]), [1, n, m, C]) as tf.Tensor4D;
    const f = tf.reshape(tf.transpose(b3, tb ? [2, 0, 1] : [1, 0, 2]), [1, m, C, k]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(x, f, 1, 'valid');
    return tf.reshape(tf.transpose(tf.reshape(out, [n, C, k]), [1, 0, 2]), [...lead, n, k]);
  });
}

/** The forward product, with flags or explicit transposes by backend. */
function rawMatMul(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor {
  if (a.rank >= 3 && useDepthwise() && a.shape.slice(0, -2).every((d, i) => d === b.shape[i])) {
    const C = a.shape.slice(0, -2).reduce((p, q) => p * q, 1);
    if (C > 1 && a.size > 0 && b.size > 0) return depthwiseBatchedMatMul(a, b, ta, tb);
  }
  if (useExplicitTranspose() && (ta || tb)) {
    if (ta && !tb && a.rank === 2 && a.shape[1]! < b.shape[1]!) {
      // A weight gradient `a^T b` with `a` [R, m], `b` [R, n], m < n:
      // computed as `(b^T a)^T`. XNNPACK packs its right operand on every
      // call (a fresh tensor each step), so the narrower one goes there:
      // [1088, 192] x [1088, 768] took 25 ms instead of 38.
      return tf.tidy(() => swapLast(tf.matMul(swapLast(b), a)));
    }
    return tf.tidy(() => tf.matMul(ta ? swapLast(a) : a, tb ? swapLast(b) : b));
  }
  return tf.matMul(a, b, ta, tb);
}

type MatMulFn = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
const variants = new Map<string, MatMulFn>();

function variant(ta: boolean, tb: boolean): MatMulFn {
  const key = `${ta}${tb}`;
  let fn = variants.get(key);
  if (fn === undefined) {
    fn = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      save([a, b]);
      return {
        value: rawMatMul(a, b, ta, tb),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sa, sb] = saved as [tf.Tensor, tf.Tensor];
          // c = op(a) op(b); the four cases of the chain rule.
          if (!ta && !tb) return [rawMatMul(dy, sb, false, true), rawMatMul(sa, dy, true, false)];
          if (!ta && tb) return [rawMatMul(dy, sb, false, false), rawMatMul(dy, sa, true, false)];
          if (ta && !tb) return [rawMatMul(sb, dy, false, true), rawMatMul(sa, dy, false, false)];
          return [rawMatMul(sb, dy, true, true), rawMatMul(dy, sa, true, true)];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as MatMulFn;
    variants.set(key, fn);
  }
  return fn;
}

/**
 * Matrix product `op(a) @ op(b)` of two tensors of equal rank (2 or more;
 * leading dimensions are batch dimensions and must be equal), where `op`
 * transposes the last two axes when the flag is set. Gradients flow to both
 * operands on every backend.
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (!(a instanceof tf.Tensor)) throw new Error(`matMul: a must be a tf.Tensor, got ${describeValue(a)}`);
  if (!(b instanceof tf.Tensor)) throw new Error(`matMul: b must be a tf.Tensor, got ${describeValue(b)}`);
  if (a.rank < 2 || a.rank !== b.rank) {
    throw new Error(
      `matMul: operands must have equal rank >= 2, got a.shape=[${a.shape}] and b.shape=[${b.shape}]`,
    );
  }
  return variant(transposeA, transposeB)(a, b);
}

/**
 * Sum over every axis but the last, `[..., D]` -> `[D]` (a bias or
 * LayerNorm-affine gradient). On WASM it is an average pooling over the
 * rows (`[1, R, 1, D]`, window `R x 1`) times `R`: XNNPACK reads the rows
 * once, vectorised over `D`, where `Sum` over a leading axis transposes first
 * and a product `ones[1, R] @ t` packs `t` as its right operand
 * (`[4160, 512]`: 1.0 ms against 4.5 ms and 30 ms). Elsewhere it is
 * `ones[1, R] @ t`.
 */
export function sumRows(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d = t.shape[t.rank - 1]!;
    const r = d === 0 ? 0 : t.size / d;
    if (r === 0) return tf.zeros([d]);
    if (tf.getBackend() === 'wasm') {
      const mean = tf.avgPool(tf.reshape(t, [1, r, 1, d]) as tf.Tensor4D, [r, 1], 1, 'valid');
      return tf.reshape(tf.mul(mean, r), [d]);
    }
    const rows = tf.reshape(t, [r, d]);
    return tf.reshape(tf.matMul(tf.ones([1, r]), rows), [d]);
  });
}

/**
 * `x W + b` for rank-2 `x`, with the bias added inside the product
 * (`tf.fused.matMul`: on WASM, XNNPACK starts its accumulators at the bias,
 * saving a pass over the output) and its own gradient, whose products take
 * the same backend-aware path as {@link matMul}'s.
 */
const linearWithBias = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b }),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor, tf.Tensor];
      return [rawMatMul(dy, sw, false, true), rawMatMul(sx, dy, true, false), sumRows(dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/**
 * A linear map `y = x W + b` over the last axis: `x` is `[..., in]`, `weight`
 * is `[in, out]` (tfjs layout; PyTorch's `[out, in]` is transposed once at
 * import), `bias` is `[out]`. Computed as one rank-2 product.
 */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor | null): tf.Tensor {
  if (!(x instanceof tf.Tensor)) throw new Error(`linear: x must be a tf.Tensor, got ${describeValue(x)}`);
  if (!(weight instanceof tf.Tensor)) throw new Error(`linear: weight must be a tf.Tensor, got ${describeValue(weight)}`);
  if (bias != null && !(bias instanceof tf.Tensor)) throw new Error(`linear: bias must be a tf.Tensor or null, got ${describeValue(bias)}`);
  return tf.tidy(() => {
    const inDim = weight.shape[0]!;
    const outDim = weight.shape[1]!;
    if (x.shape[x.rank - 1] !== inDim) {
      throw new Error(`linear: input has ${x.shape[x.rank - 1]} features, weight expects ${inDim}`);
    }
    const flat = x.rank === 2 ? x : tf.reshape(x, [-1, inDim]);
    const y = bias ? linearWithBias(flat, weight, bias) : matMul(flat, weight);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}
