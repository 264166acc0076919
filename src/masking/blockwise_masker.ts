import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../utils/random.js';
import {
  checkInt,
  indexArraysToTensors,
  maskToIndexArrays,
  toRng,
  type MaskIndexArrays,
  type MaskIndexTensors,
  type RandomSource,
} from './common.js';

/** Options of {@link BlockwiseMasker}. */
export interface BlockwiseMaskerConfig {
  /** Patch-grid height `h` (224 px / patch 16 = 14 in BEiT). Required; at least 2. */
  height: number;
  /** Patch-grid width `w`. Default: `height` (square grid). At least 2. */
  width?: number;
  /**
   * Target number of masked patches per sample. Default
   * `Math.round(0.4 * h * w)`: BEiT masks about 40% of the patches (75 of
   * 196 in its released recipe; 78 with this default).
   */
  numMaskingPatches?: number;
  /**
   * Smallest block area drawn. Default 16: BEiT's pretraining recipe
   * (`--min_mask_patches_per_block 16`); the paper's "16+ patches per block".
   * Must not exceed `maxNumPatches`.
   */
  minNumPatches?: number;
  /** Largest block area drawn. Default: `numMaskingPatches` (BEiT's default). */
  maxNumPatches?: number;
  /** Smallest block aspect ratio (height / width). Default 0.3 (BEiT). */
  minAspect?: number;
  /** Largest block aspect ratio. Default `1 / minAspect` (BEiT). */
  maxAspect?: number;
  /**
   * How many block steps in a row (each BEiT's `_mask`: up to 10 attempts)
   * may add nothing before a sample is given up below its target. BEiT's code
   * gives up after the first such step (`patience: 1`, which reproduces it
   * exactly, including samples that end a few patches short: about a third
   * of the samples on a 14 x 14 grid with 75 patches). Default 100: keeps
   * drawing BEiT blocks until the target is reached, so every block is still
   * one of BEiT's rectangles and the count equals the target whenever such
   * blocks can reach it.
   */
  patience?: number;
}

/**
 * Plain-array result of {@link BlockwiseMasker.maskArrays}.
 */
export interface BlockwiseMaskArrays {
  /** Number of samples `B`. */
  batchSize: number;
  /** Grid height. */
  height: number;
  /** Grid width. */
  width: number;
  /** `[B * h * w]` row-major 0/1: 1 = masked, 0 = visible. */
  mask: Uint8Array;
  /** Masked patches of each sample (may differ between samples). */
  counts: number[];
  /** Per sample, the masked grid positions `r * w + c`, ascending. */
  maskedIndices: number[][];
}

/**
 * Tensor result of {@link BlockwiseMasker.mask}. `mask` is a NEW tensor the
 * caller disposes (`tf.dispose(result)`).
 */
export type BlockwiseMaskResult = {
  /** float32 `[B, h * w]` 0/1 (1 = masked), row-major grid order. */
  mask: tf.Tensor2D;
  /** Masked patches of each sample (may differ between samples). */
  counts: number[];
  /** Per sample, the masked grid positions, ascending. */
  maskedIndices: number[][];
};

/** Python 3 `round()`: half to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Block-wise masking of BEiT (Bao et al., "BEiT: BERT Pre-Training of Image
 * Transformers", ICLR 2022; `beit/masking_generator.py` `MaskingGenerator`),
 * also BEiT-3's image masking.
 *
 * Per sample, repeatedly masks a random rectangle until
 * `numMaskingPatches` patches are masked. Each block: up to 10 attempts of
 * area `uniform(minNumPatches, maxMask)` (where
 * `maxMask = min(numMaskingPatches - masked, maxNumPatches)`), aspect ratio
 * `exp(uniform(log minAspect, log maxAspect))`,
 * `bh = round(sqrt(area * aspect))`, `bw = round(sqrt(area / aspect))`
 * (Python's half-to-even `round`), accepted only if `bw < w` and `bh < h`;
 * top-left uniform; the block is applied only if it adds between 1 and
 * `maxMask` new patches. This is BEiT's code step for step, with our
 * {@link utils.Rng | Rng} in place of Python's `random` (so the masks are not the same
 * draws as BEiT's, but the same distribution).
 *
 * Count: the loop never exceeds the target. BEiT's code stops as soon as one
 * block step (10 attempts) adds nothing, so about a third of its samples on a
 * 14 x 14 grid with 75 patches end a few patches short, and counts differ
 * between samples (its `beit_mim` inputs have per-sample counts). Here a
 * sample is given up only after `patience` such steps in a row (default 100;
 * `patience: 1` is BEiT exactly): more of BEiT's own blocks are drawn, so the
 * count equals the target whenever BEiT's blocks can reach it (on 14 x 14 /
 * 75 / min 16 and 4 x 4 / 6 / min 2, for every seed tested). A sample that
 * still falls short keeps its smaller count; `counts` reports it.
 *
 * @example
 * ```ts
 * import { BlockwiseMasker, Rng } from 'mimkit';
 *
 * const masker = new BlockwiseMasker({ height: 14, numMaskingPatches: 75 }); // BEiT at 224 px / 16
 * const { mask, counts } = masker.mask(4, new Rng(0)); // mask [4, 196], 1 = masked; counts[i] = 75
 * ```
 */
export class BlockwiseMasker {
  /** Name for configs and logs. */
  static readonly className = 'BlockwiseMasker';
  /** Grid height. */
  readonly height: number;
  /** Grid width. */
  readonly width: number;
  /** Target masked patches per sample. */
  readonly numMaskingPatches: number;
  /** Smallest block area. */
  readonly minNumPatches: number;
  /** Largest block area. */
  readonly maxNumPatches: number;
  /** Smallest aspect ratio. */
  readonly minAspect: number;
  /** Largest aspect ratio. */
  readonly maxAspect: number;
  /** Consecutive empty block steps before a sample is given up. */
  readonly patience: number;
  private readonly logAspect: [number, number];

  /** @param config see {@link BlockwiseMaskerConfig}; validated here. */
  constructor(config: BlockwiseMaskerConfig) {
    const who = 'BlockwiseMasker';
    if (config === null || typeof config !== 'object') {
      throw new Error(`${who}: config must be an object with at least { height }, got ${String(config)}`);
    }
    this.height = checkInt(who, 'height', config.height, 2);
    this.width = checkInt(who, 'width', config.width ?? config.height, 2);
    const total = this.height * this.width;
    this.numMaskingPatches = checkInt(
      who,
      'numMaskingPatches',
      config.numMaskingPatches ?? Math.round(0.4 * total),
      0,
    );
    if (this.numMaskingPatches > total) {
      throw new Error(
        `${who}: numMaskingPatches ${this.numMaskingPatches} must be <= the grid's ${total} patches`,
      );
    }
    this.minNumPatches = checkInt(who, 'minNumPatches', config.minNumPatches ?? 16, 1);
    this.maxNumPatches = checkInt(who, 'maxNumPatches', config.maxNumPatches ?? this.numMaskingPatches, 1);
    if (this.minNumPatches > this.maxNumPatches) {
      throw new Error(
        `${who}: minNumPatches ${this.minNumPatches} must be <= maxNumPatches ${this.maxNumPatches} (which defaults to numMaskingPatches); lower minNumPatches for a small grid`,
      );
    }
    const minAspect = config.minAspect ?? 0.3;
    if (typeof minAspect !== 'number' || !Number.isFinite(minAspect) || minAspect <= 0) {
      throw new Error(`${who}: minAspect must be a positive number, got ${String(minAspect)}`);
    }
    const maxAspect = config.maxAspect ?? 1 / minAspect;
    if (typeof maxAspect !== 'number' || !Number.isFinite(maxAspect) || maxAspect < minAspect) {
      throw new Error(`${who}: maxAspect must be a number >= minAspect ${minAspect}, got ${String(maxAspect)}`);
    }
    this.minAspect = minAspect;
    this.maxAspect = maxAspect;
    this.logAspect = [Math.log(minAspect), Math.log(maxAspect)];
    this.patience = checkInt(who, 'patience', config.patience ?? 100, 1);
  }

  /** The full config (defaults filled in). */
  getConfig(): Required<BlockwiseMaskerConfig> {
    return {
      height: this.height,
      width: this.width,
      numMaskingPatches: this.numMaskingPatches,
      minNumPatches: this.minNumPatches,
      maxNumPatches: this.maxNumPatches,
      minAspect: this.minAspect,
      maxAspect: this.maxAspect,
      patience: this.patience,
    };
  }

  /**
   * One block step, BEiT's `_mask`: up to 10 attempts at a random rectangle;
   * the first that would add between 1 and `maxMaskPatches` new patches is
   * applied to `mask` (`[h * w]`, row-major, modified in place).
   *
   * @returns the number of patches newly masked (0 if every attempt failed).
   */
  addBlock(mask: Uint8Array, maxMaskPatches: number, rng: Rng): number {
    const n = this.height * this.width;
    if (!(mask instanceof Uint8Array) || mask.length !== n) {
      throw new Error(
        `BlockwiseMasker: mask must be a Uint8Array of h * w = ${n} values, got ${
          mask instanceof Uint8Array ? `length ${mask.length}` : String(mask)
        }`,
      );
    }
    checkInt('BlockwiseMasker', 'maxMaskPatches', maxMaskPatches, 1);
    return this.maskBlock(mask, maxMaskPatches, rng);
  }

  private maskBlock(mask: Uint8Array, maxMaskPatches: number, rng: Rng): number {
    const { height, width } = this;
    let delta = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      const targetArea = rng.uniformRange(this.minNumPatches, maxMaskPatches);
      const aspect = Math.exp(rng.uniformRange(this.logAspect[0], this.logAspect[1]));
      const h = roundHalfEven(Math.sqrt(targetArea * aspect));
      const w = roundHalfEven(Math.sqrt(targetArea / aspect));
      if (w < width && h < height) {
        const top = rng.randint(0, height - h);
        const left = rng.randint(0, width - w);
        let numMasked = 0;
        for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) numMasked += mask[i * width + j]!;
        const added = h * w - numMasked;
        if (added > 0 && added <= maxMaskPatches) {
          for (let i = top; i < top + h; i++) {
            for (let j = left; j < left + w; j++) {
              if (mask[i * width + j] === 0) {
                mask[i * width + j] = 1;
                delta++;
              }
            }
          }
        }
        if (delta > 0) break;
      }
    }
    return delta;
  }

  /**
   * One sample's mask `[h * w]` (row-major, 1 = masked), drawn from `rng`.
   * BEiT's `__call__` (with `patience` empty steps allowed instead of one).
   */
  maskOne(rng: Rng): Uint8Array {
    const mask = new Uint8Array(this.height * this.width);
    let count = 0;
    let stalled = 0;
    while (count < this.numMaskingPatches) {
      const maxMask = Math.min(this.numMaskingPatches - count, this.maxNumPatches);
      const delta = this.maskBlock(mask, maxMask, rng);
      if (delta === 0) {
        stalled++;
        if (stalled >= this.patience) break;
      } else {
        stalled = 0;
        count += delta;
      }
    }
    return mask;
  }

  /**
   * Masks `batchSize` samples (drawn one after the other from the random
   * source), returning plain arrays.
   */
  maskArrays(batchSize: number, random: RandomSource): BlockwiseMaskArrays {
    checkInt('BlockwiseMasker', 'batchSize', batchSize, 1);
    const rng = toRng('BlockwiseMasker', random);
    const n = this.height * this.width;
    const mask = new Uint8Array(batchSize * n);
    const counts: number[] = [];
    const maskedIndices: number[][] = [];
    for (let b = 0; b < batchSize; b++) {
      const one = this.maskOne(rng);
      mask.set(one, b * n);
      const idx: number[] = [];
      for (let i = 0; i < n; i++) if (one[i] === 1) idx.push(i);
      counts.push(idx.length);
      maskedIndices.push(idx);
    }
    return { batchSize, height: this.height, width: this.width, mask, counts, maskedIndices };
  }

  /**
   * Masks `batchSize` samples, returning a new float32 `[B, h * w]` mask
   * tensor (the caller disposes it; cast to bool for BEiT's
   * `bool_masked_pos`) with the per-sample counts and positions.
   */
  mask(batchSize: number, random: RandomSource): BlockwiseMaskResult {
    const a = this.maskArrays(batchSize, random);
    return {
      mask: tf.tensor2d(Float32Array.from(a.mask), [batchSize, this.height * this.width], 'float32'),
      counts: a.counts,
      maskedIndices: a.maskedIndices,
    };
  }

  /**
   * Index form (visible tokens first) of a blockwise mask, for encoders that
   * drop masked tokens. Only defined when every sample has the same count
   * (throws otherwise, naming the counts); with `asTensors` the ids come as
   * new int32 tensors.
   */
  static indexForm(result: BlockwiseMaskArrays): MaskIndexArrays;
  /** Index form as new int32 tensors (the caller disposes them). */
  static indexForm(result: BlockwiseMaskArrays, asTensors: true): MaskIndexTensors;
  static indexForm(result: BlockwiseMaskArrays, asTensors = false): MaskIndexArrays | MaskIndexTensors {
    const a = maskToIndexArrays(result.mask, result.batchSize, result.height * result.width);
    return asTensors ? indexArraysToTensors(a) : a;
  }
}
