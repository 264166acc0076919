import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Module, type Weight } from './module.js';
import { toPair } from './patch_embed.js';
import { CONFIG_LIMITS, checkSize2d, requireConfig, requireInt } from '../utils/config.js';

/**
 * Number of rows of a BEiT relative position table for a `[rows, cols]`
 * window: `(2 rows - 1)(2 cols - 1)` patch-to-patch offsets plus 3 entries
 * for the class token (class-to-patch, patch-to-class, class-to-class).
 */
export function numRelativeDistance(windowSize: readonly [number, number]): number {
  if (!Array.isArray(windowSize) || windowSize.length !== 2 || !windowSize.every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`numRelativeDistance: windowSize must be [rows, cols] of positive integers, got ${JSON.stringify(windowSize)}`);
  }
  return (2 * windowSize[0] - 1) * (2 * windowSize[1] - 1) + 3;
}

/**
 * BEiT's `relative_position_index` buffer (unilm `beit/modeling_finetune.py`
 * `RelativePositionBias`, identical in SimMIM's `models/vision_transformer.py`),
 * computed as upstream does: with `Wh x Ww = windowSize` and patch `n` at row
 * `n // Ww`, column `n % Ww`, the entry of query token `1 + i` and key token
 * `1 + j` is `(ri - rj + Wh - 1) * (2 Ww - 1) + (ci - cj + Ww - 1)`; row 0
 * (the class token as query) is `R - 3`, column 0 (the class token as key) is
 * `R - 2` and entry `[0, 0]` is `R - 1`, `R = (2 Wh - 1)(2 Ww - 1) + 3`.
 *
 * @param windowSize the patch grid `[Wh, Ww]` (rows, columns).
 * @returns `T * T` row-major indices, `T = Wh * Ww + 1`, each in `[0, R)`.
 */
export function relativePositionIndex(windowSize: readonly [number, number]): Int32Array {
  const [wh, ww] = toPair('windowSize', 'relativePositionIndex', [windowSize[0], windowSize[1]]);
  const n = wh * ww;
  const t = n + 1;
  const r = numRelativeDistance([wh, ww]);
  const out = new Int32Array(t * t);
  for (let i = 0; i < n; i++) {
    const ri = Math.floor(i / ww);
    const ci = i % ww;
    for (let j = 0; j < n; j++) {
      const rj = Math.floor(j / ww);
      const cj = j % ww;
      out[(i + 1) * t + (j + 1)] = (ri - rj + wh - 1) * (2 * ww - 1) + (ci - cj + ww - 1);
    }
  }
  // Upstream's order of assignment: row 0, then column 0, then [0, 0].
  for (let j = 0; j < t; j++) out[j] = r - 3;
  for (let i = 0; i < t; i++) out[i * t] = r - 2;
  out[0] = r - 1;
  return out;
}

/**
 * The bias that a relative position table adds to the attention logits:
 * `table[index]` laid out as `[heads, T, T]` (BEiT's
 * `relative_position_bias_table[relative_position_index.view(-1)]`, viewed
 * `[T, T, heads]` and permuted). A single gather on axis 0 with flat
 * indices, whose gradient (a scatter-add into the table) the library
 * registers for every backend, WASM included.
 *
 * @param table `[R, heads]`, `R = numRelativeDistance(windowSize)`.
 * @param index `T * T` indices from {@link relativePositionIndex}.
 * @returns `[heads, T, T]`.
 */
export function gatherRelativePositionBias(table: tf.Tensor, index: Int32Array): tf.Tensor3D {
  const t = Math.round(Math.sqrt(index.length));
  if (t * t !== index.length) {
    throw new Error(`gatherRelativePositionBias: index must hold T * T entries, got ${index.length}`);
  }
  if (table.rank !== 2) {
    throw new Error(`gatherRelativePositionBias: table must be [R, heads], got shape [${table.shape}]`);
  }
  const heads = table.shape[1]!;
  return tf.tidy(() => {
    const rows = tf.gather(table, tf.tensor1d(index, 'int32'), 0); // [T*T, heads]
    return tf.transpose(tf.reshape(rows, [t, t, heads]), [2, 0, 1]) as tf.Tensor3D;
  });
}

/** Config of {@link RelativePositionBias}. */
export interface RelativePositionBiasConfig {
  /**
   * The patch grid `[rows, cols]` (BEiT's `window_size`, the patch
   * embedding's `patch_shape`); a number for a square grid.
   */
  windowSize: number | [number, number];
  /** Attention heads: one bias per head. */
  numHeads: number;
  /** Seed (unused: the table starts at zero as upstream; kept for uniformity). Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/**
 * BEiT's relative position bias (Bao et al. 2021, section 2.6, after Shaw et
 * al. 2018 and Raffel et al. 2020; unilm `beit/modeling_finetune.py`
 * `RelativePositionBias`): a learned bias per head for every 2-D offset
 * between two patches, plus three learned entries for the class token
 * (class-to-patch, patch-to-class, class-to-class), added to the attention
 * logits before the softmax. As a module it is BEiT's SHARED bias
 * (`use_shared_rel_pos_bias`, the released BEiT and SimMIM pretraining),
 * computed once per forward pass and added in every block; the per-block form
 * (`use_rel_pos_bias`, fine-tuning) is `Attention`'s `relPosBias` option.
 *
 * Weight: `relative_position_bias_table` `[(2 rows - 1)(2 cols - 1) + 3, heads]`,
 * zeros at first (upstream leaves it at `torch.zeros`). The buffer
 * `relative_position_index` `[T, T]`, `T = rows * cols + 1`, is no weight
 * here: it is {@link RelativePositionBias.index}, a constant of the grid
 * (see `loadMimWeights`, which checks a checkpoint's copy against it).
 *
 * Shapes: `forward()` -> `[heads, T, T]`, for tokens `[class, patches in
 * row-major grid order]`.
 */
export class RelativePositionBias extends Module {
  static readonly className = 'MimkitRelativePositionBias';
  /** Resolved config. */
  readonly config: { windowSize: [number, number]; numHeads: number; seed: number };
  /** Tokens `T = rows * cols + 1` (the class token first). */
  readonly numTokens: number;
  /** Table rows `R = (2 rows - 1)(2 cols - 1) + 3`. */
  readonly numRelativeDistance: number;
  /** `relative_position_bias_table` `[R, heads]`. */
  readonly table: Weight;
  /** `relative_position_index`, `T * T` row-major (see {@link relativePositionIndex}). */
  readonly index: Int32Array;

  constructor(config: RelativePositionBiasConfig) {
    requireConfig('RelativePositionBias', config);
    checkSize2d('RelativePositionBias', 'windowSize', config.windowSize, 1024);
    requireInt('RelativePositionBias', 'numHeads', config.numHeads, { min: 1, max: CONFIG_LIMITS.maxHeads });
    super({ name: config.name, seed: config.seed });
    const windowSize = toPair('windowSize', 'RelativePositionBias', config.windowSize);
    if (!Number.isInteger(config.numHeads) || config.numHeads <= 0) {
      throw new Error(`RelativePositionBias: numHeads must be a positive integer, got ${config.numHeads}`);
    }
    this.config = { windowSize, numHeads: config.numHeads, seed: config.seed ?? 0 };
    this.numTokens = windowSize[0] * windowSize[1] + 1;
    this.numRelativeDistance = numRelativeDistance(windowSize);
    this.index = relativePositionIndex(windowSize);
    this.table = this.addParam('relative_position_bias_table', [this.numRelativeDistance, config.numHeads], { kind: 'zeros' });
  }

  /** The bias `[heads, T, T]` to add to the attention logits of every block. */
  forward(): tf.Tensor3D {
    return gatherRelativePositionBias(this.table.read(), this.index);
  }

  /** Ignores its inputs (the bias depends on the grid only) and returns {@link RelativePositionBias.forward}. */
  override call(_inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward();
  }

  override computeOutputShape(_shape: (number | null)[]): (number | null)[] {
    return [this.config.numHeads, this.numTokens, this.numTokens];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(RelativePositionBias);
