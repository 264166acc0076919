import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../utils/random.js';
import { checkInt, checkRatio, toRng, type RandomSource } from './common.js';
import { hostValues } from '../utils/host_values.js';

/** Options of {@link RandomMasker}. */
export interface RandomMaskerConfig {
  /**
   * Fraction of tokens removed, in [0, 1). Default 0.75: MAE's setting (its
   * ablation found 75% best for both fine-tuning and linear probing); FLIP
   * uses 0.5 or 0.75.
   */
  maskRatio?: number;
}

/**
 * The per-sample noise that drives {@link RandomMasker}: uniform values in
 * [0, 1), a tensor `[B, L]`, rows `number[][]`, or a flat row-major
 * `Float32Array` / array of `B * L` values. Only the ORDER of the values
 * matters (argsort). A tensor is read with `dataSync` (masking is data
 * preparation, outside the differentiated step) and is not disposed.
 */
export type MaskNoise = tf.Tensor | Float32Array | readonly number[] | readonly (readonly number[])[];

/** Where {@link RandomMasker} gets its noise: a seed, an Rng, or given noise. */
export type RandomMaskSource = RandomSource | { noise: MaskNoise };

/**
 * Plain-array result of {@link RandomMasker.maskArrays}; every array is
 * flattened row-major.
 */
export interface RandomMaskArrays {
  /** Number of samples `B`. */
  batchSize: number;
  /** Tokens per sample `L`. */
  numTokens: number;
  /** Kept tokens per sample: `floor(L * (1 - maskRatio))`. */
  lenKeep: number;
  /** `[B * L]` the noise used (drawn or given). */
  noise: Float32Array;
  /** `[B * L]` per-sample argsort of the noise, ascending, ties by index. */
  idsShuffle: Int32Array;
  /** `[B * L]` inverse of `idsShuffle`: `idsRestore[i]` is the rank of token `i`. */
  idsRestore: Int32Array;
  /** `[B * lenKeep]` the kept tokens, in ascending-noise order (not grid order). */
  idsKeep: Int32Array;
  /** `[B * L]` 0/1 in grid order: 1 = removed, 0 = kept. */
  mask: Float32Array;
}

/**
 * Tensor result of {@link RandomMasker.mask}. The tensors are NEW: the caller
 * owns and disposes them (`tf.dispose(result)` disposes all of them; a type
 * alias, not an interface, so that it is a `TensorContainer`).
 */
export type RandomMaskResult = {
  /** Kept tokens per sample: `floor(L * (1 - maskRatio))`. */
  lenKeep: number;
  /** int32 `[B, lenKeep]`: kept tokens in ascending-noise order (feed to `gatherTokens`). */
  idsKeep: tf.Tensor2D;
  /** int32 `[B, L]`: per-sample argsort of the noise. */
  idsShuffle: tf.Tensor2D;
  /** int32 `[B, L]`: inverse of `idsShuffle` (feed to `restoreTokens`). */
  idsRestore: tf.Tensor2D;
  /** float32 `[B, L]` in grid order: 1 = removed, 0 = kept. */
  mask: tf.Tensor2D;
};

/**
 * Per-sample random masking of MAE (He et al., "Masked Autoencoders Are
 * Scalable Vision Learners", CVPR 2022, `models_mae.py` `random_masking`),
 * also used by FLIP (Li et al., "Scaling Language-Image Pre-training via
 * Masking", CVPR 2023).
 *
 * For every sample, draw noise `[L]` uniform in [0, 1); keep the
 * `lenKeep = floor(L * (1 - maskRatio))` tokens with the smallest noise:
 * `idsShuffle = argsort(noise)` (ascending, stable: ties go to the lower
 * index), `idsRestore` its inverse, `idsKeep = idsShuffle[:lenKeep]` (in that
 * order), and `mask[i] = idsRestore[i] >= lenKeep` (1 = removed, 0 = kept).
 * This is exactly MAE's computation given the same noise; the argsort runs in
 * JavaScript on the host, so it is deterministic on every backend.
 *
 * Pure: the result depends only on the config, the shape and the random
 * source. Pass a seed for a reproducible mask, or one {@link utils.Rng | Rng} that the
 * training loop advances to get a fresh mask each step.
 *
 * @example
 * const masker = new RandomMasker({ maskRatio: 0.75 });
 * const m = masker.mask(batch, numPatches, rng);
 * const visible = gatherTokens(tokens, m.idsKeep);
 * // ... later restoreTokens(decoded, maskToken, m.idsRestore)
 * tf.dispose(m);
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { RandomMasker, Rng, gatherTokens } from 'mimkit';
 *
 * const masker = new RandomMasker({ maskRatio: 0.75 });
 * const tokens = tf.randomNormal([2, 16, 8]) as tf.Tensor3D; // [B, L, D]
 * const m = masker.mask(2, 16, new Rng(0)); // lenKeep 4
 * const visible = gatherTokens(tokens, m.idsKeep); // [2, 4, 8]
 * // m.mask [2, 16]: 1 = removed; m.idsRestore undoes the shuffle (restoreTokens)
 * ```
 */
export class RandomMasker {
  /** Name for configs and logs. */
  static readonly className = 'RandomMasker';
  /** Fraction of tokens removed. */
  readonly maskRatio: number;

  /** @param config see {@link RandomMaskerConfig}; validated here. */
  constructor(config: RandomMaskerConfig = {}) {
    this.maskRatio = checkRatio('RandomMasker', 'maskRatio', config.maskRatio ?? 0.75);
  }

  /** The full config (defaults filled in). */
  getConfig(): Required<RandomMaskerConfig> {
    return { maskRatio: this.maskRatio };
  }

  /**
   * Kept tokens for `numTokens` tokens: `floor(L * (1 - maskRatio))`,
   * evaluated in float64 exactly like MAE's `int(L * (1 - mask_ratio))`.
   * Throws if that keeps no token.
   */
  lenKeep(numTokens: number): number {
    checkInt('RandomMasker', 'numTokens', numTokens, 1);
    const lenKeep = Math.floor(numTokens * (1 - this.maskRatio));
    if (lenKeep < 1) {
      throw new Error(
        `RandomMasker: maskRatio ${this.maskRatio} keeps no token of numTokens ${numTokens}; expected floor(numTokens * (1 - maskRatio)) >= 1`,
      );
    }
    return lenKeep;
  }

  /**
   * Masks `batchSize` samples of `numTokens` tokens, returning plain arrays.
   *
   * @param source a seed, an {@link utils.Rng | Rng} (noise drawn row-major, `B * L`
   *   values), or `{ noise }` with `B * L` given values.
   */
  maskArrays(batchSize: number, numTokens: number, source: RandomMaskSource): RandomMaskArrays {
    checkInt('RandomMasker', 'batchSize', batchSize, 1);
    const lenKeep = this.lenKeep(numTokens);
    const noise = readNoise(source, batchSize, numTokens);
    const n = numTokens;
    const idsShuffle = new Int32Array(batchSize * n);
    const idsRestore = new Int32Array(batchSize * n);
    const idsKeep = new Int32Array(batchSize * lenKeep);
    const mask = new Float32Array(batchSize * n);
    const order = new Array<number>(n);
    for (let b = 0; b < batchSize; b++) {
      const off = b * n;
      for (let i = 0; i < n; i++) order[i] = i;
      // Array.prototype.sort is stable (ES2019): ties keep index order.
      order.sort((i, j) => noise[off + i]! - noise[off + j]!);
      for (let r = 0; r < n; r++) {
        const i = order[r]!;
        idsShuffle[off + r] = i;
        idsRestore[off + i] = r;
        if (r < lenKeep) idsKeep[b * lenKeep + r] = i;
        else mask[off + i] = 1;
      }
    }
    return { batchSize, numTokens, lenKeep, noise, idsShuffle, idsRestore, idsKeep, mask };
  }

  /**
   * Masks `batchSize` samples of `numTokens` tokens, returning new tensors
   * (the caller disposes them). Same arguments as {@link maskArrays}.
   */
  mask(batchSize: number, numTokens: number, source: RandomMaskSource): RandomMaskResult {
    const a = this.maskArrays(batchSize, numTokens, source);
    return {
      lenKeep: a.lenKeep,
      idsKeep: tf.tensor2d(a.idsKeep, [batchSize, a.lenKeep], 'int32'),
      idsShuffle: tf.tensor2d(a.idsShuffle, [batchSize, numTokens], 'int32'),
      idsRestore: tf.tensor2d(a.idsRestore, [batchSize, numTokens], 'int32'),
      mask: tf.tensor2d(a.mask, [batchSize, numTokens], 'float32'),
    };
  }
}

function readNoise(source: RandomMaskSource, batchSize: number, numTokens: number): Float32Array {
  const who = 'RandomMasker';
  const total = batchSize * numTokens;
  if (typeof source === 'number' || source instanceof Rng) {
    return toRng(who, source).uniformArray(total);
  }
  if (source === null || typeof source !== 'object' || !('noise' in source)) {
    throw new Error(`${who}: source must be a seed, an Rng or { noise }, got ${String(source)}`);
  }
  const given = source.noise;
  let flat: Float32Array;
  if (given instanceof tf.Tensor) {
    if (given.rank !== 2 || given.shape[0] !== batchSize || given.shape[1] !== numTokens) {
      throw new Error(
        `${who}: noise shape [${given.shape.join(', ')}] must be [batchSize, numTokens] = [${batchSize}, ${numTokens}]`,
      );
    }
    flat = Float32Array.from(hostValues(given));
  } else if (given instanceof Float32Array) {
    flat = Float32Array.from(given);
  } else if (Array.isArray(given) && given.length > 0 && Array.isArray(given[0])) {
    const rows = given as readonly (readonly number[])[];
    if (rows.length !== batchSize || rows.some((r) => !Array.isArray(r) || r.length !== numTokens)) {
      throw new Error(
        `${who}: noise rows must be ${batchSize} rows of ${numTokens} values, got ${rows.length} rows`,
      );
    }
    flat = Float32Array.from(rows.flat());
  } else if (Array.isArray(given)) {
    flat = Float32Array.from(given as readonly number[]);
  } else {
    throw new Error(`${who}: noise must be a tensor, Float32Array or number array, got ${String(given)}`);
  }
  if (flat.length !== total) {
    throw new Error(`${who}: noise has ${flat.length} values, expected batchSize * numTokens = ${total}`);
  }
  for (let i = 0; i < total; i++) {
    if (!Number.isFinite(flat[i]!)) {
      throw new Error(`${who}: noise must be finite, got ${flat[i]} at flat index ${i}`);
    }
  }
  return flat;
}
