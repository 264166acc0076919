/**
 * Per-sample token permutation: the gather that MAE's encoder uses to keep the
 * visible patches and the gather that its decoder uses to put mask tokens back
 * in grid order (He et al., "Masked Autoencoders Are Scalable Vision
 * Learners", 2021, `models_mae.py` `random_masking` / `forward_decoder`).
 *
 * Both ops carry their own gradient, written as a gather by the inverse index
 * map, so that backpropagation never needs a scatter kernel
 * (`UnsortedSegmentSum` is missing on the WASM backend). The inverse map is
 * built on the device with `topk` + `searchSorted` (no `dataSync` in the
 * training step). Every gather is a single flat gather on axis 0 (tfjs 4.22's
 * WASM gather with `batchDims` is wrong), and no broadcast copy or big
 * reduction is made (both are slow on the CPU backend): the sum over the
 * positions that share one mask token is a product with the 0/1 mask.
 *
 * Precondition shared by both ops: the ids of one sample are DISTINCT (a
 * permutation of a subset of `0 .. L-1`, which is what every masker of this
 * library produces). Repeated ids give a correct forward value but a gradient
 * that reaches only one of the repeated rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from './gradients.js';
import { matMul, sumRows } from './matmul.js';
import { hostValues } from '../utils/host_values.js';

function checkIds(fn: string, name: string, ids: tf.Tensor, batch: number): void {
  if (!(ids instanceof tf.Tensor)) {
    throw new Error(`${fn}: ${name} must be a tf.Tensor of int32 ids [B, K], got ${String(ids)}`);
  }
  if (ids.rank !== 2) {
    throw new Error(`${fn}: ${name} must have rank 2 [B, K], got shape [${ids.shape.join(', ')}]`);
  }
  if (ids.dtype !== 'int32') {
    throw new Error(`${fn}: ${name} must have dtype int32, got ${ids.dtype}`);
  }
  if (ids.shape[0] !== batch) {
    throw new Error(
      `${fn}: ${name} batch size ${ids.shape[0]} must equal the tokens' batch size ${batch}`,
    );
  }
}

/** Options of {@link gatherTokens} and {@link restoreTokens}. */
export interface TokenIndexOptions {
  /**
   * Check that every id is in range (`[0, L)` for {@link gatherTokens},
   * `[0, L)` for {@link restoreTokens}) before any tensor work. This READS
   * the ids back (`dataSync`, `B * K` int32 values): cheap on CPU/WASM, a
   * synchronisation on WebGL/WebGPU. Default `true`; pass `false` for ids
   * that a masker of this library made (MAE does), where an out-of-range id
   * cannot occur. Without the check an out-of-range id silently reads
   * another sample's token.
   */
  validate?: boolean;
}

/** Throws naming the first id outside `[0, limit)` (one data read). */
function checkIdRange(fn: string, name: string, ids: tf.Tensor, limit: number, validate: unknown): void {
  if (validate === false) return;
  if (validate !== undefined && validate !== true) {
    throw new Error(`${fn}: options.validate must be a boolean, got ${String(validate)}`);
  }
  const v = hostValues(ids);
  for (let i = 0; i < v.length; i++) {
    const id = v[i]!;
    if (id < 0 || id >= limit) {
      const k = ids.shape[1]!;
      throw new Error(`${fn}: ${name}[${Math.floor(i / k)}, ${i % k}] = ${id} is outside [0, ${limit})`);
    }
  }
}

/** Flat row offsets `b * rows` as an int32 `[B, 1]` column. */
function rowOffsets(batch: number, rows: number): tf.Tensor2D {
  return tf.reshape(tf.mul(tf.range(0, batch, 1, 'int32'), tf.scalar(rows, 'int32')), [batch, 1]);
}

/**
 * Rows `table[rows[i]]` of a table `[N, ...]` for int32 `rows` `[R]`: one
 * gather on axis 0. On WASM as `gatherND` with `[R, 1]` indices, which copies
 * each row as a block, where tfjs-wasm's `GatherV2` computes every element's
 * index (`[1089, 128]`, 4160 rows: 1.9 ms against 28 ms).
 */
function takeRows(table: tf.Tensor, rows: tf.Tensor): tf.Tensor {
  if (tf.getBackend() === 'wasm') return tf.gatherND(table, tf.reshape(rows, [rows.size, 1]));
  return tf.gather(table, rows, 0);
}

/**
 * `out[b, k] = x[b, ids[b, k]]` as ONE flat gather on axis 0 of `x` reshaped
 * to `[B * L, ...]`. `tf.gather(x, ids, 1, 1)` (batchDims = 1) would say the
 * same, but the WASM backend of tfjs 4.22 returns wrong values for it.
 */
function batchGather(x: tf.Tensor, ids: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const [batch, length] = x.shape as [number, number];
    const rest = x.shape.slice(2);
    const k = ids.shape[1];
    const flatIds = tf.reshape(tf.add(ids, rowOffsets(batch, length)), [batch * k]);
    const flatX = tf.reshape(x, [batch * length, ...rest]);
    return tf.reshape(takeRows(flatX, flatIds), [batch, k, ...rest]);
  });
}

/**
 * Per-row argsort of distinct int32 values `[B, N]`, ascending: for a
 * permutation `idsRestore` this is its inverse `idsShuffle`.
 */
function argsortDistinct(ids: tf.Tensor2D): { sorted: tf.Tensor2D; order: tf.Tensor2D } {
  const { values, indices } = tf.topk(tf.neg(tf.cast(ids, 'float32')), ids.shape[1], true);
  return { sorted: tf.neg(values) as tf.Tensor2D, order: indices as tf.Tensor2D };
}

/**
 * The gradient of `y[b, k] = x[b, ids[b, k]]` (`x` is `[B, L, ...]`) for
 * distinct ids: `dx[b, l] = dy[b, k]` where `ids[b, k] = l`, zero for the
 * positions not taken. One gather from the flat `dy` with one zero row
 * appended; the inverse map comes from a sort of each row of `ids` (topk) and
 * a binary search of every position (searchSorted): O(B L log K), no
 * scatter, no host sync.
 */
function gatherBackward(dy: tf.Tensor, ids: tf.Tensor2D, length: number): tf.Tensor {
  return tf.tidy(() => {
    const [batch, k] = ids.shape;
    const rest = dy.shape.slice(2);
    const { sorted, order } = argsortDistinct(ids);
    const positions = tf.tile(tf.reshape(tf.range(0, length, 1, 'float32'), [1, length]), [batch, 1]);
    const at = tf.searchSorted(sorted, positions, 'left') as tf.Tensor2D; // [B, L] in [0, K]
    // Pad with values no position equals, so that `at = K` reads as "absent".
    const paddedSorted = tf.concat([sorted, tf.fill([batch, 1], -1)], 1);
    const paddedOrder = tf.concat([order, tf.zeros([batch, 1], 'int32')], 1);
    const found = tf.equal(batchGather(paddedSorted, at), positions);
    const row = tf.add(batchGather(paddedOrder, at), rowOffsets(batch, k));
    const zeroRow = tf.fill([batch, length], batch * k, 'int32');
    const flatIdx = tf.reshape(tf.where(found, row, zeroRow), [batch * length]);
    const table = tf.concat([tf.reshape(dy, [batch * k, ...rest]), tf.zeros([1, ...rest], dy.dtype)], 0);
    return tf.reshape(takeRows(table, flatIdx), [batch, length, ...rest]);
  });
}

let gatherOp: ((x: tf.Tensor, ids: tf.Tensor) => tf.Tensor) | undefined;

function getGatherOp(): (x: tf.Tensor, ids: tf.Tensor) => tf.Tensor {
  if (gatherOp === undefined) {
    gatherOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor;
      const ids = args[1] as tf.Tensor2D;
      const save = args[2] as tf.GradSaveFunc;
      const length = x.shape[1]!;
      save([ids]);
      return {
        value: batchGather(x, ids),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const savedIds = saved[0] as tf.Tensor2D;
          return [gatherBackward(dy, savedIds, length), tf.zeros(savedIds.shape)];
        },
      };
    });
  }
  return gatherOp;
}

/**
 * Takes, for every sample, the tokens listed in `ids`, in that order:
 * `out[b, k] = x[b, ids[b, k]]` (PyTorch
 * `torch.gather(x, 1, ids.unsqueeze(-1).repeat(1, 1, D))`, MAE's
 * `random_masking`).
 *
 * @param x tokens `[B, L, ...]` (usually `[B, L, D]`), float32.
 * @param ids int32 `[B, K]`, distinct values in `[0, L)` per row (for
 *   example `RandomMasker`'s `idsKeep`).
 * @param options `validate` (default true) reads the ids back to refuse an
 *   id outside `[0, L)`, see {@link TokenIndexOptions}.
 * @returns a new tensor `[B, K, ...]`. Its gradient with respect to `x` is a
 *   gather of the upstream gradient by the inverse index map, zero at the
 *   positions not taken (no scatter kernel, so it runs on every backend).
 */
export function gatherTokens<T extends tf.Tensor>(x: T, ids: tf.Tensor2D, options: TokenIndexOptions = {}): T {
  ensureGradients();
  if (!(x instanceof tf.Tensor)) {
    throw new Error(`gatherTokens: x must be a tf.Tensor [B, L, ...], got ${String(x)}`);
  }
  if (x.rank < 2) {
    throw new Error(`gatherTokens: x must have rank >= 2 [B, L, ...], got shape [${x.shape.join(', ')}]`);
  }
  checkIds('gatherTokens', 'ids', ids, x.shape[0]!);
  checkIdRange('gatherTokens', 'ids', ids, x.shape[1]!, options.validate);
  return getGatherOp()(x, ids) as T;
}

let restoreOp: ((visible: tf.Tensor, maskTokens: tf.Tensor, ids: tf.Tensor) => tf.Tensor) | undefined;

function getRestoreOp(): (visible: tf.Tensor, maskTokens: tf.Tensor, ids: tf.Tensor) => tf.Tensor {
  if (restoreOp === undefined) {
    restoreOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const visible = args[0] as tf.Tensor3D;
      const maskTokens = args[1] as tf.Tensor3D;
      const idsRestore = args[2] as tf.Tensor2D;
      const save = args[3] as tf.GradSaveFunc;
      const [batch, kept, dim] = visible.shape;
      const length = idsRestore.shape[1];
      const removed = length - kept;
      const [mb, mn] = maskTokens.shape;
      save([idsRestore]);
      // One gather from the table [visible rows (B*K); mask rows (mb*mn)]:
      // grid i of sample b reads row b*K + r if r = idsRestore[b, i] < K,
      // else mask row (b if mb = B) * mn + (r - K if mn = L - K).
      // No broadcast copy of the mask token is ever made.
      const value = tf.tidy(() => {
        const r = idsRestore;
        const visRow = tf.add(r, rowOffsets(batch, kept));
        let maskRow: tf.Tensor = tf.scalar(batch * kept, 'int32');
        if (mb !== 1) maskRow = tf.add(maskRow, rowOffsets(batch, mn));
        if (mn !== 1) maskRow = tf.add(maskRow, tf.sub(r, tf.scalar(kept, 'int32')));
        const rows = tf.where(tf.less(r, tf.scalar(kept, 'int32')), visRow, tf.broadcastTo(maskRow, [batch, length]));
        const table = tf.concat([tf.reshape(visible, [batch * kept, dim]), tf.reshape(maskTokens, [mb * mn, dim])], 0);
        return tf.reshape(takeRows(table, tf.reshape(rows, [batch * length])), [batch, length, dim]);
      });
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const ids = saved[0] as tf.Tensor2D;
          const dyFlat = tf.reshape(dy, [batch * length, dim]);
          // idsShuffle (inverse of idsRestore) as flat rows of dy.
          const shuffleRows = tf.add(argsortDistinct(ids).order, rowOffsets(batch, length));
          const take = (from: number, count: number) =>
            tf.reshape(
              takeRows(dyFlat, tf.reshape(tf.slice(shuffleRows, [0, from], [batch, count]), [batch * count])),
              [batch, count, dim],
            );
          const dVisible = take(0, kept);
          let dMask: tf.Tensor;
          if (removed === 0) {
            dMask = tf.zeros([mb, mn, dim]);
          } else if (mn === 1) {
            // sum of dy over masked positions: the 0/1 mask times dy, summed over rows
            const isMask = tf.cast(tf.greaterEqual(ids, tf.scalar(kept, 'int32')), 'float32');
            dMask =
              mb === 1
                ? tf.reshape(sumRows(tf.mul(dyFlat, tf.reshape(isMask, [batch * length, 1]))), [1, 1, dim])
                : matMul(tf.reshape(isMask, [batch, 1, length]), dy);
          } else {
            dMask = take(kept, removed);
            if (mb === 1) {
              dMask = tf.reshape(
                matMul(tf.ones([1, batch]), tf.reshape(dMask, [batch, removed * dim])),
                [1, removed, dim],
              );
            }
          }
          return [dVisible, dMask, tf.zeros(ids.shape)];
        },
      };
    });
  }
  return restoreOp;
}

/**
 * Puts visible tokens and mask tokens back in grid order (MAE's decoder:
 * `torch.gather(cat([x, mask_tokens], 1), 1, ids_restore)`): with
 * `full = concat(visible, mask tokens repeated to L - K rows)`,
 * `out[b, i] = full[b, idsRestore[b, i]]`.
 *
 * @param visible `[B, K, D]` the visible tokens in `idsKeep` order.
 * @param maskTokens the filler: `[1, 1, D]` (one learned token, broadcast),
 *   `[B, 1, D]`, `[1, L-K, D]` or `[B, L-K, D]`. Ignored (but still
 *   shape-checked) when `K = L`.
 * @param idsRestore int32 `[B, L]`, a permutation of `0 .. L-1` per row
 *   (`RandomMasker`'s `idsRestore`).
 * @returns a new tensor `[B, L, D]`. Gradients flow to `visible` and to
 *   `maskTokens` (summed over the broadcast axes) as gathers; no scatter.
 */
export function restoreTokens(
  visible: tf.Tensor3D,
  maskTokens: tf.Tensor3D,
  idsRestore: tf.Tensor2D,
  options: TokenIndexOptions = {},
): tf.Tensor3D {
  ensureGradients();
  if (!(visible instanceof tf.Tensor) || visible.rank !== 3) {
    throw new Error(
      `restoreTokens: visible must be a rank-3 tf.Tensor [B, K, D], got ${
        visible instanceof tf.Tensor ? `shape [${visible.shape.join(', ')}]` : String(visible)
      }`,
    );
  }
  const [batch, kept, dim] = visible.shape;
  checkIds('restoreTokens', 'idsRestore', idsRestore, batch);
  const length = idsRestore.shape[1];
  if (length < kept) {
    throw new Error(
      `restoreTokens: idsRestore length ${length} must be >= the number of visible tokens ${kept}`,
    );
  }
  const removed = length - kept;
  if (!(maskTokens instanceof tf.Tensor) || maskTokens.rank !== 3) {
    throw new Error(
      `restoreTokens: maskTokens must be a rank-3 tf.Tensor [1|B, 1|L-K, D], got ${
        maskTokens instanceof tf.Tensor ? `shape [${maskTokens.shape.join(', ')}]` : String(maskTokens)
      }`,
    );
  }
  const [mb, mn, md] = maskTokens.shape;
  if ((mb !== 1 && mb !== batch) || (mn !== 1 && mn !== removed) || md !== dim) {
    throw new Error(
      `restoreTokens: maskTokens shape [${maskTokens.shape.join(', ')}] must be [1|${batch}, 1|${removed}, ${dim}]`,
    );
  }
  if (visible.dtype !== 'float32' || maskTokens.dtype !== 'float32') {
    throw new Error(
      `restoreTokens: visible and maskTokens must be float32, got ${visible.dtype} and ${maskTokens.dtype}`,
    );
  }
  checkIdRange('restoreTokens', 'idsRestore', idsRestore, length, options.validate);
  return getRestoreOp()(visible, maskTokens, idsRestore) as tf.Tensor3D;
}
